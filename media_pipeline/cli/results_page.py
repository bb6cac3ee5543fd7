"""`index.html` in a run's output folder: every item of the run on one static page that opens from the file
system (no server, no script, no network): status, a player with the captions, poster and thumbnails, the
text, the summary and keywords, warnings and errors in plain words.

Everything taken from a manifest or a file is escaped; links are relative to the output folder, so the folder
can be moved or zipped whole. Captions are embedded as a data: URL, since browsers refuse a <track> read from
another file:// address. The page is also well-formed XML (tests parse it).
"""
from __future__ import annotations

import base64
import os
import time
from html import escape
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from media_pipeline.cli.items import Item

TEXT_CHARS = 20_000  # longer texts are cut on the page, the full text is one click away

# What a reason code means to someone who just ran a file (docs/reason-codes.md has them all).
PLAIN_WORDS = {
    "INPUT_NOT_FOUND": "The file was not there when the run reached it (removed, renamed, or a broken link).",
    "INPUT_UNREADABLE": "The file could not be read (no permission to read it, or a read error).",
    "INPUT_NOT_A_FILE": "This is not a regular file (a named pipe, a device or a socket), so it was not sent.",
    "INPUT_DIRECTORY_LOOP": "A link leads back into a folder already walked; it was skipped to avoid a loop.",
    "TIMED_OUT": "The command stopped waiting before the pipeline finished this item (raise --timeout).",
    "EMPTY_OBJECT": "The file is empty.",
    "OBJECT_TOO_LARGE": "The file is larger than the pipeline accepts.",
    "UNSUPPORTED_MEDIA_TYPE": "The content is not audio, video, a PDF or an image the pipeline reads.",
    "CORRUPT_MEDIA": "The audio or video could not be decoded: the file looks damaged or truncated.",
    "UNSUPPORTED_CODEC": "The audio or video uses a codec the pipeline cannot decode.",
    "NO_MEDIA_STREAMS": "The container holds neither audio nor video.",
    "CORRUPT_DOCUMENT": "The PDF could not be opened.",
    "ENCRYPTED_DOCUMENT": "The PDF needs a password.",
    "CORRUPT_IMAGE": "The image could not be read.",
    "IMAGE_TOO_SMALL": "The image is too small to read text from (under 50 pixels on a side).",
    "IMAGE_TOO_LARGE": "The image is too large for text recognition.",
    "TOO_MANY_PAGES": "The document has more pages than text recognition accepts.",
    "PII_REDACTION_FAILED": "Personal data could not be removed, so the text is not shown.",
    "TIMEOUT": "A step of the pipeline took too long.",
    "FUNCTION_CRASHED": "A step of the pipeline failed unexpectedly.",
    "EMPTY_TRANSCRIPT": "No speech was recognised.",
    "NO_SPEECH_DETECTED": "No speech was found in the audio.",
    "NO_AUDIO_TRACK": "The video has no sound: pictures only, no transcript.",
    "NO_VIDEO_TRACK": "The file holds sound only.",
    "NO_TEXT_FOUND": "No text was found on the page or image.",
    "EMPTY_PAGES": "Some pages have no text.",
    "ENRICHMENT_SKIPPED": "There was no text to summarise.",
    "ENRICHMENT_FAILED": "The summary could not be written; the transcript or text is kept.",
    "LANGUAGE_NOT_IDENTIFIED": "The language could not be told.",
    "LANGUAGE_IDENTIFICATION_FAILED": "The language step failed; the rest is kept.",
}

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 1.5rem;color:#1b1f24}
header p{color:#57606a;margin:.2rem 0}
.item{border:1px solid #d0d7de;border-radius:8px;margin:1rem 0;padding:1rem 1.2rem}
.item h2{font-size:1.1rem;margin:0 0 .4rem;word-break:break-all}
.status{display:inline-block;border-radius:1rem;padding:0 .6rem;font-size:.8rem;font-weight:600;margin-right:.5rem}
.SUCCEEDED{background:#dafbe1;color:#116329}.FAILED{background:#ffebe9;color:#a40e26}
.meta{color:#57606a;font-size:.85rem}
.problem{border-left:4px solid #cf222e;background:#fff8f8;padding:.4rem .8rem;margin:.6rem 0}
.warning{border-left:4px solid #bf8700;background:#fff8c5;padding:.4rem .8rem;margin:.6rem 0}
code{font-size:.85em}
video,audio{max-width:100%;margin:.4rem 0}
img.poster{max-width:24rem;max-height:16rem;border-radius:4px}
.thumbs img{height:5rem;margin:.2rem;border-radius:3px}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.6rem;border-radius:6px;max-height:20rem;overflow:auto}
.keywords span{display:inline-block;background:#ddf4ff;border-radius:1rem;padding:0 .6rem;margin:.1rem;font-size:.85rem}
nav a{margin-right:.8rem}
"""


def href(path: str | os.PathLike[str]) -> str:
    """A relative (or absolute) file path as a URL reference, escaped for an attribute."""
    text = Path(path).as_posix()
    return escape(quote(text, safe="/:") if not os.path.isabs(text) else "file://" + quote(text, safe="/"), quote=True)


def _read(folder: Path, name: str | None, limit: int | None = None) -> str | None:
    if not name:
        return None
    try:
        with open(folder / name, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit) if limit else handle.read()
    except OSError:
        return None


def _captions_data_url(folder: Path, name: str | None) -> str | None:
    text = _read(folder, name)
    if not text:
        return None
    return "data:text/vtt;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _problem(kind: str, code: str, message: str) -> str:
    plain = PLAIN_WORDS.get(code, "")
    words = f"{escape(plain)} " if plain else ""
    return (f'<div class="{kind}"><strong>{words}</strong><code>{escape(code)}</code>: '
            f"{escape(message)}</div>")


def _player(item: Item, manifest: dict[str, Any], folder: Path, out: Path) -> str:
    media_type = manifest.get("media_type")
    artifacts = manifest.get("artifacts") or {}
    source = os.path.relpath(item.path.resolve(), out.resolve())
    local = item.folder.as_posix()
    parts = []
    captions = _captions_data_url(folder, artifacts.get("captions_vtt"))
    track = (f'<track kind="captions" label="Captions" srclang="{escape(((manifest.get("language") or {}).get("code") or "en")[:2])}" '
             f'src="{escape(captions, quote=True)}" default="default"/>') if captions else ""
    video = manifest.get("video") or {}
    poster = video.get("poster")
    if media_type == "video":
        poster_attr = f' poster="{href(f"{local}/{poster}")}"' if poster else ""
        parts.append(f'<video controls="controls" preload="metadata"{poster_attr} src="{href(source)}">{track}</video>')
    elif media_type == "audio":
        parts.append(f'<audio controls="controls" preload="metadata" src="{href(source)}">{track}</audio>')
    elif media_type == "image":
        parts.append(f'<img class="poster" alt="{escape(item.path.name, quote=True)}" src="{href(source)}"/>')
    elif media_type == "document":
        parts.append(f'<p><a href="{href(source)}">Open the document</a></p>')
    thumbnails = video.get("thumbnails") or []
    if thumbnails:
        images = "".join(f'<a href="{href(f"{local}/{t}")}"><img alt="thumbnail {n + 1}" src="{href(f"{local}/{t}")}"/></a>'
                         for n, t in enumerate(thumbnails))
        parts.append(f'<div class="thumbs">{images}</div>')
    return "".join(parts)


def _text(manifest: dict[str, Any], folder: Path, local: str) -> str:
    transcript, document = manifest.get("transcript") or {}, manifest.get("text") or {}
    text = transcript.get("text") if transcript else document.get("content")
    artifacts = manifest.get("artifacts") or {}
    source_file = artifacts.get("transcript_text") or artifacts.get("text")
    if text is None and source_file:
        text = _read(folder, source_file, TEXT_CHARS + 1)
    if text is None:
        return ""
    label = "Transcript" if transcript else "Text"
    cut = len(text) > TEXT_CHARS
    more = f' <a href="{href(f"{local}/{source_file}")}">(the whole text)</a>' if cut and source_file else ""
    shown = text[:TEXT_CHARS] + ("…" if cut else "")
    return f"<h3>{label}{more}</h3><pre>{escape(shown) if shown.strip() else '(empty)'}</pre>"


def _enrichment(manifest: dict[str, Any]) -> str:
    enrichment = manifest.get("enrichment") or {}
    if not enrichment:
        return ""
    parts = []
    if enrichment.get("title"):
        parts.append(f"<h3>{escape(str(enrichment['title']))}</h3>")
    if enrichment.get("summary"):
        parts.append(f"<p>{escape(str(enrichment['summary']))}</p>")
    keywords = enrichment.get("keywords") or []
    if keywords:
        parts.append('<p class="keywords">' + "".join(f"<span>{escape(str(k))}</span>" for k in keywords) + "</p>")
    if enrichment.get("model"):
        parts.append(f'<p class="meta">Summary by {escape(str(enrichment["model"]))}</p>')
    return "".join(parts)


def item_section(item: Item, out: Path, index: int) -> str:
    manifest = item.manifest or {}
    status = str(manifest.get("status", item.state))
    local = item.folder.as_posix()
    folder = out / item.folder
    meta = [escape(str(manifest.get("media_type", "unknown"))), f"{item.seconds:.1f} s"]
    language = manifest.get("language") or {}
    if language.get("code"):
        meta.append(f"language {escape(str(language['code']))}")
    links = [f'<a href="{href(f"{local}/manifest.json")}">manifest.json</a>', f'<a href="{href(local)}/">results folder</a>']
    html = [f'<section class="item" id="item-{index}">',
            f'<h2><span class="status {escape(status, quote=True)}">{escape(status)}</span>{escape(item.label)}</h2>',
            f'<p class="meta">{" · ".join(meta)} · {" · ".join(links)}</p>']
    error = manifest.get("error")
    if error:
        html.append(_problem("problem", str(error.get("code", "")), str(error.get("message", ""))))
    for warning in manifest.get("warnings") or []:
        html.append(_problem("warning", str(warning.get("code", "")), str(warning.get("message", ""))))
    if status == "SUCCEEDED":
        html.append(_player(item, manifest, folder, out))
        html.append(_enrichment(manifest))
        html.append(_text(manifest, folder, local))
    html.append("</section>")
    return "".join(html)


def render(items: list[Item], out: Path, *, title: str = "Media pipeline results") -> str:
    succeeded = sum(1 for item in items if (item.manifest or {}).get("status") == "SUCCEEDED")
    failed = sum(1 for item in items if (item.manifest or {}).get("status") == "FAILED")
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    nav = "".join(f'<a href="#item-{n}">{escape(PurePath(item.label).name)}</a>' for n, item in enumerate(items))
    body = "".join(item_section(item, out, n) for n, item in enumerate(items))
    return ("<!DOCTYPE html>\n"
            '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(title)}</h1>"
            f"<p>{len(items)} item(s): {succeeded} succeeded, {failed} failed · {escape(when)}</p>"
            f"<nav>{nav}</nav></header>{body}</body></html>\n")


def write(items: list[Item], out: Path) -> Path:
    """out/index.html, replaced whole."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    partial = out / f".index.html.partial-{os.getpid()}"
    partial.write_text(render(items, out), encoding="utf-8")
    os.replace(partial, target)
    return target
