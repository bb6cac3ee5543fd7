"""Make the pipeline's S3 client answer one operation with an HTTP error, as S3 itself would.

The answer goes through botocore's parser, so the ClientError is exactly what the code sees from AWS:
a HEAD error has no body (botocore names it by its status: Code "403", Message "Forbidden"); a GET error
carries S3's XML body with its Code and Message.
"""
from __future__ import annotations

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: object):
        yield self.body


def error_body(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>R1</RequestId><HostId>H1</HostId></Error>").encode()


class Answers(list):
    """The URLs the faked operation was asked for; `stop()` lets S3 answer normally again."""

    def stop(self) -> None:
        from media_pipeline.aws import client

        client("s3").meta.events.unregister(self.event, self.handler)


def s3_answers(operation: str, status: int, code: str = "", message: str = "") -> Answers:
    """Until stopped (or the client is rebuilt), `operation` (e.g. "HeadObject") answers `status`."""
    from media_pipeline.aws import client

    calls = Answers()
    body = error_body(code, message) if code else b""

    def answer(request, **_: object):
        calls.append(request.url)
        headers = {"Content-Type": "application/xml"} if body else {}
        return AWSResponse(request.url, status, headers, _Raw(body))

    calls.event, calls.handler = f"before-send.s3.{operation}", answer
    client("s3").meta.events.register_first(calls.event, answer)
    return calls


def answer_head_object_with(status: int) -> Answers:
    return s3_answers("HeadObject", status)
