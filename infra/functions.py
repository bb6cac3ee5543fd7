"""The one way to build a pipeline Lambda: `functions/<name>/handler.handler`, packaged without Docker.

Each function's asset is its folder's `.py` files, the shared `media_pipeline` package (without the
local mode) and the pinned third-party packages it needs. The packages are installed by *local*
bundling: pip downloads manylinux wheels for the Lambda runtime on this machine, so `cdk deploy`
needs no Docker. pip's output is cached under `.cache/bundles/<hash>`. With `-c bundling=false`
(the tests) pip is skipped and only the source files are packaged: fast, offline, same layout.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

import jsii
from aws_cdk import (Annotations, AssetHashType, BundlingOptions, CfnParameter, CfnRule, CfnRuleAssertion,
                     DockerImage, Duration, Fn, ILocalBundling, Size, Stack)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import checkov, nag
from infra.observability import Observability

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
SHARED_PACKAGE_DIR = REPO_ROOT / "media_pipeline"
CACHE_DIR = REPO_ROOT / ".cache" / "bundles"

# Python 3.12 runs on Amazon Linux 2023 (glibc 2.34): the pinned av and pillow wheels are manylinux_2_28
# only, which the 3.11 runtime (Amazon Linux 2, glibc 2.26) cannot load.
RUNTIME = lambda_.Runtime.PYTHON_3_12
PYTHON_VERSION = "3.12"
PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
HANDLER = "handler.handler"
RUNTIME_REASON = ("Python 3.12 on purpose: the closest runtime to the 3.11 interpreter of the tests, the local mode "
                  "and the worker image that can load the pinned manylinux_2_28 wheels (av, pillow); moving to a "
                  "newer runtime is a tested upgrade, not a default")

# Packaged into every function; versions come from requirements-dev.txt (one place to pin them).
SHARED_REQUIREMENTS = ("aws-lambda-powertools[tracer]", "fastjsonschema")
# The Lambda Python runtime ships these; leaving them out keeps each package ~80 MB smaller.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# The local mode and the CLI never run in Lambda.
SHARED_PACKAGE_EXCLUDES = ("local", "cli")


def pinned(requirement: str, requirements_file: Path = REPO_ROOT / "requirements-dev.txt") -> str:
    """`name[extra]` -> the `name[extra]==version` line of the requirements file."""
    wanted = _normalize(requirement)
    for line in requirements_file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and _normalize(line.split("==", 1)[0]) == wanted:
            return line
    raise ValueError(f"{requirement} is not pinned in {requirements_file.name}")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).strip().lower()


def function_requirements(name: str) -> tuple[str, ...]:
    """The shared pins plus `functions/<name>/requirements.txt`, sorted so the cache key is stable."""
    lines = [pinned(requirement) for requirement in SHARED_REQUIREMENTS]
    own = FUNCTIONS_DIR / name / "requirements.txt"
    if own.exists():
        for line in own.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return tuple(sorted(set(lines)))


def source_files(name: str) -> list[tuple[Path, str]]:
    """(file, path inside the package) for the function's own .py files and the shared package."""
    files = [(path, path.name) for path in sorted((FUNCTIONS_DIR / name).glob("*.py"))]
    for path in sorted(SHARED_PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(SHARED_PACKAGE_DIR)
        if (path.is_dir() or relative.parts[0] in SHARED_PACKAGE_EXCLUDES or "__pycache__" in relative.parts
                or path.suffix == ".pyc"):
            continue
        files.append((path, f"media_pipeline/{relative.as_posix()}"))
    return files


def requirements_hash(requirements: Sequence[str]) -> str:
    key = "\n".join([*PIP_PLATFORMS, PYTHON_VERSION, *RUNTIME_PROVIDED, *requirements])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def asset_hash(name: str, *, install: bool) -> str:
    """Content hash of what goes into the package: sources, pins and whether they are installed."""
    digest = hashlib.sha256()
    for path, target in source_files(name):
        digest.update(target.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(requirements_hash(function_requirements(name)).encode() if install else b"source-only")
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """Builds a function package on this machine (pip for the wheels, a copy for the sources)."""

    def __init__(self, *, name: str, install: bool) -> None:
        self.name = name
        self.install = install

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:  # noqa: ARG002 (jsii signature)
        out = Path(output_dir)
        if self.install:
            shutil.copytree(self._installed_packages(), out, dirs_exist_ok=True)
        for path, target in source_files(self.name):
            destination = out / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        return True

    def _installed_packages(self) -> Path:
        requirements = function_requirements(self.name)
        cached = CACHE_DIR / requirements_hash(requirements)
        if cached.is_dir():
            return cached
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        staging = CACHE_DIR / f"{cached.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            *(f"--platform={platform}" for platform in PIP_PLATFORMS),
            "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--only-binary=:all:", "--target", str(staging), *requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not install the packages of function {self.name!r} ({', '.join(requirements)}):\n"
                f"{result.stderr.strip()}\nSynthesize without them (no deploy) with: -c bundling=false")
        for entry in staging.iterdir():
            if _normalize(entry.name.split("-", 1)[0]) in RUNTIME_PROVIDED:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        staging.rename(cached)  # complete or absent: an interrupted install is never reused
        return cached


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class FunctionFactory:
    """Creates the pipeline's functions with one set of defaults (runtime, tracing, logs, environment)."""

    def __init__(
        self,
        scope: Construct,
        *,
        observability: Observability,
        environment: Mapping[str, str],
        bundling: bool,
    ) -> None:
        self._scope = scope
        self._observability = observability
        self._environment = dict(environment)
        self._bundling = bundling
        self.functions: dict[str, lambda_.Function] = {}

    def code(self, name: str) -> lambda_.Code:
        if not (FUNCTIONS_DIR / name / "handler.py").exists():
            raise FileNotFoundError(f"functions/{name}/handler.py is missing")
        return lambda_.Code.from_asset(
            str(FUNCTIONS_DIR / name),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=asset_hash(name, install=self._bundling),
            bundling=BundlingOptions(
                # Never used: local bundling always succeeds or raises, so no Docker is needed.
                image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                command=["false"],
                local=LocalPythonBundling(name=name, install=self._bundling),
            ),
        )

    def create(
        self,
        name: str,
        *,
        description: str,
        timeout: Duration,
        memory_size: int,
        environment: Mapping[str, str] | None = None,
        ephemeral_storage_mib: int | None = None,
    ) -> lambda_.Function:
        stem = camel(name)
        log_group = self._observability.log_group(self._scope, f"{stem}Logs")
        # An own role with write access to its own log group only (no AWSLambdaBasicExecutionRole).
        role = iam.Role(
            self._scope, f"{stem}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Media pipeline function {name}",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self._scope, f"{stem}Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=self.code(name),
            role=role,
            timeout=timeout,
            memory_size=memory_size,
            ephemeral_storage_size=None if ephemeral_storage_mib is None else Size.mebibytes(ephemeral_storage_mib),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment={
                **self._environment,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "MediaPipeline",
                **(environment or {}),
            },
        )
        nag.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", nag.XRAY_REASON)
        nag.acknowledge(function, "AwsSolutions-L1", RUNTIME_REASON)
        checkov.acknowledge_function(function, name)
        self.functions[name] = function
        return function



WITHOUT_PACKAGES = ("synthesized with -c bundling=false: the functions are packaged WITHOUT their third-party "
                    "packages and cannot run. Synthesize again without it to deploy.")


def refuse_deploy_without_packages(stack: Stack) -> None:
    """`-c bundling=false` is for reading the template and for the tests: a warning at synth, and a template rule
    that makes CloudFormation refuse to create or update the stack (unless DeployWithoutPackages=yes is passed)."""
    Annotations.of(stack).add_warning_v2("media-pipeline:bundling-off", WITHOUT_PACKAGES)
    override = CfnParameter(stack, "DeployWithoutPackages", type="String", default="no", allowed_values=["no", "yes"],
                            description="yes deploys functions that lack their packages (they fail when invoked)")
    CfnRule(stack, "FunctionsHaveTheirPackages", assertions=[CfnRuleAssertion(
        assert_=Fn.condition_equals(override.value_as_string, "yes"),
        assert_description="This template was " + WITHOUT_PACKAGES)])
