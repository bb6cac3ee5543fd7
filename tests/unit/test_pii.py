"""media_pipeline/pii.py: chunks within Comprehend's 100 KB with offsets shifted back, redaction of overlapping
entities, pages redacted from the whole text's entities, Transcribe's redactions counted."""
from __future__ import annotations

from media_pipeline import pii


def test_chunks_cover_the_text_at_whitespace_within_the_limit():
    text = "alpha beta gamma delta " * 10
    pieces = pii.chunks(text, max_bytes=30)
    assert "".join(piece for _, piece in pieces) == text
    assert all(len(piece.encode()) <= 30 for _, piece in pieces)
    assert all(piece.endswith(" ") for _, piece in pieces[:-1])  # no word is split
    assert [offset for offset, _ in pieces] == [sum(len(p) for _, p in pieces[:i]) for i in range(len(pieces))]


def test_chunks_of_100_kb_cut_between_characters_without_whitespace():
    text = "é" * 60_000  # 120,000 bytes, no whitespace
    pieces = pii.chunks(text)
    assert [len(piece.encode()) for _, piece in pieces] == [100_000, 20_000]
    assert "".join(piece for _, piece in pieces) == text and pieces[1][0] == 50_000


def test_entities_found_per_chunk_have_whole_text_offsets():
    text = ("word " * 30_000) + "mail me@example.com now " + ("word " * 30_000)  # 300 KB: three chunks
    sent: list[str] = []

    def detect(piece: str, language: str) -> list[dict]:
        sent.append(piece)
        at = piece.find("me@example.com")
        return [] if at < 0 else [{"Type": "EMAIL", "BeginOffset": at, "EndOffset": at + 14, "Score": 0.99}]

    [entity] = pii.detect_entities(text, "en", detect=detect)
    assert len(sent) == 4 and all(len(p.encode()) <= pii.MAX_TEXT_BYTES for p in sent)
    assert text[entity["begin"]:entity["end"]] == "me@example.com"
    assert entity == {"type": "EMAIL", "begin": text.index("me@"), "end": text.index("me@") + 14, "score": 0.99}


def test_blank_chunks_are_not_sent():
    assert pii.detect_entities("   \n ", detect=lambda piece, language: 1 / 0) == []


def test_redact_replaces_each_entity_by_its_type():
    text = "Mail a@b.io or call 555-0100."
    entities = [{"type": "EMAIL", "begin": 5, "end": 11, "score": 1}, {"type": "PHONE", "begin": 20, "end": 28, "score": 1}]
    assert pii.redact(text, entities) == "Mail [EMAIL] or call [PHONE]."


def test_overlapping_entities_are_one_replacement_named_by_the_first():
    text = "see https://x.io/a@b.io here"
    url = {"type": "URL", "begin": 4, "end": 23, "score": 1}
    email = {"type": "EMAIL", "begin": 17, "end": 23, "score": 1}
    inner = {"type": "NAME", "begin": 4, "end": 10, "score": 1}  # starts together with the URL, shorter
    assert pii.redact(text, [email, url]) == "see [URL] here"
    assert pii.redact(text, [inner, url]) == "see [URL] here"
    tail = {"type": "EMAIL", "begin": 17, "end": 28, "score": 1}  # overlaps the URL and runs past it
    assert pii.redact(text, [url, tail]) == "see [URL]"


def test_pages_are_redacted_from_the_whole_texts_entities():
    pages = [{"page": 1, "text": "call 555-0100", "source": "textract"}, {"page": 2, "text": "a@b.io", "source": "textract"}]
    text = "call 555-0100\n\na@b.io"
    entities = [{"type": "PHONE", "begin": 5, "end": 13, "score": 1}, {"type": "EMAIL", "begin": 15, "end": 21, "score": 1}]
    assert [p["text"] for p in pii.redacted_pages(text, entities, pages)] == ["call [PHONE]", "[EMAIL]"]
    lost = [{"page": 1, "text": "not in the text", "source": "textract"}]
    assert pii.redacted_pages(text, entities, lost)[0]["text"] == ""  # never left unredacted


def test_transcribe_redactions_are_counted_by_type():
    document = {"results": {"items": [
        {"alternatives": [{"content": "[PII]", "redactions": [{"type": "EMAIL", "category": "PII"}]}]},
        {"alternatives": [{"content": "hello"}]},
        {"alternatives": [{"content": "[PII]", "redactions": [{"category": "PII"}]}]}]}}
    assert pii.counts(pii.transcribe_redactions(document)) == {"EMAIL": 1, "PII": 1}


def test_a_failure_keeps_its_retry_class_and_becomes_pii_redaction_failed():
    from media_pipeline.errors import MediaRejected, PipelineError, TransientError

    assert isinstance(pii.as_redaction_failure(TransientError("x", code="COMPREHEND_UNAVAILABLE")), TransientError)
    rejected = pii.as_redaction_failure(MediaRejected("too long", code="COMPREHEND_REJECTED"))
    assert isinstance(rejected, MediaRejected) and rejected.reason == "COMPREHEND_REJECTED: too long"
    bug = pii.as_redaction_failure(KeyError("text"))
    assert type(bug) is PipelineError and bug.code == "PII_REDACTION_FAILED"


def test_with_content_redaction_the_callback_points_at_the_redacted_transcript():
    from media_pipeline.transcription import outcome

    name = "media-0123456789abcdef0123456789abcdef-0"
    job = {"TranscriptionJobName": name, "TranscriptionJobStatus": "COMPLETED", "LanguageCode": "en-US",
           "Transcript": {"TranscriptFileUri": "https://s3.us-east-1.amazonaws.com/b/results/x/transcribe-0.json",
                          "RedactedTranscriptFileUri":
                              "https://s3.us-east-1.amazonaws.com/b/results/x/redacted-transcribe-0.json"}}
    assert outcome(job)[1]["transcript_key"] == "results/x/redacted-transcribe-0.json"
    job["Transcript"]["RedactedTranscriptFileUri"] = "s3://b/results/x/redacted-transcribe-0.json"
    assert outcome(job)[1]["transcript_key"] == "results/x/redacted-transcribe-0.json"
    del job["Transcript"]["RedactedTranscriptFileUri"]  # no redaction: the output key, as before
    assert outcome(job)[1]["transcript_key"] == "results/0123456789abcdef0123456789abcdef/transcribe-0.json"
