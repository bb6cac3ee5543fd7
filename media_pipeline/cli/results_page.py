"""`index.html` in a run's output folder: the web page (web/), with the run's items in it instead of an API.

The page is web/index.html with its style sheet and script inlined and the run's item views embedded as JSON
(`window.MEDIA_PIPELINE_RUN`), so it opens from the file system with no server and no network: the same list, the
same item view (status, the player with its captions track, poster and thumbnails, the transcript by line, the text
by page, summary and keywords, warnings and errors in plain words, the result files) as `media-pipeline serve` and a
deployed stack show. The views have the shape the web API gives (media_pipeline/web_api.py `item_view`), with
links relative to the output folder (so the folder can be moved or zipped whole); captions are embedded as a data:
URL, since browsers refuse a <track> read from another file:// address.

Everything from a manifest reaches the page as JSON data and is put on it as text by the script (never as markup);
the JSON is escaped so that nothing in it can close the script element.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from media_pipeline.cli.items import Item
from media_pipeline.reason_words import manifest_problems

WEB_DIR = Path(__file__).resolve().parents[2] / "web"  # the web page's own files
PLAYABLE = ("audio", "video", "image")  # as the web API: these get a player (or the picture) on the item's view


def href(path: str | os.PathLike[str]) -> str:
    """A relative (or absolute) file path as a URL reference."""
    text = Path(path).as_posix()
    return quote(text, safe="/:") if not os.path.isabs(text) else "file://" + quote(text, safe="/")


def _captions_data_url(folder: Path, name: str) -> str | None:
    try:
        data = (folder / name).read_bytes()
    except OSError:
        return None
    return "data:text/vtt;base64," + base64.b64encode(data).decode("ascii") if data else None


def _relative_to(path: Path, out: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), out.resolve())
    except ValueError:  # another drive (Windows): an absolute file URL
        return str(path.resolve())


def item_view(item: Item, out: Path, media_id: str) -> dict[str, Any]:
    """One item as the web API's GET /items/{id} answers, from the run's own files."""
    manifest = item.manifest or {}
    status = str(manifest.get("status", item.state))
    folder = out / item.folder
    links: dict[str, str] = {}
    for name, value in (manifest.get("artifacts") or {}).items():
        if not isinstance(value, str) or "://" in value:
            continue  # only the files the run saved in the item's folder
        if name == "captions_vtt":
            links[name] = _captions_data_url(folder, value) or href(f"{item.folder.as_posix()}/{value}")
        else:
            links[name] = href(f"{item.folder.as_posix()}/{value}")
    source = href(_relative_to(item.path, out))
    if status == "SUCCEEDED":
        links["original_file"] = source
    view: dict[str, Any] = {
        "media_id": media_id, "name": item.label, "media_type": manifest.get("media_type"), "status": status,
        "error_code": (manifest.get("error") or {}).get("code"), "created_at": manifest.get("created_at"),
        "current_step": None, "manifest": manifest or None, "links": links,
        "media_url": source if status == "SUCCEEDED" and manifest.get("media_type") in PLAYABLE else None,
        "error": None, "warnings": [], "link_seconds": None, "seconds": round(item.seconds, 1)}
    view.update(manifest_problems(manifest))
    return view


def run_data(items: list[Item], out: Path, *, title: str) -> dict[str, Any]:
    views: dict[str, dict[str, Any]] = {}
    summaries = []
    for n, item in enumerate(items):
        media_id = str((item.manifest or {}).get("media_id") or item.media_id or "")
        if len(media_id) != 32 or media_id in views:  # the page's addresses are 32 hex digits, one per item
            media_id = hashlib.sha256(f"{n}:{item.folder}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
        view = item_view(item, out, media_id)
        views[media_id] = view
        summaries.append({name: view[name] for name in ("media_id", "name", "media_type", "status", "error_code",
                                                         "created_at")})
    succeeded = sum(1 for v in views.values() if v["status"] == "SUCCEEDED")
    failed = sum(1 for v in views.values() if v["status"] == "FAILED")
    subtitle = (f"{len(items)} item(s): {succeeded} succeeded, {failed} failed · written "
                f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} by media-pipeline process")
    return {"title": title, "subtitle": subtitle, "items": summaries, "views": views}


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` (so no `</script>` or `<!--`), no line
    separators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _inline_script(source: str) -> str:
    return source.replace("</script", "<\\/script")


def render(items: list[Item], out: Path, *, title: str = "Media pipeline results", web_dir: Path = WEB_DIR) -> str:
    page = (web_dir / "index.html").read_text(encoding="utf-8")
    style = (web_dir / "style.css").read_text(encoding="utf-8")
    script = (web_dir / "app.js").read_text(encoding="utf-8")
    link = '<link rel="stylesheet" href="style.css">'
    loader = '<script src="app.js" defer></script>'
    if link not in page or loader not in page or "</body>" not in page:
        raise ValueError(f"{web_dir / 'index.html'} no longer loads style.css and app.js as the results page expects")
    data = script_json(run_data(items, out, title=title))
    page = page.replace(link, f"<style>\n{style}</style>").replace(loader, "")
    scripts = (f"<script>window.MEDIA_PIPELINE_RUN = {data};</script>\n"
               f"<script>\n{_inline_script(script)}</script>\n")
    return page.replace("</body>", scripts + "</body>", 1)


def write(items: list[Item], out: Path) -> Path:
    """out/index.html, replaced whole."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    partial = out / f".index.html.partial-{os.getpid()}"
    partial.write_text(render(items, out), encoding="utf-8")
    os.replace(partial, target)
    return target


def embedded_run(page: str) -> dict[str, Any]:
    """The run data a results page holds (for tests and tools that read a page back)."""
    start = page.index("window.MEDIA_PIPELINE_RUN = ") + len("window.MEDIA_PIPELINE_RUN = ")
    end = page.index(";</script>", start)
    return json.loads(page[start:end])
