"""The web page and API on 127.0.0.1, against the emulated account (`media-pipeline serve`; docs/web.md).

What AWS does in front of the API function is done here the same way: the page's files are served as CloudFront
serves them from the page bucket, users sign in to the emulated Cognito user pool (the page calls its
InitiateAuth itself, as in AWS), and a request to `/api/<route>` is matched to the deployment's routes
(infra/web.py ROUTES), its bearer token verified as API Gateway's JWT authorizer verifies it (signature against the
pool's JWKS, issuer, client id, expiry), then `functions/api/handler.py` runs as the API function's role with the
HTTP API's event. The browser uploads straight to the emulated S3 with the presigned POST, so the upload takes the
pipeline's own event path.

    with LocalPipeline() as pipeline, LocalWeb(pipeline) as web:
        web.add_user("alice", "A-long-password-1")
        print(web.url)
"""
from __future__ import annotations

import base64
import json
import mimetypes
import re
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from media_pipeline.local import account, iam, moto_gaps
from media_pipeline.local.runtime import LocalPipeline, load_handler

WEB_DIR = account.PROJECT_ROOT / "web"
API_PREFIX = "/api"
# The deployment's routes (infra/web.py ROUTES), as API Gateway matches them.
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/uploads"), ("GET", "/items"), ("GET", "/items/{id}"), ("DELETE", "/items/{id}"),
    ("POST", "/items/{id}/reprocess"),
)


def _route_pattern(route: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route) + "$")


_ROUTE_PATTERNS = [(method, route, _route_pattern(route)) for method, route in ROUTES]


def match_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, route, pattern in _ROUTE_PATTERNS:
        found = pattern.match(path)
        if found and route_method == method:
            return route, found.groupdict()
    return None


class TokenRejected(Exception):
    """The bearer token is missing or not one API Gateway's JWT authorizer would accept (401)."""


class JwtAuthorizer:
    """API Gateway's JWT authorizer: a token signed by a key of the issuer's JWKS, `iss` the issuer, `client_id`
    (access tokens) or `aud` (ID tokens) one of the audience, not expired, not before `nbf`."""

    def __init__(self, *, issuer: str, audience: list[str], jwks: dict[str, Any]):
        from joserfc.jwk import KeySet

        self.issuer, self.audience = issuer, audience
        self.keys = KeySet.import_key_set(jwks)

    def claims(self, authorization: str | None, now: float | None = None) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError

        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("no bearer token")
        try:
            claims = dict(jwt.decode(token.strip(), self.keys, algorithms=["RS256"]).claims)
        except (JoseError, ValueError) as exc:
            raise TokenRejected(f"the token's signature does not verify: {exc}") from exc
        now = time.time() if now is None else now
        if claims.get("iss") != self.issuer:
            raise TokenRejected("the token's issuer is not the user pool")
        if claims.get("client_id", claims.get("aud")) not in self.audience:
            raise TokenRejected("the token was issued to another client")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise TokenRejected("the token has expired")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now:
            raise TokenRejected("the token is not valid yet")
        return claims


