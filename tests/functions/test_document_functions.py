"""The document path's handlers on moto (S3, DynamoDB), with Textract fed real-shaped responses.

moto's Textract returns no blocks, so Textract is either a recording fake or a real client under botocore's
Stubber (which also checks every request and response against the service model).
"""
from __future__ import annotations

import copy
import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from media_pipeline.errors import MediaRejected, PipelineError, ThrottledError, TransientError
from tests import document_factory as factory
from tests.conftest import BUCKET, TABLE
from tests.functions.s3_faults import s3_answers

MEDIA_ID = "d0c0ffee" * 4
TOPIC = "arn:aws:sns:us-east-1:123456789012:textract-done"
ROLE = "arn:aws:iam::123456789012:role/textract-sns"
STATE_LIMIT = 8 * 1024


class LambdaContext:
    function_name = "document"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:document"
    aws_request_id = "req-doc"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000  # the Textract dispatchers' timeout (media_pipeline/steps.py)


def client_error(code: str, status: int = 400, operation: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class FakeTextract:
    """Records every call; answers DetectDocumentText and GetDocumentTextDetection from prepared responses."""

    def __init__(self, *, detect: dict | Exception | None = None, job_pages: list[dict] | None = None,
                 status: str = "IN_PROGRESS", status_message: str | None = None):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.detect = detect
        self.job_pages = job_pages or []
        self.status, self.status_message = status, status_message
        self.errors: dict[str, Exception] = {}
        self.token_saved_at_start: bool | None = None

    def count(self, operation: str | None = None) -> int:
        return sum(1 for name, _ in self.calls if operation in (None, name))

    def _call(self, name: str, request: dict[str, Any]) -> None:
        self.calls.append((name, request))
        if name in self.errors:
            raise self.errors[name]

    def detect_document_text(self, **request: Any) -> dict:
        self._call("detect_document_text", request)
        if isinstance(self.detect, Exception):
            raise self.detect
        return copy.deepcopy(self.detect)

    def start_document_text_detection(self, **request: Any) -> dict:
        self._call("start_document_text_detection", request)
        key = {"pk": {"S": f"TOKEN#textract#{request['JobTag']}"}, "sk": {"S": "TOKEN"}}
        self.token_saved_at_start = "Item" in boto3.client("dynamodb").get_item(TableName=TABLE, Key=key)
        return {"JobId": "job-1"}

    def get_document_text_detection(self, **request: Any) -> dict:
        self._call("get_document_text_detection", request)
        if request.get("MaxResults") == 1:  # a status check
            answer = {"JobStatus": self.status, "DocumentMetadata": {"Pages": 1}, "Blocks": []}
            return {**answer, **({"StatusMessage": self.status_message} if self.status_message else {})}
        token = request.get("NextToken")
        index = int(token[1:]) if token else 0
        return dict(self.job_pages[index])  # the handler never changes blocks; a deep copy of 1,000 blocks is slow


class StepFunctionsRecorder:
    def __init__(self, fail_with: str | None = None):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with = fail_with

    def send_task_success(self, **request: Any) -> dict:
        self.calls.append(("success", request))
        if self.fail_with:
            raise client_error(self.fail_with)
        return {}

    def send_task_failure(self, **request: Any) -> dict:
        self.calls.append(("failure", request))
        return {}


@pytest.fixture
def env(aws, monkeypatch):
    monkeypatch.setenv("TEXTRACT_SNS_TOPIC_ARN", TOPIC)
    monkeypatch.setenv("TEXTRACT_ROLE_ARN", ROLE)
    from tests.conftest import reset_runtime_caches

    reset_runtime_caches()
    return aws


def use(service: str, fake: Any) -> Any:
    from media_pipeline import aws as aws_clients

    aws_clients._clients[(service, None)] = fake
    return fake


@pytest.fixture
def textract(env) -> FakeTextract:
    return use("textract", FakeTextract())


@pytest.fixture
def sfn(env) -> StepFunctionsRecorder:
    return use("stepfunctions", StepFunctionsRecorder())


def upload(body: bytes, fmt: str, key: str | None = None) -> dict[str, Any]:
    key = key or f"uploads/doc.{fmt}"
    version = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    media_type = "document" if fmt == "pdf" else "image"
    return {"media": {"media_id": MEDIA_ID, "bucket": BUCKET, "key": key, "version_id": version, "etag": "e",
                      "size": len(body), "media_type": media_type, "detected_format": fmt,
                      "source": f"s3://{BUCKET}/{key}"}, "steps": {}}


def s3_json(key: str) -> Any:
    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def s3_text(key: str) -> str:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def analyze(state: dict) -> dict:
    from functions.analyze_document.handler import handler

    result = handler(state, LambdaContext())
    state["steps"]["document"] = json.loads(json.dumps(result))  # what the state machine stores
    return result


def start(state: dict, token: str = "task-token-1") -> dict:
    from functions.start_document_analysis.handler import handler

    return handler({"task_token": token, "state": state}, LambdaContext())


def collect(state: dict) -> dict:
    from functions.collect_document_text.handler import handler

    result = handler(state, LambdaContext())
    state["steps"]["document_text"] = json.loads(json.dumps(result))
    return result


def notification(status: str = "SUCCEEDED", tag: str = MEDIA_ID, job_id: str = "job-1") -> dict:
    message = {"JobId": job_id, "Status": status, "API": "StartDocumentTextDetection", "JobTag": tag,
               "Timestamp": 1700000000000,
               "DocumentLocation": {"S3ObjectName": f"results/{tag or MEDIA_ID}/ocr-input.pdf", "S3Bucket": BUCKET}}
    return {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": f"{TOPIC}:sub",
            "Sns": {"Type": "Notification", "MessageId": f"m-{job_id}", "TopicArn": TOPIC, "Subject": None,
                    "Message": json.dumps(message), "Timestamp": "2024-01-01T00:00:00.000Z", "SignatureVersion": "1",
                    "Signature": "x", "SigningCertUrl": "x", "UnsubscribeUrl": "x", "MessageAttributes": {}}}


def callback(*records: dict) -> dict:
    from functions.textract_callback.handler import handler

    return handler({"Records": list(records)}, LambdaContext())


def token_item(media_id: str = MEDIA_ID) -> dict | None:
    key = {"pk": {"S": f"TOKEN#textract#{media_id}"}, "sk": {"S": "TOKEN"}}
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key=key).get("Item")


