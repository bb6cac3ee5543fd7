"""Turn Transcribe's JSON (one file per part) into plain text, timed segments, WebVTT and SRT."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import transcripts
from media_pipeline.contract import AudioPart, MediaItem, PipelineState, TranscriptionJob, TranscriptResult, require
from media_pipeline.observability import metrics, pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import read_json, results_key, write_json, write_text


def process(media: MediaItem, parts: list[AudioPart], jobs: list[TranscriptionJob]) -> TranscriptResult:
    bucket, media_id = settings().media_bucket, media.media_id
    warnings: list[dict[str, str]] = []
    parsed = []
    for part, job in zip(parts, jobs):  # the Map state keeps the parts' order
        warnings.extend(job.warnings or [])
        if not job.transcript_key:
            continue
        document = read_json(bucket, job.transcript_key)
        parsed.append(transcripts.parse_transcribe_json(document, offset_seconds=float(part.offset_seconds or 0)))
    joined = transcripts.join_parts(parsed) if parsed else transcripts.Transcript("", None, [], 0, None)
    if joined.words == 0:  # also after NO_SPEECH_DETECTED: that says why, this says what the item holds
        warnings.append({"code": "EMPTY_TRANSCRIPT", "message": "no speech was recognised in the audio"})
    keys = {
        "text_key": write_text(bucket, results_key(media_id, "transcript.txt"), joined.text + ("\n" if joined.text else "")),
        "segments_key": write_json(bucket, results_key(media_id, "segments.json"), transcripts.segments_as_dicts(joined.segments)),
        "vtt_key": write_text(bucket, results_key(media_id, "captions.vtt"), transcripts.to_webvtt(joined.segments), "text/vtt"),
        "srt_key": write_text(bucket, results_key(media_id, "captions.srt"), transcripts.to_srt(joined.segments), "application/x-subrip"),
    }
    metrics.add_metric(name="TranscribedWords", unit=MetricUnit.Count, value=joined.words)
    return TranscriptResult(**keys, transcribe_keys=[j.transcript_key for j in jobs if j.transcript_key],
                            language=joined.language, words=joined.words, duration_seconds=joined.duration_seconds,
                            warnings=warnings)


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = PipelineState.from_state(event)
    steps = state.steps
    audio, jobs = require(steps.audio, "steps", "audio"), require(steps.transcription, "steps", "transcription")
    return process(state.media, audio.parts, jobs).to_state()
