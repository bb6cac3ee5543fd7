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


def sniff(head: bytes) -> MediaKind:
    if not head:
        return MediaKind("unknown", "empty")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaKind("audio", "wav")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaKind("video", "avi")
    if head[:4] == b"fLaC":
        return MediaKind("audio", "flac")
    if head[:4] == b"OggS":
        return MediaKind("video", "ogg") if b"theora" in head[:HEAD_BYTES] else MediaKind("audio", "ogg")
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return MediaKind("audio", "mp3")
    if head[:6] == b"#!AMR\n" or head[:9] == b"#!AMR-WB\n":
        return MediaKind("audio", "amr")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return MediaKind("audio", "m4a")
        if brand in (b"qt  ",):
            return MediaKind("video", "mov")
        if brand[:3] in (b"hei", b"mif", b"avi") or brand in (b"heic", b"heix", b"mif1", b"avif"):
            return MediaKind("unknown", "heif")
        return MediaKind("video", "mp4")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return MediaKind("video", "webm" if b"webm" in head[:64] else "mkv")
    if head[:5] == b"%PDF-":
        return MediaKind("document", "pdf")
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return MediaKind("image", "png")
    if head[:3] == b"\xff\xd8\xff":
        return MediaKind("image", "jpeg")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return MediaKind("image", "tiff")
    if head[:2] == b"MZ" or head[:4] == b"\x7fELF" or head[:4] in (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf"):
        return MediaKind("unknown", "executable")
    if head[:4] == b"PK\x03\x04":
        return MediaKind("unknown", "zip")
    return MediaKind("unknown", "unrecognized")
