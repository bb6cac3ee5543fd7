import json

from media_pipeline.errors import MediaRejected, ThrottledError, error_from_state


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
