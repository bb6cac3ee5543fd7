"""Where media and results live: the media bucket (uploads/ and results/) and the jobs table."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import checkov, nag
from media_pipeline.jobs import OWNER_INDEX

# Partition keys of the jobs table (docs/architecture.md, "Storage"; media_pipeline/jobs.py writes them).
JOB_KEY_PREFIX = "MEDIA#"


def token_key_prefix(kind: str) -> str:
    """Task tokens: `TOKEN#<kind>#<name>`, kind `transcribe` (job name) or `textract` (media id)."""
    return f"TOKEN#{kind}#"


class Storage(Construct):
    """The media bucket, its access-log bucket and the jobs table (keys `pk`/`sk`, TTL `expires_at`).

    Uploads and results share one bucket: results are the `results/` prefix, so Transcribe and Textract,
    which act with the caller's permissions, need grants on one bucket only. S3-managed encryption
    (SSE-S3) keeps those services' reads and writes free of KMS key grants.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        upload_prefix: str,
        results_prefix: str,
        raw_upload_expiration_days: int,
        noncurrent_version_expiration_days: int,
        results_expiration_days: int = 0,
        retain_data: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.upload_prefix = upload_prefix
        self.results_prefix = results_prefix
        # Teams keep their data when the stack goes (RETAIN); a workshop's `retain_data=false` removes it all:
        # the buckets are emptied of every version and delete marker by CDK's auto-delete custom resource.
        removal = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        results_rules = [s3.LifecycleRule(id="expire-results", prefix=results_prefix,
                                          expiration=Duration.days(results_expiration_days))] \
            if results_expiration_days > 0 else []

        self.access_log_bucket = s3.Bucket(
            self, "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
            removal_policy=removal,
            auto_delete_objects=not retain_data,
        )
        checkov.skip(self.access_log_bucket, "CKV_AWS_18",
                     "The access log bucket is where the other buckets log; logging its own writes would log the "
                     "logging")
        checkov.skip(self.access_log_bucket, "CKV_AWS_21",
                     "S3 writes access logs as new objects, never overwritten; they expire after 365 days, and "
                     "versions would keep every deleted log past its expiry")
        self.bucket = s3.Bucket(
            self, "MediaBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="media-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-raw-uploads",
                    prefix=upload_prefix,
                    expiration=Duration.days(raw_upload_expiration_days),
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_expiration_days),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                *results_rules,  # transcripts and text may hold personal data: `results_expiration_days`
            ],
            removal_policy=removal,
            auto_delete_objects=not retain_data,
        )

        # EventBridge notifications through CloudFormation's own property, not CDK's custom-resource Lambda.
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True),
        )

        self.table = dynamodb.TableV2(
            self, "JobsTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="expires_at",
            # The web API lists a user's items, newest first (job records with an `owner`; media_pipeline/jobs.py).
            global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=OWNER_INDEX,
                partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            )],
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            removal_policy=removal,
        )


    # Object-level grants scoped to one prefix: S3 actions named one by one, not `s3:GetObject*`.
    def uploads_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{self.upload_prefix}*")

    def results_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{self.results_prefix}*")

    def grant_read_uploads(self, grantee: iam.IGrantable, *, versions: bool = True) -> None:
        """GetObject (also what HeadObject and ranged reads need); GetObjectVersion for reads that name the
        upload's version id. `versions=False` for a service that reads an `s3://` URI for the caller."""
        actions = ["s3:GetObject", "s3:GetObjectVersion"] if versions else ["s3:GetObject"]
        self._grant(grantee, actions, self.uploads_arn())

    def grant_read_results(self, grantee: iam.IGrantable) -> None:
        # Results are always read by key alone (never by version id).
        self._grant(grantee, ["s3:GetObject"], self.results_arn())

    def grant_write_results(self, grantee: iam.IGrantable, *, multipart: bool = False) -> None:
        """PutObject (which also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload);
        `multipart=True` adds AbortMultipartUpload for writers that stream large results in parts."""
        actions = ["s3:PutObject", "s3:AbortMultipartUpload"] if multipart else ["s3:PutObject"]
        self._grant(grantee, actions, self.results_arn())

    def grant_list_uploads(self, grantee: iam.IGrantable) -> None:
        """ListObjectVersions under the upload prefix only (reconcile): the bucket ARN with an `s3:prefix` condition."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucketVersions"],
            resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.upload_prefix}*"]}},
        ))

    def grant_table_items(self, grantee: iam.IGrantable, actions: list[str], *, key_prefix: str) -> None:
        """Item actions on the jobs table, limited to the items whose partition key starts with `key_prefix`
        (`MEDIA#` job records, `TOKEN#<kind>#` task tokens): a step reaches only the records it owns."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=sorted(actions),
            resources=[self.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key_prefix}*"]}},
        ))

    def acknowledge_prefix_grants(self, scope: Construct) -> None:
        """Object grants end in `<prefix>*`: a media item's keys are only known at run time."""
        reason = ("Object access is scoped to the {} prefix of the media bucket; keys under it are per media id and "
                  "known only at run time")
        nag.acknowledge(scope, f"AwsSolutions-IAM5[Resource::<{self._bucket_logical_id()}.Arn>/{self.upload_prefix}*]",
                        reason.format(self.upload_prefix))
        nag.acknowledge(scope, f"AwsSolutions-IAM5[Resource::<{self._bucket_logical_id()}.Arn>/{self.results_prefix}*]",
                        reason.format(self.results_prefix))

    def _bucket_logical_id(self) -> str:
        return Stack.of(self).resolve(self.bucket.node.default_child.logical_id)

    @staticmethod
    def _grant(grantee: iam.IGrantable, actions: list[str], resource: str) -> None:
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[resource])

