import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import TEST_CONTEXT, cfn_lint_problems, nag_violations, synthesize


def test_media_bucket_is_private_encrypted_versioned_and_sends_events(synth):
    bucket_id = synth.logical_id(synth.stack.storage.bucket)
    bucket = synth.json["Resources"][bucket_id]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    log_bucket_id = synth.logical_id(synth.stack.storage.access_log_bucket)
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_id}


def test_raw_uploads_and_old_versions_expire(synth):
    settings = synth.stack.settings
    rules = synth.json["Resources"][synth.logical_id(synth.stack.storage.bucket)]["Properties"][
        "LifecycleConfiguration"]["Rules"]
    uploads = next(rule for rule in rules if rule.get("Prefix") == "uploads/")
    assert uploads["ExpirationInDays"] == settings.raw_upload_expiration_days
    assert uploads["Status"] == "Enabled"
    noncurrent = next(rule for rule in rules if "NoncurrentVersionExpiration" in rule)
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == settings.noncurrent_version_expiration_days
    assert not any(rule.get("Prefix", "").startswith("results/") for rule in rules)


def test_every_bucket_denies_requests_without_tls(synth):
    policies = synth.resources("AWS::S3::BucketPolicy")
    assert len(policies) == len(synth.resources("AWS::S3::Bucket")) == 3  # media, access logs, the web page
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)


def test_jobs_table_keys_ttl_pitr_billing_encryption(synth):
    synth.template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": Match.array_with([
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]),
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "Replicas": [Match.object_like({
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})],
    })


def test_data_is_kept_when_the_stack_is_deleted_by_default(synth):
    for resource_type in ("AWS::S3::Bucket", "AWS::DynamoDB::GlobalTable", "AWS::KMS::Key"):
        for resource in synth.resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain", resource_type
    assert not synth.resources("Custom::S3AutoDeleteObjects")


@pytest.fixture(scope="module")
def workshop_synth(tmp_path_factory):
    return synthesize(tmp_path_factory, {**TEST_CONTEXT, "retain_data": "false", "results_expiration_days": "14"})


def test_retain_data_false_removes_everything_with_the_stack(workshop_synth):
    for resource_type in ("AWS::S3::Bucket", "AWS::DynamoDB::GlobalTable", "AWS::KMS::Key"):
        found = workshop_synth.resources(resource_type)
        assert found
        for resource in found.values():
            assert resource["DeletionPolicy"] == "Delete", resource_type
    # CDK's auto-delete custom resource empties each bucket (every version and delete marker) before it goes.
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in workshop_synth.resources("Custom::S3AutoDeleteObjects").values()}
    assert emptied == set(workshop_synth.resources("AWS::S3::Bucket"))
    assert nag_violations(workshop_synth) == []
    assert cfn_lint_problems(workshop_synth) == []


def test_results_expire_after_the_configured_days(workshop_synth):
    rules = workshop_synth.json["Resources"][workshop_synth.logical_id(workshop_synth.stack.storage.bucket)][
        "Properties"]["LifecycleConfiguration"]["Rules"]
    [results] = [rule for rule in rules if rule.get("Prefix") == "results/"]
    assert results["ExpirationInDays"] == 14 and results["Status"] == "Enabled"


def test_a_template_without_packages_cannot_be_deployed(synth):
    """bundling=false (the tests' synth): a CloudFormation rule refuses to create or update the stack."""
    rule = synth.json["Rules"]["FunctionsHaveTheirPackages"]["Assertions"][0]
    assert rule["Assert"] == {"Fn::Equals": [{"Ref": "DeployWithoutPackages"}, "yes"]}
    assert "cannot run" in rule["AssertDescription"]
    assert synth.json["Parameters"]["DeployWithoutPackages"]["Default"] == "no"