def pdf_pages(key: str) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


# --- text layer ------------------------------------------------------------------------------------------------
def test_born_digital_pdf_is_read_without_textract(textract):
    state = upload(factory.text_pdf([["Annual report 2024", "Revenue rose by 12 percent."],
                                     ["Outlook: steady growth (expected)."]]), "pdf")
    result = analyze(state)
    assert result["mode"] == "text_layer" and result["page_count"] == 2 and result["ocr_pages"] == []
    assert s3_json(result["pages_key"]) == [
        {"page": 1, "text": "Annual report 2024\nRevenue rose by 12 percent.", "source": "text_layer"},
        {"page": 2, "text": "Outlook: steady growth (expected).", "source": "text_layer"}]
    assert s3_text(result["text_key"]) == "Annual report 2024\nRevenue rose by 12 percent.\n\nOutlook: steady growth (expected).\n"
    collected = collect(state)
    assert collected == {"text_key": result["text_key"], "pages_key": result["pages_key"], "blocks_key": None,
                         "page_count": 2, "page_sources": {"text_layer": [1, 2], "textract": []}, "warnings": []}
    assert textract.count() == 0


# --- images: synchronous ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, pil_format", [("png", "PNG"), ("jpeg", "JPEG"), ("tiff", "TIFF")])
def test_image_goes_through_detect_document_text(textract, fmt, pil_format):
    body = factory.image_bytes(["Invoice 42", "Total due: $19.99"], fmt=pil_format)
    textract.detect = factory.detect_document_text_response(["Invoice 42", "Total due: $19.99"])
    state = upload(body, fmt)
    result = analyze(state)
    assert textract.count() == 1 and textract.calls[0][1] == {"Document": {"Bytes": body}}
    assert result["mode"] == "sync" and result["format"] == fmt and result["ocr_pages"] == [1] and result["warnings"] == []
    assert s3_json(result["pages_key"]) == [{"page": 1, "text": "Invoice 42\nTotal due: $19.99", "source": "textract"}]
    blocks = s3_json(result["blocks_key"])
    assert [b["BlockType"] for b in blocks["Blocks"]].count("WORD") == 5 and "ResponseMetadata" not in blocks
    collected = collect(state)
    assert collected["page_sources"] == {"text_layer": [], "textract": [1]}
    assert collected["blocks_key"] == result["blocks_key"] and textract.count() == 1


def animated_gif(frames: list[list[str]]) -> bytes:
    import io

    from PIL import Image

    pictures = [Image.open(io.BytesIO(factory.image_bytes(lines, fmt="PNG"))).convert("P") for lines in frames]
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=500, loop=0)
    return out.getvalue()


