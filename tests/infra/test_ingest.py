from aws_cdk.assertions import Match


def test_upload_rule_matches_object_created_under_the_upload_prefix(synth):
    bucket_id = synth.logical_id(synth.stack.storage.bucket)
    queue_id = synth.logical_id(synth.stack.ingest.queue)
    synth.template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [{"Ref": bucket_id}]}, "object": {"key": [{"prefix": "uploads/"}]}},
        },
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}})],
    })


def test_queue_redrives_to_the_dlq_after_five_receives_and_outlasts_the_function(synth):
    queue = synth.json["Resources"][synth.logical_id(synth.stack.ingest.queue)]["Properties"]
    dlq_id = synth.logical_id(synth.stack.ingest.dead_letter_queue)
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    ingest = synth.json["Resources"][synth.logical_id(synth.stack.functions["ingest"])]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * ingest["Timeout"]
    for queue_id in (synth.logical_id(synth.stack.ingest.queue), dlq_id):
        assert synth.json["Resources"][queue_id]["Properties"]["SqsManagedSseEnabled"] is True


def test_queues_deny_requests_without_tls(synth):
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    tls_denied = [p for p in policies if any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(tls_denied) == len(policies) == 4  # ingest queue and DLQ, the two callbacks' DLQs


def test_ingest_reads_the_queue_with_partial_batch_failures(synth):
    queue_id = synth.logical_id(synth.stack.ingest.queue)
    synth.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
        "FunctionName": {"Ref": synth.logical_id(synth.stack.functions["ingest"])},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


def test_an_alarm_watches_the_dead_letter_queue(synth):
    props = synth.json["Resources"][synth.logical_id(synth.stack.ingest.dead_letter_alarm)]["Properties"]
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible" and props["Namespace"] == "AWS/SQS"
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    dlq_id = synth.logical_id(synth.stack.ingest.dead_letter_queue)
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]


def test_every_dead_letter_queue_has_an_alarm(synth):
    alarmed = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
               for a in synth.resources("AWS::CloudWatch::Alarm").values()
               if a["Properties"].get("Namespace") == "AWS/SQS"}  # the others are infra/operations.py's
    queues = synth.resources("AWS::SQS::Queue")
    dead_letter = {k for k in queues if k not in {synth.logical_id(synth.stack.ingest.queue)}}
    assert alarmed == dead_letter and len(dead_letter) == 3


def test_reconcile_runs_hourly_and_knows_the_ingest_queue_and_its_grace_period(synth):
    function_id = synth.logical_id(synth.stack.functions["reconcile"])
    synth.template.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(1 hour)", "State": "ENABLED",
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]},
                                       "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}})],
    })
    environment = synth.json["Resources"][function_id]["Properties"]["Environment"]["Variables"]
    assert environment["INGEST_QUEUE_URL"] == {"Ref": synth.logical_id(synth.stack.ingest.queue)}
    assert environment["RECONCILE_GRACE_SECONDS"] == "900"
    assert environment["STATE_MACHINE_ARN"] == {"Ref": synth.logical_id(synth.stack.workflow.state_machine)}
    assert "ReconcileFunctionName" in synth.json["Outputs"]
