import aws_cdk as cdk
from aws_cdk.assertions import Match

from infra.ai_services import bedrock_model_arns


def _policy_statements(synth, role):
    role_id = synth.stack.get_logical_id(role.node.default_child)
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements):
    found = set()
    for statement in statements:
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def test_transcribe_job_state_changes_of_pipeline_jobs_reach_the_callback(synth):
    callback_id = synth.logical_id(synth.stack.functions["transcribe_callback"])
    synth.template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.transcribe"],
            "detail-type": ["Transcribe Job State Change"],
            "detail": {"TranscriptionJobName": [{"prefix": "media-"}]},
        },
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [callback_id, "Arn"]}})],
    })


def test_textract_topic_is_encrypted_tls_only_and_feeds_the_callback(synth):
    topic_id, topic = synth.one("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic["Properties"]
    policy = next(iter(synth.resources("AWS::SNS::TopicPolicy").values()))
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["Properties"]["PolicyDocument"]["Statement"])
    synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "lambda", "TopicArn": {"Ref": topic_id},
        "Endpoint": {"Fn::GetAtt": [synth.logical_id(synth.stack.functions["textract_callback"]), "Arn"]},
    })


def test_textract_assumes_a_role_that_may_only_publish(synth):
    role = synth.stack.ai_services.textract_role
    trust = synth.json["Resources"][synth.stack.get_logical_id(role.node.default_child)]["Properties"][
        "AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "textract.amazonaws.com"}
    assert _actions(_policy_statements(synth, role)) == {"sns:Publish"}


def test_each_step_gets_the_ai_permissions_it_calls(synth):
    fn = synth.stack.functions
    assert {"transcribe:StartTranscriptionJob", "transcribe:GetTranscriptionJob", "s3:PutObject"} <= _actions(
        _policy_statements(synth, fn["start_transcription"].role))
    assert {"textract:DetectDocumentText", "textract:AnalyzeDocument"} <= _actions(
        _policy_statements(synth, fn["analyze_document"].role))
    assert {"textract:StartDocumentTextDetection", "iam:PassRole"} <= _actions(
        _policy_statements(synth, fn["start_document_analysis"].role))
    for callback in ("transcribe_callback", "textract_callback"):
        assert {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"} <= _actions(
            _policy_statements(synth, fn[callback].role))
    enrich = _policy_statements(synth, fn["enrich"].role)
    bedrock = [s for s in enrich if s["Action"] == "bedrock:InvokeModel"]
    model_id = synth.stack.settings.bedrock_model_id
    assert bedrock and f"foundation-model/{model_id}" in str(bedrock[0]["Resource"])
    assert "*" not in str(bedrock[0]["Resource"])  # a plain model id: this region's model only
    assert "bedrock:InvokeModel" not in _actions(_policy_statements(synth, fn["finalize"].role))
    assert {"events:PutEvents", "dynamodb:UpdateItem"} <= _actions(_policy_statements(synth, fn["finalize"].role))
    assert {"states:StartExecution", "events:PutEvents"} <= _actions(_policy_statements(synth, fn["ingest"].role))


def test_bedrock_arns_for_models_and_inference_profiles():
    stack = cdk.Stack(cdk.App(), "ArnStack", env=cdk.Environment(account="111122223333", region="us-east-1"))
    resolve = lambda model: [stack.resolve(arn) for arn in bedrock_model_arns(stack, model)]  # noqa: E731
    assert resolve("amazon.nova-lite-v1:0") == [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]]}]
    profile = resolve("us.anthropic.claude-3-5-haiku-20241022-v1:0")
    assert "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0" in str(profile[0])
    assert "bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in str(profile[1])