@pytest.mark.parametrize("fmt, make", [
    ("webp", lambda: factory.image_bytes(["Invoice 42", "Total due: $19.99"], fmt="WEBP")),
    ("gif", lambda: factory.image_bytes(["Invoice 42", "Total due: $19.99"], fmt="GIF")),
    ("bmp", lambda: factory.image_bytes(["Invoice 42", "Total due: $19.99"], fmt="BMP")),
    ("avif", lambda: factory.image_bytes(["Invoice 42", "Total due: $19.99"], fmt="AVIF")),
    ("heic", lambda: heic_bytes(["Invoice 42", "Total due: $19.99"])),
])
def test_images_textract_does_not_read_are_converted_to_png(textract, fmt, make):
    from PIL import Image

    from media_pipeline.media_types import sniff

    body = make()
    assert (sniff(body[:4096]).media_type, sniff(body[:4096]).format) == ("image", fmt)
    textract.detect = factory.detect_document_text_response(["Invoice 42", "Total due: $19.99"])
    result = analyze(upload(body, fmt))
    sent = textract.calls[0][1]["Document"]["Bytes"]
    assert sent.startswith(b"\x89PNG") and Image.open(__import__("io").BytesIO(sent)).size == (850, 1100)
    converted = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/textract-input.png")["Body"].read()
    assert converted == sent
    assert result["mode"] == "sync" and result["format"] == fmt and result["warnings"] == []
    assert s3_json(result["pages_key"]) == [{"page": 1, "text": "Invoice 42\nTotal due: $19.99", "source": "textract"}]


def heic_bytes(lines: list[str]) -> bytes:
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(factory.image_bytes(lines, fmt="PNG"))).convert("RGB").save(out, format="HEIF", quality=90)
    return out.getvalue()


def test_animated_gif_is_read_from_its_first_frame_with_a_warning(textract):
    textract.detect = factory.detect_document_text_response(["First frame"])
    result = analyze(upload(animated_gif([["First frame"], ["Second frame"]]), "gif"))
    assert textract.count() == 1
    assert [w["code"] for w in result["warnings"]] == ["FIRST_FRAME_ONLY"]
    assert "2 frames" in result["warnings"][0]["message"]


def test_blank_image_succeeds_empty_with_no_paid_call(textract):
    result = analyze(upload(factory.blank_image("PNG"), "png"))
    assert textract.count() == 0
    assert result["mode"] == "sync" and [w["code"] for w in result["warnings"]] == ["NO_TEXT_FOUND"]
    assert s3_text(result["text_key"]) == "" and s3_json(result["pages_key"]) == []


def test_image_where_textract_finds_no_text_warns(textract):
    textract.detect = factory.detect_document_text_response([])
    result = analyze(upload(factory.image_bytes(["~"], fmt="PNG"), "png"))
    assert textract.count() == 1 and [w["code"] for w in result["warnings"]] == ["NO_TEXT_FOUND"]
    assert s3_json(result["pages_key"]) == [{"page": 1, "text": "", "source": "textract"}]


@pytest.mark.parametrize("error, cls, code", [
    (client_error("ProvisionedThroughputExceededException"), ThrottledError, "TEXTRACT_THROTTLED"),
    (client_error("ThrottlingException"), ThrottledError, "TEXTRACT_THROTTLED"),
    (client_error("InternalServerError", 500), TransientError, "TEXTRACT_UNAVAILABLE"),
    (client_error("UnsupportedDocumentException"), MediaRejected, "TEXTRACT_REJECTED"),
])
def test_textract_errors_on_images_are_typed(textract, error, cls, code):
    textract.detect = error
    with pytest.raises(cls) as caught:
        analyze(upload(factory.image_bytes(["text"], fmt="PNG"), "png"))
    assert caught.value.code == code
    assert json.loads(str(caught.value))["code"] == code  # what RecordFailure reads back


# --- bad inputs: rejected before any paid call -----------------------------------------------------------------
BAD_INPUTS = {  # name: (make, detected format, expected code)
    "encrypted": (factory.encrypted_pdf, "pdf", "ENCRYPTED_DOCUMENT"),
    "corrupt": (factory.corrupt_pdf, "pdf", "CORRUPT_DOCUMENT"),
    "3001 pages": (lambda: factory.pdf_bytes([factory.text_page("one more page of text")] * 3001), "pdf", "TOO_MANY_PAGES"),
    "png over 10 MB": (lambda: factory.noisy_png(1900), "png", "DOCUMENT_TOO_LARGE"),
    "bomb": (factory.decompression_bomb_png, "png", "DECOMPRESSION_BOMB"),
    "10001 px wide": (lambda: factory.blank_image(size=(10_001, 60)), "png", "IMAGE_TOO_LARGE"),
    "40 px": (lambda: factory.image_bytes(["x"], size=(40, 40)), "png", "IMAGE_TOO_SMALL"),
    "truncated": (lambda: factory.image_bytes(["text"])[:3000], "png", "CORRUPT_IMAGE"),
    "gif": (lambda: factory.image_bytes(["text"], fmt="GIF"), "png", "UNSUPPORTED_IMAGE_FORMAT"),
    "not a document": (lambda: b"RIFF....WAVE", "wav", "UNSUPPORTED_MEDIA_TYPE"),
}


