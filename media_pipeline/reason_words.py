"""Reason codes in plain words, for people: the web page and the results page of a run both show them next to the
code and the manifest's own message (docs/reason-codes.md has every code and what to do about it)."""
from __future__ import annotations

from typing import Any

PLAIN_WORDS = {
    # the input, before the pipeline saw it (media-pipeline process)
    "INPUT_NOT_FOUND": "The file was not there when the run reached it (removed, renamed, or a broken link).",
    "INPUT_UNREADABLE": "The file could not be read (no permission to read it, or a read error).",
    "INPUT_NOT_A_FILE": "This is not a regular file (a named pipe, a device or a socket), so it was not sent.",
    "INPUT_DIRECTORY_LOOP": "A link leads back into a folder already walked; it was skipped to avoid a loop.",
    "TIMED_OUT": "The command stopped waiting before the pipeline finished this item (raise --timeout).",
    # the upload
    "EMPTY_OBJECT": "The file is empty.",
    "OBJECT_TOO_LARGE": "The file is larger than this deployment accepts.",
    "OBJECT_NOT_FOUND": "The uploaded file was gone before it could be read.",
    "UNSUPPORTED_MEDIA_TYPE": "This is not a kind of file the pipeline can read (audio, video, PDF or image).",
    # documents and images
    "CORRUPT_DOCUMENT": "The document is damaged and cannot be opened.",
    "ENCRYPTED_DOCUMENT": "The document is protected by a password.",
    "EMPTY_DOCUMENT": "The document has no pages.",
    "TOO_MANY_PAGES": "The document has more pages than text extraction accepts.",
    "CORRUPT_IMAGE": "The image is damaged and cannot be read.",
    "UNSUPPORTED_IMAGE_FORMAT": "The image format is not supported.",
    "IMAGE_TOO_LARGE": "The image is too large for text extraction.",
    "IMAGE_TOO_SMALL": "The image is too small to read text from (under 50 pixels on a side).",
    "NO_TEXT_FOUND": "No text was found on the page or image.",
    "EMPTY_PAGES": "Some pages have no text.",
    "TEXTRACT_JOB_FAILED": "Text extraction could not finish.",
    # audio and video
    "CORRUPT_MEDIA": "The audio or video is damaged and cannot be decoded.",
    "UNSUPPORTED_CODEC": "The audio or video uses a codec the pipeline cannot decode.",
    "NO_MEDIA_STREAMS": "The file holds neither sound nor pictures.",
    "NO_AUDIO_TRACK": "The video has no sound track: pictures only, no transcript.",
    "NO_VIDEO_TRACK": "The file holds sound only.",
    "EMPTY_TRANSCRIPT": "No speech was heard in the recording.",
    "NO_SPEECH_DETECTED": "No speech was found in the audio.",
    "TRANSCRIBE_JOB_FAILED": "Speech recognition could not finish.",
    # the text's later steps
    "LANGUAGE_NOT_IDENTIFIED": "The language could not be told.",
    "LANGUAGE_IDENTIFICATION_FAILED": "The language step failed; the rest is kept.",
    "PII_REDACTION_FAILED": "Personal data could not be removed, so the text is not shown.",
    "ENRICHMENT_SKIPPED": "There was no text to summarise.",
    "ENRICHMENT_FAILED": "The title, summary and keywords could not be written; the transcript or text is kept.",
    # the pipeline itself
    "TIMEOUT": "A step took too long and was stopped.",
    "FUNCTION_CRASHED": "A step of the pipeline failed unexpectedly.",
}


def plain_words(reason: dict[str, Any] | None) -> dict[str, Any] | None:
    """A manifest's error or warning with a sentence for people (`plain`) next to its code and message."""
    if not reason:
        return None
    code = str(reason.get("code", ""))
    return {**reason, "plain": PLAIN_WORDS.get(code, reason.get("message") or code.replace("_", " ").capitalize())}


def manifest_problems(manifest: dict[str, Any]) -> dict[str, Any]:
    """The error and warnings of a manifest as the pages show them."""
    return {"error": plain_words(manifest.get("error")),
            "warnings": [plain_words(w) for w in manifest.get("warnings") or []]}
