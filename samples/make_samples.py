"""Make the bundled sample media and their expected text (run once by maintainers; the outputs are committed).

    python samples/make_samples.py            # needs espeak-ng (apt-get install espeak-ng), av, pillow

Users never run this: the files it writes are in the repository. It writes, next to itself:
- speech.flac: 16 kHz mono speech synthesised by espeak-ng;
- video-with-speech.mp4: generated frames (H.264) with synthesised speech (AAC);
- scanned-page.png: a page of text rendered with Pillow, rotated slightly, with scanner noise;
- two-page-report.pdf: a born-digital PDF with a text layer on two pages;
- contact-details.pdf: a one-page born-digital PDF holding personal data for PII redaction (made-up values of
  documentation ranges: an example.com address, a UK drama phone number, the ISO 13616 example IBAN, a test card);
- expected/<stem>.txt: the text each one holds.
"""
from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
import zlib
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"

SPEECH = (
    "Welcome to the media pipeline workshop. This short recording was made to test speech recognition. "
    "When you upload a file, the pipeline stores it in a bucket and starts one workflow for each item. "
    "Transcripts, captions and summaries are written next to the original media. "
    "Thank you for listening, and enjoy the rest of the day."
)
VIDEO_SPEECH = (
    "This video shows a blue background with a moving square. "
    "The pipeline extracts the sound track, makes a few thumbnails, and sends the speech to transcription."
)
PAGE = [
    "Quarterly Field Report",
    "",
    "The river survey team visited twelve sites during the",
    "spring season. Water levels were higher than last year,",
    "and the northern stations recorded the clearest samples.",
    "",
    "Three sensors were replaced after the April storm. The",
    "new units send readings every ten minutes and use less",
    "power than the old ones.",
    "",
    "Next steps: repeat the survey in autumn, compare the",
    "results with the long term average, and publish the",
    "data set for the regional water board.",
]
PDF_PAGES = [
    [
        "Annual Library Review",
        "The city library lent more books this year than in any year before.",
        "Visitors borrowed over forty thousand novels and ten thousand audio books.",
        "The new reading room opened in March and hosts a weekly study group.",
    ],
    [
        "Plans for Next Year",
        "The library will extend its opening hours on Saturdays.",
        "A small team will scan old newspapers so that readers can search them online.",
        "Volunteers are welcome to help with the summer reading program.",
    ],
]
PII_PAGES = [
    [
        "Customer Contact Sheet",
        "Please reach Jane Example at jane.example@example.com or +44 20 7946 0958.",
        "Refunds go to IBAN DE89 3704 0044 0532 0130 00.",
        "The deposit was paid with card 4111 1111 1111 1111.",
        "Order reference 4111 1111 1111 1112 is not a card number.",
    ],
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def synthesise(text: str, path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise SystemExit("espeak-ng is needed to make the speech samples: apt-get install espeak-ng")
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-g", "4", "-w", str(path), text], check=True)


def resampled_frames(wav: Path, rate: int, layout: str, fmt: str, frame_size: int | None = None):
    import av

    with av.open(str(wav)) as source:
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate, frame_size=frame_size)
        for frame in source.decode(audio=0):
            yield from resampler.resample(frame)
        yield from resampler.resample(None)


def make_speech(wav: Path, out: Path) -> None:
    import av

    with av.open(str(out), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=16000, layout="mono")
        for frame in resampled_frames(wav, 16000, "mono", "s16"):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_video(wav: Path, out: Path) -> None:
    import av
    import numpy as np

    with av.open(str(wav)) as probe:
        seconds = float(probe.duration / av.time_base) if probe.duration else 10.0
    fps, width, height = 10, 320, 240
    with av.open(str(out), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "30", "preset": "veryslow"}
        audio = container.add_stream("aac", rate=16000, layout="mono")
        audio.bit_rate = 32000
        for index in range(int(seconds * fps) + fps):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[:, :] = (30, 60, 160)
            x = int((width - 60) * (0.5 + 0.5 * np.sin(index / 15)))
            image[90:150, x:x + 60] = (240, 200, 40)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        for frame in resampled_frames(wav, 16000, "mono", "fltp", frame_size=audio.codec_context.frame_size or 1024):
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)


def make_scanned_page(out: Path) -> None:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    width, height = 1275, 1650  # letter size at 150 dpi
    page = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(page)
    title, body = ImageFont.truetype(FONT, 44), ImageFont.truetype(FONT, 30)
    y = 140
    for index, line in enumerate(PAGE):
        font = title if index == 0 else body
        if line:
            draw.text((120, y), line, fill=25, font=font)
        y += 70 if index == 0 else 48
    rng = random.Random(7)
    page = page.rotate(0.8, resample=Image.BICUBIC, expand=False, fillcolor=250)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    pixels = page.load()
    for _ in range(2500):  # dust and toner specks
        px, py = rng.randrange(width), rng.randrange(height)
        pixels[px, py] = rng.choice((40, 90, 200))
    page.save(out, optimize=True)


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(out: Path, pages: list[list[str]] = PDF_PAGES) -> None:
    """A minimal born-digital PDF (Helvetica, one text object per line) written by hand: no PDF library needed."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for index, lines in enumerate(pages):
        content = []
        y = 740
        for number, line in enumerate(lines):
            size = 20 if number == 0 else 12
            content.append(f"BT /F1 {size} Tf 72 {y} Td {_pdf_string(line)} Tj ET")
            y -= 36 if number == 0 else 20
        stream = zlib.compress("\n".join(content).encode("latin-1"))
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >> "
                       f"/Contents {page_ids[index] + 1} 0 R >>".encode())
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    body = io.BytesIO()
    body.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(body.tell())
        body.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = body.tell()
    body.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        body.write(f"{offset:010d} 00000 n \n".encode())
    body.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    out.write_bytes(body.getvalue())


def main() -> None:
    EXPECTED.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        speech_wav, video_wav = Path(tmp, "speech.wav"), Path(tmp, "video.wav")
        synthesise(SPEECH, speech_wav)
        synthesise(VIDEO_SPEECH, video_wav)
        make_speech(speech_wav, HERE / "speech.flac")
        make_video(video_wav, HERE / "video-with-speech.mp4")
    make_scanned_page(HERE / "scanned-page.png")
    make_pdf(HERE / "two-page-report.pdf")
    make_pdf(HERE / "contact-details.pdf", PII_PAGES)
    (EXPECTED / "speech.txt").write_text(SPEECH + "\n")
    (EXPECTED / "video-with-speech.txt").write_text(VIDEO_SPEECH + "\n")
    (EXPECTED / "scanned-page.txt").write_text("\n".join(line for line in PAGE if line) + "\n")
    (EXPECTED / "two-page-report.txt").write_text("\n".join(line for page in PDF_PAGES for line in page) + "\n")
    (EXPECTED / "contact-details.txt").write_text("\n".join(line for page in PII_PAGES for line in page) + "\n")
    for path in sorted(HERE.iterdir()):
        if path.is_file() and path.suffix not in (".py", ".md"):
            print(f"{path.name:28} {path.stat().st_size / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
