"""finalize on a state that breaks the contract (media_pipeline.contract): Finalize fails with the reason, so its
Catch records the failure; RecordFailure still writes the FAILED manifest, without the steps, saying why."""
from __future__ import annotations

import json

import boto3
import pytest

from tests.conftest import BUCKET
from tests.functions.test_audio_functions import LambdaContext

MEDIA_ID = "0123456789abcdef0123456789abcdef"
MEDIA = {"media_id": MEDIA_ID, "bucket": BUCKET, "key": "uploads/a.wav", "version_id": None, "etag": "e", "size": 10,
         "media_type": "audio", "detected_format": "wav", "source": f"s3://{BUCKET}/uploads/a.wav"}
BROKEN_STEPS = {"audio": {"parts": [{"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}]},
                "transcript": {"text_key": f"results/{MEDIA_ID}/transcript.txt"}}  # written by an older version


def manifest() -> dict:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/manifest.json")["Body"].read()
    return json.loads(body)


def test_finalize_on_a_broken_state_fails_naming_the_step_and_the_key(aws):
    from functions.finalize.handler import handler
    from media_pipeline.contract import StateContractError

    with pytest.raises(StateContractError) as caught:
        handler({"media": MEDIA, "steps": BROKEN_STEPS}, LambdaContext())
    assert caught.value.code == "INVALID_STATE"
    assert caught.value.reason == "steps.transcript: key 'segments_key' is missing"


def test_record_failure_on_a_broken_state_still_writes_the_failed_manifest(aws):
    from functions.finalize.handler import handler

    caught = {"Error": "StateContractError",
              "Cause": json.dumps({"errorType": "StateContractError", "errorMessage": json.dumps(
                  {"code": "INVALID_STATE", "message": "steps.transcript: key 'segments_key' is missing"})})}
    result = handler({"failed": True, "media": MEDIA, "steps": BROKEN_STEPS, "error": caught}, LambdaContext())
    assert result == {"status": "FAILED", "manifest_key": f"results/{MEDIA_ID}/manifest.json",
                      "error_code": "INVALID_STATE"}
    written = manifest()
    assert written["error"] == {"code": "INVALID_STATE", "message": "steps.transcript: key 'segments_key' is missing"}
    assert written["warnings"] == [{"code": "INVALID_STATE",
                                    "message": "steps.transcript: key 'segments_key' is missing"}]
    assert "transcript" not in written


def test_a_broken_media_item_is_not_papered_over(aws):
    from functions.finalize.handler import handler
    from media_pipeline.contract import StateContractError

    media = {k: v for k, v in MEDIA.items() if k != "bucket"}
    with pytest.raises(StateContractError, match="media: key 'bucket' is missing"):
        handler({"failed": True, "media": media, "steps": {}, "error": {"Error": "X", "Cause": "y"}}, LambdaContext())
