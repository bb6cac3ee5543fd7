"""The web API's plain logic: who owns an upload key, safe key names, reasons in plain words."""
from __future__ import annotations

from media_pipeline import jobs, reason_words, web_api

SUB = "0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011"


def test_the_owner_is_the_cognito_sub_folder_under_the_upload_prefix() -> None:
    assert jobs.owner_of(f"uploads/{SUB}/1700000000-talk.mp3", "uploads/") == SUB
    assert jobs.owner_of(f"uploads/{SUB}/a/b.pdf", "uploads/") == SUB
    assert jobs.owner_of("uploads/talk.mp3", "uploads/") is None          # uploaded with S3 access
    assert jobs.owner_of("uploads/team/talk.mp3", "uploads/") is None     # a folder that is not a user
    assert jobs.owner_of(f"uploads/{SUB}/", "uploads/") is None           # no file
    assert jobs.owner_of(f"other/{SUB}/talk.mp3", "uploads/") is None
    assert jobs.owner_of(f"uploads/{SUB.upper()}/talk.mp3", "uploads/") is None


def test_file_names_become_one_safe_path_segment() -> None:
    assert web_api.safe_name("My talk (final).mp3") == "My-talk-final-.mp3"
    assert web_api.safe_name("../../results/x/manifest.json") == "manifest.json"
    assert web_api.safe_name("C:\\\\Users\\\\me\\\\scan.png") == "scan.png"
    assert web_api.safe_name("...") == "upload"
    assert len(web_api.safe_name("a" * 500 + ".pdf")) == 120


def test_reasons_get_a_sentence_in_plain_words() -> None:
    reason = reason_words.plain_words({"code": "UNSUPPORTED_MEDIA_TYPE", "message": "detected: text"})
    assert reason == {"code": "UNSUPPORTED_MEDIA_TYPE", "message": "detected: text",
                      "plain": "This is not a kind of file the pipeline can read (audio, video, PDF or image)."}
    assert reason_words.plain_words({"code": "SOMETHING_NEW", "message": "the step said why"})["plain"] == "the step said why"
    assert reason_words.plain_words({"code": "SOMETHING_NEW"})["plain"] == "Something new"
    assert reason_words.plain_words(None) is None


def test_every_plain_word_code_is_a_documented_reason_code() -> None:
    from pathlib import Path

    documented = (Path(__file__).resolve().parents[2] / "docs" / "reason-codes.md").read_text()
    for code in reason_words.PLAIN_WORDS:
        assert f"`{code}`" in documented, code