def test_bad_inputs_are_rejected_with_their_code(textract):
    codes = {}
    for name, (make, fmt, _) in BAD_INPUTS.items():
        with pytest.raises(MediaRejected) as caught:
            analyze(upload(make(), fmt, key=f"uploads/{name}.{fmt}"))
        codes[name] = caught.value.code
    assert codes == {name: code for name, (_, _, code) in BAD_INPUTS.items()}
    assert textract.count() == 0


def test_pdf_over_the_async_limit_is_rejected_before_download(textract, monkeypatch):
    from media_pipeline import documents

    monkeypatch.setattr(documents, "ASYNC_MAX_BYTES", 1000)  # 500 MB is too much to generate in a unit test
    state = upload(factory.scanned_pdf([["big"]]), "pdf")
    with pytest.raises(MediaRejected) as caught:
        analyze(state)
    assert caught.value.code == "DOCUMENT_TOO_LARGE" and caught.value.details["limit"] == 1000


def test_deleted_object_is_reported(textract):
    state = upload(factory.text_pdf([["gone soon, gone soon"]]), "pdf")
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=state["media"]["key"], VersionId=state["media"]["version_id"])
    with pytest.raises(MediaRejected) as caught:
        analyze(state)
    assert caught.value.code == "OBJECT_NOT_FOUND"


KMS_DENIED = ("User: arn:aws:sts::123456789012:assumed-role/analyze/x is not authorized to perform: kms:Decrypt "
              "on the resource associated with this ciphertext because no identity-based policy allows the "
              "kms:Decrypt action")


def test_a_403_on_the_upload_without_list_bucket_is_object_not_found(textract):
    """HeadObject of a deleted key answers 403 when the role may not list the bucket."""
    state = upload(factory.text_pdf([["gone soon, gone soon"]]), "pdf")
    calls = s3_answers("HeadObject", 403)
    with pytest.raises(MediaRejected) as caught:
        analyze(state)
    media = state["media"]
    assert caught.value.as_dict() == {
        "code": "OBJECT_NOT_FOUND",
        "message": f"s3://{BUCKET}/{media['key']} (version {media['version_id']}) does not exist or cannot be read "
                   "(S3 answers 403 for a missing key when the caller may not list the bucket)"}
    assert len(calls) == 1 and f"versionId={media['version_id']}" in calls[0] and textract.count() == 0


@pytest.mark.parametrize("fmt, operation", [("png", "GetObject"), ("pdf", "GetObject"), ("tiff", "CopyObject")])
def test_reads_of_the_upload_tell_a_missing_object_from_a_denied_one(textract, fmt, operation):
    body = {"png": factory.image_bytes(("Invoice 2041",)), "pdf": factory.text_pdf([["a born-digital page"]]),
            "tiff": factory.multipage_tiff([["page one"], ["page two"]])}[fmt]
    state = upload(body, fmt)
    missing = s3_answers(operation, 403, "AccessDenied", "Access Denied")
    with pytest.raises(MediaRejected) as caught:
        analyze(state)
    assert caught.value.code == "OBJECT_NOT_FOUND" and missing
    missing.stop()
    s3_answers(operation, 403, "AccessDenied", KMS_DENIED)
    with pytest.raises(PipelineError) as caught:
        analyze(state)
    assert caught.value.code == "OBJECT_ACCESS_DENIED" and caught.value.reason.endswith(KMS_DENIED)
    assert textract.count() == 0


def test_a_failing_read_of_the_upload_is_retried_by_the_state_machine(textract):
    state = upload(factory.image_bytes(("Invoice 2041",)), "png")
    s3_answers("GetObject", 500, "InternalError", "We encountered an internal error. Please try again.")
    with pytest.raises(TransientError) as caught:  # the ASL retries TransientError (and ThrottledError)
        analyze(state)
    assert caught.value.code == "S3_READ_FAILED" and "InternalError" in caught.value.reason


