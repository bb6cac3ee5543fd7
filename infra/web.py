"""The web page and its API: a Cognito user pool, an HTTP API with a JWT authorizer in front of the API function,
and the page's bucket served by CloudFront through origin access control (docs/web.md)."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import checkov, nag

WEB_DIR = Path(__file__).resolve().parents[1] / "web"

# The API's routes (media_pipeline/web_api.py answers them): every one needs a Cognito token.
ROUTES: tuple[tuple[str, apigw.HttpMethod], ...] = (
    ("/uploads", apigw.HttpMethod.POST),
    ("/items", apigw.HttpMethod.GET),
    ("/items/{id}", apigw.HttpMethod.GET),
    ("/items/{id}", apigw.HttpMethod.DELETE),
    ("/items/{id}/reprocess", apigw.HttpMethod.POST),
)


class Web(Construct):
    """Users (Cognito), the API (API Gateway HTTP API + JWT authorizer) and the page (S3 + CloudFront, OAC)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        access_log_bucket: s3.IBucket,
        log_group: logs.ILogGroup,
        self_sign_up: bool,
        retain_data: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        # Kept when the stack is deleted, like the stack's other data, unless retain_data is false (a workshop).
        removal = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        self.user_pool = cognito.UserPool(
            self, "UserPool",
            self_sign_up_enabled=self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True,
                                                   temp_password_validity=Duration.days(3)),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=removal,
        )
        # A public client (the page holds no secret); tokens last an hour.
        self.client = self.user_pool.add_client(
            "PageClient",
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )

        self.page_bucket = s3.Bucket(
            self, "PageBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_log_bucket,
            server_access_logs_prefix="page-bucket/",
            removal_policy=removal,
            auto_delete_objects=not retain_data,
        )
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment="Media pipeline web page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.page_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        self.page_origin = f"https://{self.distribution.distribution_domain_name}"

        self.api = apigw.HttpApi(
            self, "Api",
            description="Media pipeline web API (docs/web.md)",
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=[self.page_origin],
                allow_methods=[apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST, apigw.CorsHttpMethod.DELETE],
                allow_headers=["Authorization", "Content-Type"],
                max_age=Duration.hours(1),
            ),
            default_authorizer=authorizers.HttpJwtAuthorizer(
                "CognitoAuthorizer",
                jwt_issuer=f"https://cognito-idp.{Stack.of(self).region}.amazonaws.com/{self.user_pool.user_pool_id}",
                jwt_audience=[self.client.user_pool_client_id],
            ),
        )
        integration = integrations.HttpLambdaIntegration("ApiIntegration", function)
        for path, method in ROUTES:
            self.api.add_routes(path=path, methods=[method], integration=integration)
        stage: apigw.CfnStage = self.api.default_stage.node.default_child
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=log_group.log_group_arn,
            format=('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
                    '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
                    '"sub":"$context.authorizer.claims.sub","error":"$context.authorizer.error"}'),
        )
        stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=50, throttling_rate_limit=20)

        # The page, and its configuration: where the API and the user pool are.
        self.deployment = s3deploy.BucketDeployment(
            self, "PageDeployment",
            destination_bucket=self.page_bucket,
            sources=[s3deploy.Source.asset(str(WEB_DIR), exclude=["config.json"]),
                     s3deploy.Source.json_data("config.json", {
                         "apiUrl": self.api.api_endpoint, "region": Stack.of(self).region,
                         "userPoolId": self.user_pool.user_pool_id, "clientId": self.client.user_pool_client_id})],
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )

        CfnOutput(scope, "WebPageUrl", value=self.page_origin)
        CfnOutput(scope, "WebApiUrl", value=self.api.api_endpoint)
        CfnOutput(scope, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(scope, "UserPoolClientId", value=self.client.user_pool_client_id)
        self._acknowledge()

    def _acknowledge(self) -> None:
        nag.acknowledge(self.user_pool, "AwsSolutions-COG2",
                        "MFA is optional (OTP) so workshop attendees can sign in with a password; require it with "
                        "the user pool's MFA setting for a team deployment")
        nag.acknowledge(self.user_pool, "AwsSolutions-COG3",
                        "Threat protection needs Cognito's Plus feature plan (billed per user); the pool holds "
                        "administrator-created users, and sign-up is off unless a workshop turns it on")
        nag.acknowledge(self.user_pool, "AwsSolutions-COG8",
                        "The Essentials feature plan: the Plus plan's threat protection is billed per user and a "
                        "reference deployment's few administrator-created users do not need it")
        # CDK's own BucketDeployment function copies the page into its bucket once per deploy.
        copier = self.deployment.handler_role.node.scope
        nag.acknowledge(copier, "AwsSolutions-L1",
                        "CDK's BucketDeployment handler: its runtime is chosen by aws-cdk-lib, not by this app")
        nag.acknowledge(copier, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]",
                        "CDK's BucketDeployment handler role: aws-cdk-lib attaches the basic execution policy itself")
        for finding in ("Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                        "Action::s3:GetObject*", "Action::s3:List*", "Resource::*"):
            nag.acknowledge(copier, f"AwsSolutions-IAM5[{finding}]",
                            "CDK's BucketDeployment grants: read the page's asset, replace the page bucket's objects, "
                            "invalidate the distribution (CloudFront invalidations have no resource-level scope)")
        page_objects = nag.finding_resource(self, self.page_bucket.arn_for_objects("*"))
        assets = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"
        for resource in (page_objects, assets):
            nag.acknowledge(copier, f"AwsSolutions-IAM5[Resource::{resource}]",
                            "CDK's BucketDeployment copies every object of the page's asset into the page bucket")
        nag.acknowledge(self.distribution, "AwsSolutions-CFR1",
                        "The page is a static sign-in page for the deployment's users, with no content restricted by "
                        "country")
        # The same three decisions as cdk-nag and as checkov (infra/checkov.py) name them.
        for nag_rule, checkov_id, reason in (
                ("AwsSolutions-CFR2", "CKV_AWS_68",
                 "The distribution serves a static page only (the API has its own throttling and a JWT authorizer); "
                 "attach a WAF web ACL for a public deployment"),
                ("AwsSolutions-CFR3", "CKV_AWS_86",
                 "Static page only: S3 server access logs record every origin read, and the API's access log "
                 "records every request that reads or changes data"),
                ("AwsSolutions-CFR4", "CKV_AWS_174",
                 "The default CloudFront certificate (*.cloudfront.net) allows TLSv1; a custom domain with its own "
                 "certificate applies TLS_V1_2_2021")):
            nag.acknowledge(self.distribution, nag_rule, reason)
            checkov.skip(self.distribution, checkov_id, reason)
        checkov.skip(self.page_bucket, "CKV_AWS_21",
                     "The page bucket holds a copy of web/ that every deploy replaces whole (BucketDeployment "
                     "prunes it); the page's history is the repository's")
