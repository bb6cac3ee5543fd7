from aws_cdk.assertions import Match


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