# --- scanned PDF: asynchronous job, SNS callback, results in pages ---------------------------------------------
def test_scanned_pdf_end_to_end_with_the_real_textract_model(env, sfn):
    """analyze → start (Stubber checks the request) → SNS callback → collect through three NextToken pages."""
    scans = [["Scanned page one"], ["Scanned page two"], ["Scanned page three"]]
    state = upload(factory.scanned_pdf(scans), "pdf")
    result = analyze(state)
    assert result["mode"] == "async" and result["ocr_pages"] == [1, 2, 3] and result["page_count"] == 3
    assert result["ocr_input_key"] == f"results/{MEDIA_ID}/ocr-input.pdf"
    assert pdf_pages(result["ocr_input_key"]) == ["", "", ""]  # three image-only pages went to OCR
    assert s3_json(result["text_layer_pages_key"]) == []

    real = boto3.client("textract", region_name="us-east-1")
    stubber = Stubber(real)
    stubber.add_response("start_document_text_detection", {"JobId": "job-1"}, {
        "DocumentLocation": {"S3Object": {"Bucket": BUCKET, "Name": f"results/{MEDIA_ID}/ocr-input.pdf"}},
        "ClientRequestToken": MEDIA_ID, "JobTag": MEDIA_ID,
        "NotificationChannel": {"SNSTopicArn": TOPIC, "RoleArn": ROLE}})
    stubber.add_response("get_document_text_detection", {"JobStatus": "IN_PROGRESS"}, {"JobId": "job-1", "MaxResults": 1})
    pages = factory.textract_responses({i + 1: lines for i, lines in enumerate(scans)}, blocks_per_response=5)
    assert len(pages) == 3
    for index, response in enumerate(pages):
        response.pop("ResponseMetadata")
        expected = {"JobId": "job-1", "MaxResults": 1000, **({"NextToken": f"t{index}"} if index else {})}
        stubber.add_response("get_document_text_detection", response, expected)
    use("textract", real)
    with stubber:
        started = start(state)
        assert started == {"admitted": True, "job_id": "job-1", "status": "IN_PROGRESS", "resumed": None,
                           "started_for": [started["started_for"][0]]}
        assert token_item()["task_token"]["S"] == "task-token-1"

        resumed = callback(notification("SUCCEEDED"))
        assert resumed["results"][0]["result"] == "success"
        assert sfn.calls == [("success", {"taskToken": "task-token-1", "output": json.dumps({"job_id": "job-1", "status": "SUCCEEDED"})})]
        assert token_item() is None
        state["steps"]["ocr"] = json.loads(sfn.calls[0][1]["output"])

        collected = collect(state)
        stubber.assert_no_pending_responses()  # every NextToken page was read, and nothing more
    assert s3_json(collected["pages_key"]) == [
        {"page": 1, "text": "Scanned page one", "source": "textract"},
        {"page": 2, "text": "Scanned page two", "source": "textract"},
        {"page": 3, "text": "Scanned page three", "source": "textract"}]
    assert collected["page_sources"] == {"text_layer": [], "textract": [1, 2, 3]} and collected["warnings"] == []
    blocks = s3_json(collected["blocks_key"])
    assert len(blocks["Blocks"]) == sum(len(p["Blocks"]) for p in pages) and blocks["OriginalPageNumbers"] == [1, 2, 3]


def test_mixed_pdf_sends_only_the_scanned_pages_and_merges_them_back(env, textract, sfn):
    state = upload(factory.pdf_bytes([
        factory.text_page("Contract between the parties, page one."),
        factory.scanned_page("Signed page"),
        factory.text_page("Terms and conditions on page three."),
        factory.scanned_page("Annex scan", overlay="Page 4"),
        factory.BlankPage(),
    ]), "pdf")
    result = analyze(state)
    assert result["mode"] == "async" and result["ocr_pages"] == [2, 4] and result["page_count"] == 5
    assert pdf_pages(result["ocr_input_key"]) == ["", "Page 4"]  # only the two scans were copied, in order
    assert [p["page"] for p in s3_json(result["text_layer_pages_key"])] == [1, 3, 5]

    start(state)
    assert textract.token_saved_at_start is True  # the token was stored before the job could finish
    request = textract.calls[0][1]
    assert request["DocumentLocation"]["S3Object"]["Name"].endswith("/ocr-input.pdf")
    callback(notification("SUCCEEDED"))
    state["steps"]["ocr"] = json.loads(sfn.calls[0][1]["output"])
    # OCR page 1 is original page 2, OCR page 2 is original page 4; two blocks per response: several NextTokens.
    textract.job_pages = factory.textract_responses({1: ["Signed by both parties"], 2: ["Annex A", "Price list"]},
                                                    blocks_per_response=2)
    assert len(textract.job_pages) >= 3
    collected = collect(state)
    assert collected["page_sources"] == {"text_layer": [1, 3, 5], "textract": [2, 4]}
    assert [(p["page"], p["source"], p["text"]) for p in s3_json(collected["pages_key"])] == [
        (1, "text_layer", "Contract between the parties, page one."),
        (2, "textract", "Signed by both parties"),
        (3, "text_layer", "Terms and conditions on page three."),
        (4, "textract", "Annex A\nPrice list"),
        (5, "text_layer", "")]
    assert s3_text(collected["text_key"]) == ("Contract between the parties, page one.\n\nSigned by both parties\n\n"
                                             "Terms and conditions on page three.\n\nAnnex A\nPrice list\n")
    gets = [r for name, r in textract.calls if name == "get_document_text_detection" and r["MaxResults"] == 1000]
    assert [r.get("NextToken") for r in gets] == [None] + [f"t{i}" for i in range(1, len(textract.job_pages))]


