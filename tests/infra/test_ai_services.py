import aws_cdk as cdk
import pytest
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
    topic_id = synth.logical_id(synth.stack.ai_services.textract_topic)
    topic = synth.json["Resources"][topic_id]
    assert "KmsMasterKeyId" in topic["Properties"]
    policy = next(p for p in synth.resources("AWS::SNS::TopicPolicy").values()
                  if p["Properties"]["Topics"] == [{"Ref": topic_id}])
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


def test_transcribe_events_that_cannot_be_delivered_wait_in_an_encrypted_dead_letter_queue(synth):
    ai = synth.stack.ai_services
    dlq_id = synth.logical_id(ai.transcribe_dead_letter_queue)
    (target,) = synth.json["Resources"][synth.logical_id(ai.transcribe_rule)]["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    _assert_dead_letter_queue(synth, dlq_id, principal="events.amazonaws.com",
                              source={"Fn::GetAtt": [synth.logical_id(ai.transcribe_rule), "Arn"]})


def test_textract_notifications_that_cannot_be_delivered_wait_in_an_encrypted_dead_letter_queue(synth):
    ai = synth.stack.ai_services
    dlq_id = synth.logical_id(ai.textract_dead_letter_queue)
    (subscription,) = synth.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    _assert_dead_letter_queue(synth, dlq_id, principal="sns.amazonaws.com",
                              source={"Ref": synth.logical_id(ai.textract_topic)})


@pytest.mark.parametrize("callback, queue", [("transcribe_callback", "transcribe_dead_letter_queue"),
                                             ("textract_callback", "textract_dead_letter_queue")])
def test_callback_invocations_that_keep_failing_go_to_the_dead_letter_queue(synth, callback, queue):
    dlq_id = synth.logical_id(getattr(synth.stack.ai_services, queue))
    function_id = synth.logical_id(synth.stack.functions[callback])
    (config,) = [c["Properties"] for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
                 if c["Properties"]["FunctionName"] == {"Ref": function_id}]
    assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 6 * 3600
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}


def _assert_dead_letter_queue(synth, dlq_id, *, principal, source):
    queue = synth.json["Resources"][dlq_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in synth.resources("AWS::SQS::QueuePolicy").values()
                 if p["Properties"]["Queues"] == [{"Ref": dlq_id}]]
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert allows == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": {"Service": principal},
                       "Resource": {"Fn::GetAtt": [dlq_id, "Arn"]},
                       "Condition": {"ArnEquals": {"aws:SourceArn": source}}, **(
                           {"Sid": allows[0]["Sid"]} if "Sid" in allows[0] else {})}]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    (alarm,) = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Namespace"] == "AWS/SQS"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def _resolved_arns(model, profile_model=""):
    stack = cdk.Stack(cdk.App(), "ArnStack", env=cdk.Environment(account="111122223333", region="us-east-1"))
    return [stack.resolve(arn) for arn in bedrock_model_arns(stack, model, profile_model)]


def _arn(*parts):
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, *parts]]}


def test_bedrock_arns_for_models_and_inference_profiles():
    assert _resolved_arns("amazon.nova-lite-v1:0") == [_arn(":bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")]
    assert _resolved_arns("us.anthropic.claude-3-5-haiku-20241022-v1:0") == [
        _arn(":bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"),
        _arn(":bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0")]
    foundation_model = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    assert _resolved_arns(foundation_model) == [foundation_model]


def test_bedrock_arns_for_a_system_defined_inference_profile_arn():
    profile = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0"
    assert _resolved_arns(profile) == [profile, _arn(":bedrock:*::foundation-model/amazon.nova-lite-v1:0")]


def test_bedrock_arns_for_an_application_inference_profile_need_its_model():
    profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    with pytest.raises(ValueError, match="bedrock_profile_model_id"):
        _resolved_arns(profile)
    # Copied from a foundation model: that model in this region; from a cross-region profile: every region.
    assert _resolved_arns(profile, "amazon.nova-lite-v1:0") == [
        profile, _arn(":bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")]
    assert _resolved_arns(profile, "us.amazon.nova-lite-v1:0") == [
        profile, _arn(":bedrock:*::foundation-model/amazon.nova-lite-v1:0")]
