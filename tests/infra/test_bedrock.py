"""The stack with a cross-region inference profile as `bedrock_model_id`, given as an id (as docs/deploy.md
shows) and as an ARN: each is one more synthesis (~5 s), so both are checked by the same few tests."""
from __future__ import annotations

import pytest

from tests.infra.conftest import TEST_CONTEXT, cfn_lint_problems, nag_violations, synthesize
from tests.infra.test_checks import ACKNOWLEDGED_RULES

PROFILE_ID = "us.amazon.nova-lite-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{PROFILE_ID}"
ALL_REGIONS_MODEL = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                       ":bedrock:*::foundation-model/amazon.nova-lite-v1:0"]]}
REGION_WILDCARD_FINDING = ("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
                           "amazon.nova-lite-v1:0]")
EXPECTED_RESOURCES = {
    PROFILE_ID: [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":bedrock:", {"Ref": "AWS::Region"}, ":",
                           {"Ref": "AWS::AccountId"}, f":inference-profile/{PROFILE_ID}"]]},
        ALL_REGIONS_MODEL,
    ],
    PROFILE_ARN: [PROFILE_ARN, ALL_REGIONS_MODEL],
}


@pytest.fixture(scope="module", params=sorted(EXPECTED_RESOURCES), ids=["profile-arn", "profile-id"])
def profile_synth(request, tmp_path_factory):
    return request.param, synthesize(tmp_path_factory, {**TEST_CONTEXT, "bedrock_model_id": request.param})


def test_cdk_nag_has_no_unacknowledged_findings(profile_synth):
    _, synthesized = profile_synth
    assert nag_violations(synthesized) == []
    suppressed = synthesized.validation_report["pluginReports"][0]["suppressedViolations"]
    assert {f["ruleName"] for f in suppressed} <= ACKNOWLEDGED_RULES | {REGION_WILDCARD_FINDING}
    # The region wildcard is acknowledged on the enrich role's policy only.
    enrich_role = synthesized.stack.functions["enrich"].role.node.path
    wildcard = [f for f in suppressed if f["ruleName"] == REGION_WILDCARD_FINDING]
    assert wildcard and {f["acknowledgedAt"] for f in wildcard} == {enrich_role}
    assert {c["constructPath"] for f in wildcard for c in f["violatingConstructs"]} == {
        f"{enrich_role}/DefaultPolicy/Resource"}


def test_cfn_lint_finds_no_errors_or_warnings(profile_synth):
    _, synthesized = profile_synth
    assert cfn_lint_problems(synthesized) == []


def test_enrich_may_invoke_the_profile_and_its_model_in_every_region(profile_synth):
    model_id, synthesized = profile_synth
    role_id = synthesized.stack.get_logical_id(synthesized.stack.functions["enrich"].role.node.default_child)
    statements = [s for p in synthesized.resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if "bedrock:InvokeModel" in str(s["Action"])]
    assert len(statements) == 1
    assert statements[0]["Action"] == "bedrock:InvokeModel"
    assert statements[0]["Resource"] == EXPECTED_RESOURCES[model_id]
    env = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.functions["enrich"])]["Properties"][
        "Environment"]["Variables"]
    assert env["BEDROCK_MODEL_ID"] == model_id


def test_the_emulators_iam_allows_converse_with_the_configured_model(profile_synth):
    """The same check the strict emulator makes for every Converse: the enrich role, as synthesized, may invoke the
    profile and the foundation model in every region the profile routes to."""
    from media_pipeline.local import deployment, iam, iam_operations, iam_policy
    from media_pipeline.local.account import binding

    model_id, synthesized = profile_synth
    snapshot = deployment.snapshot_from_template(synthesized.json)
    bound = binding(snapshot)
    enrich = iam.principals_from_snapshot(snapshot, bound)[bound.arn(snapshot["functions"]["enrich"]["role"])]
    call = iam_operations.Call(service="bedrock-runtime", operation="Converse", params={"modelId": model_id, "messages": []},
                    region=bound.region, account=bound.account)
    needed = iam_operations.requirements(call)
    assert len(needed) == 3  # the profile, and its model in the two US regions it routes to
    assert [iam_policy.evaluate(enrich.statements, request) for request in needed] == [(True, "allowed")] * 3
    other_model = iam_operations.requirements(iam_operations.Call(service="bedrock-runtime", operation="Converse",
                                            params={"modelId": "us.anthropic.claude-v2:1"}, region=bound.region,
                                            account=bound.account))
    assert not any(iam_policy.evaluate(enrich.statements, request)[0] for request in other_model)
