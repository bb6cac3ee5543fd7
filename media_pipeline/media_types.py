"""Decide what a file is from its first bytes, never from its name."""
from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 4096  # enough for every signature below, including an MP4 'ftyp' box


@dataclass(frozen=True)
class MediaKind:
    media_type: str  # audio | video | document | image | unknown
    format: str  # wav, mp3, flac, ogg, mp4, m4a, webm, mkv, pdf, png, jpeg, tiff, ... or a reason


# ISO base media brands that mean audio-only; any other ftyp is treated as video and probed.
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def _riff(head: bytes) -> MediaKind | None:
    if head[:4] != b"RIFF":
        return None
    return {b"WAVE": MediaKind("audio", "wav"), b"AVI ": MediaKind("video", "avi")}.get(head[8:12])


def _ogg(head: bytes) -> MediaKind | None:
    if head[:4] != b"OggS":
        return None
    return MediaKind("video", "ogg") if b"theora" in head[:HEAD_BYTES] else MediaKind("audio", "ogg")


def _mp3(head: bytes) -> MediaKind | None:
    frame_sync = len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06
    return MediaKind("audio", "mp3") if head[:3] == b"ID3" or frame_sync else None


def _iso_media(head: bytes) -> MediaKind | None:
    """MP4, MOV, M4A and HEIF share the ISO base media format: the 'ftyp' box's brand tells them apart."""
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in _AUDIO_BRANDS:
        return MediaKind("audio", "m4a")
    if brand == b"qt  ":
        return MediaKind("video", "mov")
    if brand[:3] in (b"hei", b"mif", b"avi") or brand in (b"heic", b"heix", b"mif1", b"avif"):
        return MediaKind("unknown", "heif")
    return MediaKind("video", "mp4")


def _matroska(head: bytes) -> MediaKind | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    return MediaKind("video", "webm" if b"webm" in head[:64] else "mkv")


# Containers whose kind needs more than a prefix, in the order they are tried; then plain signatures.
_SNIFFERS = (_riff, _ogg, _mp3, _iso_media, _matroska)
_SIGNATURES: tuple[tuple[bytes, MediaKind], ...] = (
    (b"fLaC", MediaKind("audio", "flac")),
    (b"#!AMR\n", MediaKind("audio", "amr")),
    (b"#!AMR-WB\n", MediaKind("audio", "amr")),
    (b"%PDF-", MediaKind("document", "pdf")),
    (b"\x89PNG\r\n\x1a\n", MediaKind("image", "png")),
    (b"\xff\xd8\xff", MediaKind("image", "jpeg")),
    (b"II*\x00", MediaKind("image", "tiff")),
    (b"MM\x00*", MediaKind("image", "tiff")),
    (b"MZ", MediaKind("unknown", "executable")),
    (b"\x7fELF", MediaKind("unknown", "executable")),
    (b"\xcf\xfa\xed\xfe", MediaKind("unknown", "executable")),
    (b"\xfe\xed\xfa\xcf", MediaKind("unknown", "executable")),
    (b"PK\x03\x04", MediaKind("unknown", "zip")),
)


def sniff(head: bytes) -> MediaKind:
    if not head:
        return MediaKind("unknown", "empty")
    for sniffer in _SNIFFERS:
        kind = sniffer(head)
        if kind is not None:
            return kind
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return MediaKind("unknown", "unrecognized")
