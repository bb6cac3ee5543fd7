"""Decide what a file is from its first bytes, never from its name."""
from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 4096  # enough for every signature below, including an MP4 'ftyp' box


@dataclass(frozen=True)
class MediaKind:
    media_type: str  # audio | video | document | image | unknown
    format: str  # wav, mp3, flac, ogg, mp4, m4a, webm, mkv, pdf, png, jpeg, tiff, webp, gif, bmp, heic, avif, ... or a reason


# ISO base media brands that mean audio-only; any other ftyp is treated as video and probed.
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def _riff(head: bytes) -> MediaKind | None:
    if head[:4] != b"RIFF":
        return None
    return {b"WAVE": MediaKind("audio", "wav"), b"AVI ": MediaKind("video", "avi"),
            b"WEBP": MediaKind("image", "webp")}.get(head[8:12])


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
    if brand in (b"avif", b"avis"):
        return MediaKind("image", "avif")
    if brand[:3] in (b"hei", b"hev", b"mif", b"msf"):
        # HEIF's generic brands carry the codec in the compatible brands: AV1 pictures are AVIF.
        size = int.from_bytes(head[:4], "big")
        compatible = head[16:min(size, len(head))]
        return MediaKind("image", "avif" if b"avif" in compatible else "heic")
    return MediaKind("video", "mp4")


def _matroska(head: bytes) -> MediaKind | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    return MediaKind("video", "webm" if b"webm" in head[:64] else "mkv")


def _bmp(head: bytes) -> MediaKind | None:
    """'BM', then the file size, two reserved zero words, and a known DIB header size (two letters alone are text)."""
    if len(head) < 18 or head[:2] != b"BM" or head[6:10] != b"\0\0\0\0":
        return None
    return MediaKind("image", "bmp") if int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124) else None


# Containers whose kind needs more than a prefix, in the order they are tried; then plain signatures.
_SNIFFERS = (_riff, _ogg, _mp3, _iso_media, _matroska, _bmp)
_SIGNATURES: tuple[tuple[bytes, MediaKind], ...] = (
    (b"fLaC", MediaKind("audio", "flac")),
    (b"#!AMR\n", MediaKind("audio", "amr")),
    (b"#!AMR-WB\n", MediaKind("audio", "amr")),
    (b"%PDF-", MediaKind("document", "pdf")),
    (b"\x89PNG\r\n\x1a\n", MediaKind("image", "png")),
    (b"\xff\xd8\xff", MediaKind("image", "jpeg")),
    (b"II*\x00", MediaKind("image", "tiff")),
    (b"MM\x00*", MediaKind("image", "tiff")),
    (b"GIF87a", MediaKind("image", "gif")),
    (b"GIF89a", MediaKind("image", "gif")),
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


def rejection(size: int, head: bytes | None, limit: int) -> tuple[str, str] | None:
    """(reason code, message) for an object ingest refuses at once, before any step runs; None if it is taken.
    The backfill judges an object the same way before it sends it (without its first bytes: size only)."""
    if size == 0:
        return "EMPTY_OBJECT", "the object is empty"
    if size > limit:
        return "OBJECT_TOO_LARGE", f"the object has {size} bytes; the limit is {limit}"
    if head is not None:
        kind = sniff(head)
        if kind.media_type == "unknown":
            return "UNSUPPORTED_MEDIA_TYPE", f"the content is not a supported media type (detected: {kind.format})"
    return None
