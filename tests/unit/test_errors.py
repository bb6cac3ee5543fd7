import json

import pytest

from media_pipeline.errors import (BEDROCK, STATES, TEXTRACT, TRANSCRIBE, EnrichmentFailed, MediaRejected, PipelineError,
                                   ThrottledError, TransientError, aws_error, error_from_state, is_stale_token)


def lambda_cause(exc: Exception) -> str:
    return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []})


def test_a_lambda_failure_keeps_its_reason_code():
    exc = MediaRejected("the PDF is encrypted", code="ENCRYPTED_DOCUMENT")
    assert error_from_state("MediaRejected", lambda_cause(exc)) == {
        "code": "ENCRYPTED_DOCUMENT", "message": "the PDF is encrypted"}


def test_default_code_of_each_class():
    assert json.loads(str(ThrottledError("slow down")))["code"] == "THROTTLED"


def test_a_task_token_failure_names_its_code():
    assert error_from_state("TRANSCRIBE_JOB_FAILED", "The media format is not supported") == {
        "code": "TRANSCRIBE_JOB_FAILED", "message": "The media format is not supported"}


def test_an_unexpected_exception_becomes_a_code_from_its_type():
    cause = json.dumps({"errorMessage": "division by zero", "errorType": "ZeroDivisionError"})
    assert error_from_state("ZeroDivisionError", cause) == {"code": "ZERO_DIVISION_ERROR", "message": "division by zero"}


def test_states_errors_have_codes():
    assert error_from_state("States.Timeout", "")["code"] == "TIMEOUT"


# ---- the one mapping of a failed AWS call to a reason code ----------------------------------------------------

def client_error(code: str, status: int = 400, message: str = "no") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Operation")


@pytest.mark.parametrize("service, exc, cls, code", [
    (STATES, client_error("ThrottlingException"), ThrottledError, "STATES_THROTTLED"),
    (STATES, client_error("AccessDeniedException"), PipelineError, "STATES_ACCESS_DENIED"),
    (TRANSCRIBE, client_error("InternalFailureException", 500), TransientError, "TRANSCRIBE_UNAVAILABLE"),
    (TRANSCRIBE, client_error("BadRequestException"), PipelineError, "TRANSCRIBE_REQUEST_FAILED"),
    (TEXTRACT, client_error("BadDocumentException"), MediaRejected, "TEXTRACT_REJECTED"),
    (STATES, client_error("BadDocumentException"), PipelineError, "STATES_REQUEST_FAILED"),  # Textract's code only
    (BEDROCK, client_error("ModelNotReadyException"), ThrottledError, "BEDROCK_THROTTLED"),
    (BEDROCK, client_error("ModelTimeoutException", 408), TransientError, "BEDROCK_UNAVAILABLE"),
    (BEDROCK, client_error("AccessDeniedException", 403), EnrichmentFailed, "BEDROCK_ACCESS_DENIED"),
    (BEDROCK, client_error("ResourceNotFoundException", 404), EnrichmentFailed, "BEDROCK_RESOURCE_NOT_FOUND"),
    (BEDROCK, client_error("ValidationException"), EnrichmentFailed, "BEDROCK_VALIDATION"),
])
def test_each_service_adds_its_own_codes_to_the_one_mapping(service, exc, cls, code):
    error = aws_error(exc, service, "Call")
    assert type(error) is cls and error.code == code
    assert error.reason == f"{service.label}Call: {exc.response['Error']['Code']}: no"


def test_a_connection_failure_is_retried_and_a_client_side_mistake_is_not():
    from botocore.exceptions import EndpointConnectionError, ParamValidationError, ReadTimeoutError

    for exc in (EndpointConnectionError(endpoint_url="https://states"), ReadTimeoutError(endpoint_url="https://states")):
        assert isinstance(aws_error(exc, STATES, "SendTaskSuccess"), TransientError)
    error = aws_error(ParamValidationError(report="missing taskToken"), STATES, "SendTaskSuccess")
    assert type(error) is PipelineError and error.code == "STATES_REQUEST_FAILED"


def test_a_typed_failure_passes_through_and_a_stale_token_is_recognised():
    rejected = MediaRejected("no", code="CORRUPT_MEDIA")
    assert aws_error(rejected, TEXTRACT, "Call") is rejected
    assert is_stale_token(client_error("TaskTimedOut")) and not is_stale_token(client_error("AccessDeniedException"))
    assert not is_stale_token(ValueError("not an AWS error"))
