"""The CLI's inputs, output folders, results page, progress and exit codes, without running the pipeline."""
from __future__ import annotations

import base64
import builtins
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePath

import pytest

from media_pipeline.cli import exits
from media_pipeline.cli.inputs import collect_inputs
from media_pipeline.cli.items import Item, items_for
from media_pipeline.cli.layout import MAX_NAME_BYTES, ItemFolder, assign_folders, local_manifest
from media_pipeline.cli.progress import Board
from media_pipeline.cli import results_page
from media_pipeline.manifest import validate


def reasons(inputs) -> dict[str, str | None]:
    return {i.path.name: (i.reason[0] if i.reason else None) for i in inputs}


# ---- inputs: every one checked before the run ----------------------------------------------------------------

def test_special_vanished_and_looping_inputs_get_a_reason_and_the_rest_run(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "good.png").write_bytes(b"\x89PNG")
    (media / "sub" / "talk.ogg").write_bytes(b"OggS")
    os.mkfifo(media / "pipe.wav")  # reading a FIFO would block the run forever
    (media / "gone.mp3").symlink_to(tmp_path / "removed.mp3")  # a link to a file that vanished
    (media / "sub" / "loop").symlink_to(media)  # a directory loop
    (media / ".hidden.png").write_bytes(b"x")

    found = collect_inputs([str(media), str(tmp_path / "never-there.wav")])
    assert reasons(found) == {"good.png": None, "gone.mp3": "INPUT_NOT_FOUND", "pipe.wav": "INPUT_NOT_A_FILE",
                              "loop": "INPUT_DIRECTORY_LOOP", "talk.ogg": None, "never-there.wav": "INPUT_NOT_FOUND"}
    by_name = {i.path.name: i for i in found}
    assert by_name["talk.ogg"].relative == PurePath("sub/talk.ogg")  # subfolders kept
    assert "named pipe" in by_name["pipe.wav"].reason[1]


def test_a_file_that_cannot_be_opened_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked, readable = tmp_path / "locked.png", tmp_path / "open.png"
    locked.write_bytes(b"\x89PNG")
    readable.write_bytes(b"\x89PNG")
    real_open = builtins.open

    def deny(file, *args, **kwargs):  # root reads through chmod 000, so the denial is simulated
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    found = collect_inputs([str(locked), str(readable)])
    assert reasons(found) == {"locked.png": "INPUT_UNREADABLE", "open.png": None}
    assert found[0].reason[1] == f"{locked}: permission denied"
    [failed, ready] = items_for(found)
    assert failed.manifest["status"] == "FAILED" and failed.manifest["error"]["code"] == "INPUT_UNREADABLE"
    validate(failed.manifest)  # the manifest of an input the pipeline never saw follows the schema
    assert ready.manifest is None and not ready.finished