def test_multipage_tiff_goes_through_an_async_job(env, textract):
    result = analyze(upload(factory.multipage_tiff([["first"], ["second"]]), "tiff"))
    assert result["mode"] == "async" and result["ocr_pages"] == [1, 2] and result["text_layer_pages_key"] is None
    assert result["ocr_input_key"] == f"results/{MEDIA_ID}/ocr-input.tiff" and textract.count() == 0


def test_a_tiff_past_the_sync_limit_is_read_from_disk_and_goes_async(env, textract, monkeypatch):
    from media_pipeline import documents

    monkeypatch.setattr(documents, "SYNC_MAX_BYTES", 1000)  # stands in for a TIFF over 10 MB
    result = analyze(upload(factory.image_bytes(["one large page"], fmt="TIFF"), "tiff"))
    assert result["mode"] == "async" and result["ocr_pages"] == [1] and textract.count() == 0
    copied = boto3.client("s3").head_object(Bucket=BUCKET, Key=result["ocr_input_key"])
    assert copied["ContentType"] == "image/tiff"


def test_job_with_no_text_and_partial_results_warns(env, textract):
    state = upload(factory.scanned_pdf([["a"], ["b"]]), "pdf")
    analyze(state)
    state["steps"]["ocr"] = {"job_id": "job-1", "status": "PARTIAL_SUCCESS"}
    textract.job_pages = factory.textract_responses({1: [], 2: []}, status="PARTIAL_SUCCESS",
                                                    warnings=[{"ErrorCode": "INTERNAL_ERROR", "Pages": [2]}])
    collected = collect(state)
    codes = {w["code"]: w["message"] for w in collected["warnings"]}
    assert set(codes) == {"TEXTRACT_PARTIAL_RESULT", "NO_TEXT_FOUND"} and "page(s) 2 " in codes["TEXTRACT_PARTIAL_RESULT"]


def test_collect_failures_are_typed(env, textract):
    state = upload(factory.scanned_pdf([["a"]]), "pdf")
    analyze(state)
    state["steps"]["ocr"] = {"job_id": "job-1", "status": "SUCCEEDED"}
    textract.job_pages = factory.textract_responses({1: ["x"]}, status="FAILED")
    textract.job_pages[0]["StatusMessage"] = "The document could not be read"
    with pytest.raises(PipelineError) as caught:
        collect(state)
    assert caught.value.code == "TEXTRACT_JOB_FAILED" and "could not be read" in caught.value.reason
    textract.errors["get_document_text_detection"] = client_error("ProvisionedThroughputExceededException")
    with pytest.raises(ThrottledError):
        collect(state)


# --- start and callback edge cases -----------------------------------------------------------------------------
def scanned_state(textract) -> dict:
    state = upload(factory.scanned_pdf([["a page"]]), "pdf")
    analyze(state)
    return state


def test_a_throttled_start_fails_the_task_as_throttled_and_gives_the_slot_back(env, textract, sfn):
    """The job is started by whoever dispatches the item (this step, a callback, release_capacity): a refusal goes
    to the item's own execution through its task token, named ThrottledError so that the state's Retry applies."""
    from media_pipeline import admission

    state = scanned_state(textract)
    for attempt, code in enumerate(("LimitExceededException", "ProvisionedThroughputExceededException",
                                    "ThrottlingException")):
        textract.errors["start_document_text_detection"] = client_error(code)
        assert start(state, token=f"token-{attempt}")["admitted"] is False
        name, call = sfn.calls[-1]
        assert name == "failure" and call["taskToken"] == f"token-{attempt}", code
        assert call["error"] == "ThrottledError" and json.loads(call["cause"])["code"] == "TEXTRACT_THROTTLED"
        assert admission.holders("textract") == {} and admission.waiting("textract") == []
        assert token_item() is None


