import pytest

from media_pipeline.media_types import sniff


@pytest.mark.parametrize("head, expected", [
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", ("audio", "wav")),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", ("audio", "mp3")),
    (b"\xff\xfb\x90\x64\x00", ("audio", "mp3")),
    (b"fLaC\x00\x00\x00\x22", ("audio", "flac")),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", ("audio", "ogg")),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", ("video", "ogg")),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", ("audio", "m4a")),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", ("video", "mp4")),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm", ("video", "webm")),
    (b"%PDF-1.7\n", ("document", "pdf")),
    (b"\x89PNG\r\n\x1a\n\x00\x00", ("image", "png")),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", ("image", "jpeg")),
    (b"II*\x00\x08\x00\x00\x00", ("image", "tiff")),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", ("image", "webp")),
    (b"GIF89a\x20\x03", ("image", "gif")),
    (b"GIF87a\x20\x03", ("image", "gif")),
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", ("image", "bmp")),
    (b"BMW, the car maker, is not a picture", ("unknown", "unrecognized")),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", ("image", "avif")),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", ("image", "heic")),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avif", ("image", "avif")),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heic", ("image", "heic")),
    (b"MZ\x90\x00\x03\x00", ("unknown", "executable")),
    (b"\x7fELF\x02\x01\x01", ("unknown", "executable")),
    (b"PK\x03\x04\x14\x00", ("unknown", "zip")),
    (b"", ("unknown", "empty")),
    (b"hello, plain text", ("unknown", "unrecognized")),
])
def test_media_type_is_decided_by_content(head, expected):
    kind = sniff(head)
    assert (kind.media_type, kind.format) == expected
