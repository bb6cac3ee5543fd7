"""Handler tests run strict too: a call made from `functions/<name>/` code (or the video worker's) acts as that
function's role from the template, bound to the test account's names; a denial fails the test that made it."""
from __future__ import annotations

import pytest

from media_pipeline.local import deployment, iam
from media_pipeline.local.account import binding
from tests.conftest import BUCKET, TABLE

# The names the handler tests give the resources their functions are configured with.
TEST_NAMES = {"AiServicesTextractTopic": "textract-done", "AiServicesTextractPublishRole": "textract-sns"}


@pytest.fixture(autouse=True)
def strict_roles(request):
    snapshot = deployment.load()
    bound = binding(snapshot, bucket=BUCKET, table=TABLE)
    bound.names.update(TEST_NAMES)
    iam.register_snapshot(snapshot, bound, token_state_machine=lambda token: bound.arn("WorkflowStateMachine"))
    roles = {f"/functions/{name}/": bound.arn(spec["role"]) for name, spec in snapshot["functions"].items()}
    worker = snapshot["task_definitions"]["VideoWorkerTaskDefinition"]["task_role"]
    iam.attribute_by_caller({**roles, "/containers/media_worker/": bound.arn(worker)})
    iam.install()
    try:
        yield
        if "expected_denials" not in request.fixturenames:
            denied = [iam.explain(d) for d in iam.denials()]
            assert not denied, "calls the template's policies do not allow:\n" + "\n".join(denied)
    finally:
        iam.uninstall()


@pytest.fixture
def expected_denials():
    """The denials a test provokes on purpose; it asserts on them itself (the IAM report sets them apart)."""
    with iam.denials_expected():
        yield