def test_a_retried_start_whose_job_already_finished_resumes_the_execution(env, textract, sfn):
    state = scanned_state(textract)
    textract.status = "SUCCEEDED"  # ClientRequestToken gave back a job that finished before this attempt
    assert start(state, token="token-2")["resumed"] == "success"
    assert sfn.calls[0][1]["taskToken"] == "token-2" and token_item() is None
    assert textract.count("start_document_text_detection") == 1


def stubbed_start(state: dict) -> tuple[Any, Stubber]:
    """A real Textract client under Stubber whose StartDocumentTextDetection returns the retried job."""
    real = boto3.client("textract", region_name="us-east-1")
    stubber = Stubber(real)
    stubber.add_response("start_document_text_detection", {"JobId": "job-1"}, {
        "DocumentLocation": {"S3Object": {"Bucket": BUCKET, "Name": f"results/{MEDIA_ID}/ocr-input.pdf"}},
        "ClientRequestToken": MEDIA_ID, "JobTag": MEDIA_ID,
        "NotificationChannel": {"SNSTopicArn": TOPIC, "RoleArn": ROLE}})
    use("textract", real)
    return real, stubber


def test_a_retried_start_that_may_not_read_the_job_fails_the_step(env, textract, sfn):
    """Swallowed, the error would leave the execution waiting its whole timeout for a notification already sent."""
    state = scanned_state(textract)
    _, stubber = stubbed_start(state)
    stubber.add_client_error("get_document_text_detection", service_error_code="AccessDeniedException",
                             service_message="User is not authorized to perform: textract:GetDocumentTextDetection",
                             http_status_code=400, expected_params={"JobId": "job-1", "MaxResults": 1})
    with stubber:
        assert start(state, token="token-2")["failed"] == "TEXTRACT_ACCESS_DENIED"
    stubber.assert_no_pending_responses()
    [(name, call)] = sfn.calls  # the failure reaches the execution through its token: its Catch records it
    assert name == "failure" and call["taskToken"] == "token-2" and call["error"] == "PipelineError"
    cause = json.loads(call["cause"])
    assert cause["code"] == "TEXTRACT_ACCESS_DENIED"
    assert "GetDocumentTextDetection: AccessDeniedException" in cause["message"]
    assert token_item() is None


def test_a_retried_start_that_may_not_resume_the_execution_fails_the_step(env, textract):
    state = scanned_state(textract)
    _, textract_stubber = stubbed_start(state)
    textract_stubber.add_response("get_document_text_detection", {"JobStatus": "SUCCEEDED"},
                                  {"JobId": "job-1", "MaxResults": 1})
    states = use("stepfunctions", boto3.client("stepfunctions", region_name="us-east-1"))
    states_stubber = Stubber(states)
    states_stubber.add_client_error("send_task_success", service_error_code="AccessDeniedException",
                                    service_message="not authorized to perform: states:SendTaskSuccess",
                                    expected_params={"taskToken": "token-2",
                                                     "output": json.dumps({"job_id": "job-1", "status": "SUCCEEDED"})})
    with textract_stubber, states_stubber, pytest.raises(PipelineError) as caught:
        start(state, token="token-2")
    states_stubber.assert_no_pending_responses()
    assert caught.value.code == "STATES_ACCESS_DENIED" and "SendTaskSuccess" in caught.value.reason
    assert token_item() is not None  # kept: a later attempt can still resume with it


def test_start_needs_the_notification_channel(env, textract, monkeypatch):
    state = scanned_state(textract)
    monkeypatch.delenv("TEXTRACT_SNS_TOPIC_ARN")
    from media_pipeline import settings

    settings.settings.cache_clear()
    with pytest.raises(PipelineError) as caught:
        start(state)
    assert caught.value.code == "TEXTRACT_NOT_CONFIGURED" and textract.count() == 0


def test_failed_job_fails_the_task_with_textracts_reason(env, textract, sfn):
    state = scanned_state(textract)
    start(state)
    textract.status, textract.status_message = "FAILED", "Request has unsupported document format"
    result = callback(notification("FAILED"))
    assert result["results"][0]["result"] == "failure"
    kind, request = sfn.calls[0]
    assert kind == "failure" and request["error"] == "TEXTRACT_JOB_FAILED"
    assert "unsupported document format" in request["cause"] and token_item() is None


