"""The web page and API (infra/web.py): every route behind the Cognito JWT authorizer, CORS limited to the page's
origin, the page bucket private behind CloudFront's origin access control, and the API function's narrow grants."""
from __future__ import annotations

import json

from infra.web import ROUTES


def test_every_route_needs_a_cognito_token(synth) -> None:
    routes = synth.resources("AWS::ApiGatewayV2::Route")
    keys = {body["Properties"]["RouteKey"] for body in routes.values()}
    assert keys == {f"{method.value} {path}" for path, method in ROUTES}
    for body in routes.values():
        assert body["Properties"]["AuthorizationType"] == "JWT", body["Properties"]["RouteKey"]
    [(_, authorizer)] = synth.resources("AWS::ApiGatewayV2::Authorizer").items()
    jwt = authorizer["Properties"]["JwtConfiguration"]
    pool, _ = synth.one("AWS::Cognito::UserPool")
    client, _ = synth.one("AWS::Cognito::UserPoolClient")
    assert jwt["Audience"] == [{"Ref": client}]
    assert pool in json.dumps(jwt["Issuer"])


def test_cors_allows_only_the_pages_origin(synth) -> None:
    _, api = synth.one("AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["CorsConfiguration"]
    distribution, _ = synth.one("AWS::CloudFront::Distribution")
    assert len(cors["AllowOrigins"]) == 1 and distribution in json.dumps(cors["AllowOrigins"][0])
    assert "*" not in json.dumps(cors)
    media_bucket = next(body for name, body in synth.resources("AWS::S3::Bucket").items() if name.startswith("StorageMediaBucket"))
    [rule] = media_bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "POST"] and distribution in json.dumps(rule["AllowedOrigins"])


def test_users_are_created_by_an_administrator_unless_a_workshop_allows_sign_up(synth) -> None:
    _, pool = synth.one("AWS::Cognito::UserPool")
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    _, client = synth.one("AWS::Cognito::UserPoolClient")
    assert "GenerateSecret" not in client["Properties"] or client["Properties"]["GenerateSecret"] is False


def test_the_page_is_served_through_origin_access_control(synth) -> None:
    _, distribution = synth.one("AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    [origin] = config["Origins"]
    assert "OriginAccessControlId" in origin and origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    synth.one("AWS::CloudFront::OriginAccessControl")
    page_bucket = next(body for name, body in synth.resources("AWS::S3::Bucket").items() if name.startswith("WebPageBucket"))
    block = page_bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block[key] for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))


def test_the_api_functions_grants_are_narrow(synth) -> None:
    from media_pipeline.local import deployment

    snapshot = deployment.load()
    statements = snapshot["roles"][snapshot["functions"]["api"]["role"]]["statements"]
    grants = {(action, resource) for s in statements for action in s["Action"] for resource in s["Resource"]}
    assert ("s3:PutObject", "${StorageMediaBucket.Arn}/uploads/*") in grants
    assert not any(a == "s3:PutObject" and r.endswith("/results/*") for a, r in grants)  # results are the pipeline's
    assert ("dynamodb:Query", "${StorageJobsTable.Arn}/index/by-owner") in grants
    assert not any(a in ("dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem") for a, _ in grants)
    [items] = [s for s in statements if "dynamodb:GetItem" in s["Action"]]
    assert items["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["MEDIA#*"]}}
    [listing] = [s for s in statements if "s3:ListBucketVersions" in s["Action"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["results/*"]}}


def test_the_jobs_table_indexes_job_records_by_owner(synth) -> None:
    _, table = synth.one("AWS::DynamoDB::GlobalTable")
    [index] = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-owner"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["owner", "created_at"]