def test_a_file_named_twice_runs_once(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    assert len(collect_inputs([str(tmp_path / "a.png"), str(tmp_path / "a.png"), str(tmp_path)])) == 1


# ---- output folders --------------------------------------------------------------------------------------------

def test_folders_are_named_after_the_file_with_its_extension() -> None:
    folders = assign_folders([("talk.ogg", PurePath("talk.ogg")), ("talk.png", PurePath("talk.png")),
                              ("d/sub/phone.mov", PurePath("sub/phone.mov"))])
    assert folders == [PurePath("talk.ogg"), PurePath("talk.png"), PurePath("sub/phone.mov")]


def test_two_long_names_with_one_stem_get_distinct_short_folders(tmp_path: Path) -> None:
    stem = "x" * 247
    folders = assign_folders([(f"{stem}.ogg", PurePath(f"{stem}.ogg")), (f"{stem}.png", PurePath(f"{stem}.png"))])
    assert folders[0] != folders[1]
    for folder, extension in zip(folders, (".ogg", ".png")):
        assert len(folder.name.encode()) <= MAX_NAME_BYTES and folder.name.endswith(extension) and "~" in folder.name
        ItemFolder(tmp_path, folder).commit()  # the file system takes it, with room for the partial folder's name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in folders)


def test_no_two_inputs_share_a_folder_or_nest() -> None:
    folders = assign_folders([("a/x.png", PurePath("x.png")), ("b/x.png", PurePath("x.png")),
                              ("c/x.png/y.png", PurePath("x.png/y.png")), ("é" * 150, PurePath("é" * 150))])
    assert len(set(folders)) == 4
    assert folders[0] == PurePath("x.png") and folders[1].name.startswith("x~") and folders[1].name.endswith(".png")
    assert PurePath("x.png") not in folders[2].parents
    assert len(folders[3].name.encode()) <= MAX_NAME_BYTES  # 300 bytes of UTF-8 cut on a character boundary


def test_a_rerun_replaces_the_folder_whole(tmp_path: Path) -> None:
    first = ItemFolder(tmp_path, PurePath("talk.ogg"))
    (first.partial / "captions.vtt").write_text("WEBVTT")
    first.write_json("manifest.json", {"media_type": "audio"})
    first.commit()
    second = ItemFolder(tmp_path, PurePath("talk.ogg"))
    second.write_json("manifest.json", {"media_type": "image"})
    second.commit()
    assert sorted(p.name for p in (tmp_path / "talk.ogg").iterdir()) == ["manifest.json"]
    assert json.loads((tmp_path / "talk.ogg" / "manifest.json").read_text())["media_type"] == "image"
    assert [p.name for p in tmp_path.iterdir()] == ["talk.ogg"]  # no partial or old folder left behind


def test_saved_manifest_names_the_local_input_and_links_inside_the_folder() -> None:
    base = "s3://media-pipeline-local/results/" + "a" * 32 + "/"
    manifest = {"schema_version": "1.0", "media_id": "a" * 32, "status": "SUCCEEDED", "media_type": "video",
                "created_at": "2026-01-01T00:00:00Z",
                "source": {"uri": "s3://media-pipeline-local/uploads/phone.mov", "bucket": "b", "key": "k"},
                "warnings": [], "artifacts": {"captions_vtt": base + "captions.vtt", "poster": base + "video/poster.jpg"},
                "video": {"duration_seconds": 1.0, "has_audio": True, "route": "lambda",
                          "thumbnails": [base + "video/thumbnails/thumb-0.jpg"], "poster": base + "video/poster.jpg"}}
    saved = local_manifest(manifest, input_path=Path("clips/phone.mov"), results_uri=base)
    assert saved["source"]["uri"] == "clips/phone.mov"
    assert saved["artifacts"] == {"captions_vtt": "captions.vtt", "poster": "video/poster.jpg"}
    assert saved["video"]["thumbnails"] == ["video/thumbnails/thumb-0.jpg"]
    assert "s3://" not in json.dumps(saved)
    validate(saved)


# ---- the results page ------------------------------------------------------------------------------------------

def finished_item(tmp_path: Path) -> tuple[Item, Path]:
    out = tmp_path / "out"
    folder = out / "talk <1>.ogg"
    (folder / "video").mkdir(parents=True)
    (folder / "captions.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nHello <b>there</b>\n")
    source = tmp_path / "talk <1>.ogg"
    source.write_bytes(b"OggS")
    item = Item(path=source, label=str(source), folder=PurePath("talk <1>.ogg"), media_id="b" * 32, seconds=4.2)
    item.manifest = {"status": "SUCCEEDED", "media_type": "audio", "artifacts": {"captions_vtt": "captions.vtt"},
                     "transcript": {"text": "Welcome <script>alert(1)</script> & goodbye", "language": None,
                                    "segments": [{"start": 0.0, "end": 1.0,
                                                  "text": "Welcome <script>alert(1)</script> & goodbye"}]},
                     "enrichment": {"title": "A <title>", "summary": "Summary & more", "keywords": ["k1", "<k2>"],
                                    "model": "local.extractive-textrank-yake"},
                     "warnings": [{"code": "LANGUAGE_NOT_IDENTIFIED", "message": "too short"}],
                     "language": {"code": "en-US"}}
    return item, out


def test_results_page_is_the_web_page_with_the_runs_items_in_it(tmp_path: Path) -> None:
    item, out = finished_item(tmp_path)
    failed = Item(path=tmp_path / "pipe.wav", label="pipe.wav", folder=PurePath("pipe.wav"))
    failed.fail("INPUT_NOT_A_FILE", "pipe.wav: a named pipe (FIFO), not a regular file")
    page = results_page.write([item, failed], out).read_text()

    web = Path(results_page.WEB_DIR)
    assert (web / "app.js").read_text().strip().splitlines()[-1] in page  # the web page's own script, inlined
    assert "#drop-zone" in page and 'id="transcript-lines"' in page     # its style sheet and its markup
    assert "<script>alert" not in page and "</title>\"" not in page    # data never closes the script element
    run = results_page.embedded_run(page)
    assert [i["status"] for i in run["items"]] == ["SUCCEEDED", "FAILED"]
    assert run["subtitle"].startswith("2 item(s): 1 succeeded, 1 failed")
    done = run["views"]["b" * 32]
    assert done["manifest"]["transcript"]["segments"][0]["text"] == "Welcome <script>alert(1)</script> & goodbye"
    assert done["media_url"] == "../talk%20%3C1%3E.ogg"  # the input itself, relative to the page
    assert base64.b64decode(done["links"]["captions_vtt"].split(",", 1)[1]).startswith(b"WEBVTT")
    assert done["links"]["original_file"] == done["media_url"]
    assert done["warnings"] == [{"code": "LANGUAGE_NOT_IDENTIFIED", "message": "too short",
                                 "plain": "The language could not be told."}]
    [other] = [v for k, v in run["views"].items() if k != "b" * 32]
    assert other["error"]["code"] == "INPUT_NOT_A_FILE" and other["media_url"] is None
    assert other["error"]["plain"].startswith("This is not a regular file (a named pipe")


# ---- progress and exit status ----------------------------------------------------------------------------------

def test_plain_progress_has_one_line_per_change_with_the_overall_count() -> None:
    items = [Item(path=Path("a.ogg"), label="a.ogg"), Item(path=Path("b.png"), label="b.png")]
    stream = io.StringIO()
    with Board(items, stream) as board:
        board.phase("Building the emulated account")
        board.update(items[0], "Transcribe")
        items[0].manifest = {"status": "SUCCEEDED"}
        board.update(items[0], "SUCCEEDED")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "media-pipeline: Building the emulated account"
    assert lines[1].startswith("[0/2] ") and lines[1].endswith("a.ogg: Transcribe")
    assert lines[2].startswith("[1/2] ") and lines[2].endswith("a.ogg: SUCCEEDED")
    assert "\x1b[" not in stream.getvalue()


def test_live_progress_draws_a_bar_with_an_estimate() -> None:
    items = [Item(path=Path(f"{n}.ogg"), label=f"{n}.ogg", media_id=str(n)) for n in range(4)]
    board = Board(items, io.StringIO(), live=True)
    items[0].manifest, items[1].manifest = {"status": "SUCCEEDED"}, {"status": "FAILED"}
    assert board.overall().startswith("[############------------] 2/4 done")
    assert "left" in board.overall()


@pytest.mark.parametrize("statuses, strict, code", [
    (["SUCCEEDED", "FAILED"], False, exits.OK), (["SUCCEEDED", "FAILED"], True, exits.ITEM_FAILED),
    (["SUCCEEDED"], True, exits.OK)])
def test_exit_status(statuses, strict, code) -> None:
    items = [Item(path=Path(s), label=s, manifest={"status": s}) for s in statuses]
    assert exits.for_items(items, strict=strict) == code


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")
def test_results_page_opens_from_the_file_system_in_chromium(tmp_path: Path) -> None:
    """The list, then an item's own view by its address, as a user clicks through the page (no server)."""
    item, out = finished_item(tmp_path)
    page = results_page.write([item], out)

    def dom(address: str) -> str:
        run = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                              "--dump-dom", address], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    listed = dom(page.resolve().as_uri())
    assert 'data-status="SUCCEEDED"' in listed and "talk &lt;1&gt;.ogg" in listed
    assert re.search(r'<section id="upload"[^>]* hidden', listed)  # read-only: nothing to upload to
    shown = dom(page.resolve().as_uri() + "#/items/" + "b" * 32)
    assert "<audio" in shown and 'kind="captions"' in shown and 'srclang="en"' in shown  # no language: English
    assert "Summary &amp; more" in shown and "Welcome &lt;script&gt;alert(1)&lt;/script&gt; &amp; goodbye" in shown
    assert "The language could not be told. (LANGUAGE_NOT_IDENTIFIED)" in shown
    assert "<script>alert" not in shown  # the transcript stayed text in the browser too

def test_the_offline_wait_reads_only_the_items_the_emulator_changed():
    """With the emulator's change marks, an item is read again only when its job record or its history changed."""
    from media_pipeline.cli.runs import wait_for_manifests

    items = [Item(path=Path(f"/in/{name}"), label=name, media_id=name) for name in ("a", "b", "c")]
    reads: list[str] = []
    done = {"b": 2, "a": 3, "c": 4}  # the round in which each item's manifest is there

    class Changes:
        rounds = 0

        def change_sequence(self) -> int:
            return 0

        def changes(self, after: int, timeout: float) -> tuple[int, set[str]]:
            self.rounds += 1
            return self.rounds, {name for name, at in done.items() if at == self.rounds + 1}

    changes = Changes()

    def manifest_of(media_id: str) -> dict | None:
        reads.append(media_id)
        return {"status": "SUCCEEDED"} if changes.rounds + 1 >= done[media_id] else None

    wait_for_manifests(items, Board(items, io.StringIO()), timeout=30, poll_seconds=0.01, manifest_of=manifest_of,
                       progress=lambda item: None, changes=changes)
    assert reads == ["a", "b", "c", "b", "a", "c"]  # all once, then each when it changed
    assert all(item.finished for item in items)