def test_callback_handles_each_record_on_its_own(env, textract, sfn):
    state = scanned_state(textract)
    start(state)
    unreadable = notification()
    unreadable["Sns"]["Message"] = "not json"
    other_api = notification(job_id="job-9")
    message = json.loads(other_api["Sns"]["Message"])
    other_api["Sns"]["Message"] = json.dumps({**message, "API": "StartDocumentAnalysis"})
    result = callback(notification(tag="f" * 32, job_id="job-x"), unreadable, other_api, notification())
    assert [r["result"] for r in result["results"]] == ["no-token", "unreadable", "ignored", "success"]
    assert len(sfn.calls) == 1
    # A repeated notification finds no token and changes nothing.
    assert callback(notification())["results"][0]["result"] == "no-token" and len(sfn.calls) == 1


def test_callback_without_a_job_tag_uses_the_ocr_input_location(env, textract, sfn):
    # moto's Textract publishes notifications with an empty JobTag; real ones carry it.
    state = scanned_state(textract)
    start(state)
    assert callback(notification(tag=""))["results"][0]["result"] == "success"


def test_a_timed_out_task_is_not_an_error(env, textract):
    use("stepfunctions", StepFunctionsRecorder(fail_with="TaskTimedOut"))
    state = scanned_state(textract)
    start(state)
    assert callback(notification())["results"][0]["result"] == "stale-token" and token_item() is None


def test_a_record_that_breaks_fails_the_invocation_after_the_others(env, textract, sfn, monkeypatch):
    state = scanned_state(textract)
    start(state)
    from media_pipeline import textract

    real = textract.resume_execution
    monkeypatch.setattr(textract, "resume_execution",
                        lambda media_id, *a: (_ for _ in ()).throw(RuntimeError("boom")) if media_id == "e" * 32 else real(media_id, *a))
    with pytest.raises(TransientError) as caught:
        callback(notification(tag="e" * 32, job_id="job-e"), notification())
    assert caught.value.code == "TEXTRACT_CALLBACK_FAILED" and len(sfn.calls) == 1  # the good record still resumed


# --- long documents: small payloads, bounded memory ------------------------------------------------------------
def payload_size(value: Any) -> int:
    return len(json.dumps(value))


def test_300_page_born_digital_pdf(textract):
    body, expected = factory.long_pdf(300)
    state = upload(body, "pdf")
    began = time.perf_counter()
    result = analyze(state)
    collected = collect(state)
    elapsed = time.perf_counter() - began
    pages = s3_json(collected["pages_key"])
    assert [p["text"] for p in pages] == [expected[n] for n in range(1, 301)]
    assert textract.count() == 0 and elapsed < 10
    print(f"\n300-page born-digital PDF: payload bytes analyze={payload_size(result)} collect={payload_size(collected)}, {elapsed:.1f} s")
    assert max(payload_size(result), payload_size(collected)) < STATE_LIMIT


def test_300_page_scanned_pdf_through_async(env, textract, sfn):
    body, expected = factory.long_pdf(300, scanned_every=1)
    state = upload(body, "pdf")
    began = time.perf_counter()
    result = analyze(state)
    assert result["ocr_pages"] == list(range(1, 301))
    started = start(state)
    callback(notification())
    state["steps"]["ocr"] = json.loads(sfn.calls[0][1]["output"])
    lines = {n: [f"Scanned page {n} line {i}: words to read here" for i in range(9)] for n in range(1, 301)}
    textract.job_pages = factory.textract_responses(lines, blocks_per_response=1000)
    collected = collect(state)
    elapsed = time.perf_counter() - began
    pages = s3_json(collected["pages_key"])
    assert [p["page"] for p in pages] == list(range(1, 301)) and pages[299]["text"].startswith("Scanned page 300 line 0")
    assert textract.count("get_document_text_detection") == len(textract.job_pages) + 1  # + the status check at start
    assert textract.count("start_document_text_detection") == 1
    etag = boto3.client("s3").head_object(Bucket=BUCKET, Key=collected["blocks_key"])["ETag"]
    assert etag.endswith('-2"')  # > 8 MB of blocks: streamed up in two multipart parts, never held whole
    blocks = s3_json(collected["blocks_key"])
    assert len(blocks["Blocks"]) == sum(len(p["Blocks"]) for p in textract.job_pages)
    sizes = {"analyze": payload_size(result), "start": payload_size(started), "collect": payload_size(collected)}
    print(f"\n300-page scanned PDF: payload bytes {sizes}, {len(textract.job_pages)} result pages, {elapsed:.1f} s")
    assert max(sizes.values()) < STATE_LIMIT and elapsed < 20