class LocalWeb:
    """The page and the API on 127.0.0.1, in front of a started LocalPipeline (in server mode)."""

    def __init__(self, pipeline: LocalPipeline, *, host: str = "127.0.0.1", port: int = 0, web_dir: Path = WEB_DIR):
        if pipeline.endpoint_url is None:
            raise ValueError("the web page needs the emulator as a server: LocalPipeline(mode='server')")
        self.pipeline, self.host, self.port, self.web_dir = pipeline, host, port, Path(web_dir)
        self.user_pool_id = self.client_id = ""
        self.authorizer: JwtAuthorizer | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.api_role = pipeline.binding.arn(pipeline.snapshot["functions"]["api"]["role"])
        self.handler = load_handler("api", pipeline.root)

    def __enter__(self) -> "LocalWeb":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "LocalWeb":
        cognito = self.pipeline.client("cognito-idp")
        self.user_pool_id = cognito.create_user_pool(
            PoolName="media-pipeline-users", AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
        self.client_id = cognito.create_user_pool_client(
            UserPoolId=self.user_pool_id, ClientName="page", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        issuer = f"https://cognito-idp.{account.REGION}.amazonaws.com/{self.user_pool_id}"
        with urllib.request.urlopen(f"{self.pipeline.endpoint_url}/{self.user_pool_id}/.well-known/jwks.json") as jwks:
            self.authorizer = JwtAuthorizer(issuer=issuer, audience=[self.client_id], jwks=json.load(jwks))
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_class(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- users --------------------------------------------------------------------------------------------------

    def add_user(self, username: str, password: str) -> str:
        """A user as an administrator creates one (with a permanent password); returns its `sub`."""
        cognito = self.pipeline.client("cognito-idp")
        cognito.admin_create_user(UserPoolId=self.user_pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=self.user_pool_id, Username=username, Password=password,
                                        Permanent=True)
        attributes = cognito.admin_get_user(UserPoolId=self.user_pool_id, Username=username)["UserAttributes"]
        return next(a["Value"] for a in attributes if a["Name"] == "sub")

    def sign_in(self, username: str, password: str) -> str:
        """An access token, as the page gets one (InitiateAuth with USER_PASSWORD_AUTH)."""
        result = self.pipeline.client("cognito-idp").initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password})
        return result["AuthenticationResult"]["AccessToken"]

    def config(self) -> dict[str, str]:
        """The page's config.json (infra/web.py writes the deployed one): the API, and the user pool's endpoint."""
        return {"apiUrl": self.url + API_PREFIX, "region": account.REGION, "userPoolId": self.user_pool_id,
                "clientId": self.client_id, "cognitoUrl": self.pipeline.endpoint_url or ""}

    # ---- the API ------------------------------------------------------------------------------------------------

    def api_request(self, method: str, path: str, *, query: str = "", headers: dict[str, str],
                    body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        """One API request as API Gateway handles it: route, authorizer, then the function (as its role)."""
        matched = match_route(method, path)
        if matched is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        route, parameters = matched
        try:
            claims = self.authorizer.claims(headers.get("authorization"))  # type: ignore[union-attr]
        except TokenRejected:
            return 401, {"content-type": "application/json", "www-authenticate": "Bearer"}, b'{"message":"Unauthorized"}'
        event = http_api_event(method, path, route=route, query=query, headers=headers, body=body,
                               parameters=parameters, claims=claims)
        with iam.acting_as(self.api_role):
            response = self.handler(event, moto_gaps.LambdaContext(
                function_name="api", invoked_function_arn=account.function_arn("api"), memory_limit_in_mb=512,
                timeout_seconds=29))
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        return int(response.get("statusCode", 200)), {k.lower(): v for k, v in (response.get("headers") or {}).items()}, data


def http_api_event(method: str, path: str, *, route: str, query: str, headers: dict[str, str], body: bytes | None,
                   parameters: dict[str, str], claims: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's HTTP API payload (format 2.0) for a request its JWT authorizer accepted."""
    now = time.time()
    return {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": query,
        "headers": headers, "queryStringParameters": dict(parse_qsl(query)) or None,
        "pathParameters": parameters or None,
        "requestContext": {
            "accountId": account.ACCOUNT, "apiId": "local", "domainName": "127.0.0.1", "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}", "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": headers.get("user-agent", "")},
            "authorizer": {"jwt": {"claims": {k: str(v) for k, v in claims.items()}, "scopes": None}},
        },
        "body": body.decode("utf-8", "replace") if body else None,
        "isBase64Encoded": False,
    }


def _handler_class(web: LocalWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "media-pipeline-serve"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _api(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                status, response_headers, data = web.api_request(
                    self.command, parsed.path[len(API_PREFIX):] or "/", query=parsed.query, headers=headers, body=body)
            except Exception as exc:  # noqa: BLE001 - a crashed function is API Gateway's 500
                status, response_headers = 500, {"content-type": "application/json"}
                data = json.dumps({"message": "Internal Server Error", "detail": f"{type(exc).__name__}: {exc}"}).encode()
            self._send(status, response_headers, data)

        def _static(self) -> None:
            path = urlparse(self.path).path
            if path == "/config.json":
                self._send(200, {"content-type": "application/json"}, json.dumps(web.config()).encode())
                return
            relative = "index.html" if path in ("", "/") else path.lstrip("/")
            target = (web.web_dir / relative).resolve()
            if not target.is_relative_to(web.web_dir.resolve()) or not target.is_file():
                self._send(404, {"content-type": "text/plain"}, b"Not Found")
                return
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            self._send(200, {"content-type": kind, "x-content-type-options": "nosniff"}, target.read_bytes())

        def _dispatch(self) -> None:
            if self.path.startswith(API_PREFIX + "/"):
                self._api()
            elif self.command in ("GET", "HEAD"):
                self._static()
            else:
                self._send(405, {"content-type": "text/plain"}, b"Method Not Allowed")

        do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _dispatch

    return Handler
