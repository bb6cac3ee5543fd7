"""What the emulator takes from the synthesized CloudFormation template: every role's policies, who assumes
which role, and the settings AWS enforces at run time (function timeouts, the ingest queue's redrive).

The snapshot `media_pipeline/local/deployment.json` is generated from the CDK app, never written by hand:

    python -m media_pipeline.local.deployment --write      # or: make deployment-snapshot

It keeps the template's references as symbols (`${StorageMediaBucket.Arn}/results/*`: the logical id without
CDK's hash suffix), so each emulated account binds them to its own names (`Binding`). The local mode needs no
Node.js or CDK to read it; `tests/infra/test_deployment_snapshot.py` fails when the snapshot and a fresh synth
disagree, so a grant changed in `infra/` without regenerating it cannot pass.
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

SNAPSHOT = Path(__file__).with_name("deployment.json")
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")
_SYMBOL = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


def symbol(logical_id: str) -> str:
    """CDK's logical ids end in an 8-hex-digit hash of the construct path; the rest names the resource."""
    return _HASH_SUFFIX.sub("", logical_id)


def folder_name(function_symbol: str) -> str:
    """`StartTranscriptionFunction` -> `start_transcription` (the folder under functions/)."""
    stem = function_symbol[: -len("Function")] if function_symbol.endswith("Function") else function_symbol
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


# --------------------------------------------------------------------------------------------------------------
# From the template: intrinsic functions become `${Symbol}` / `${Symbol.Attribute}` strings.
# --------------------------------------------------------------------------------------------------------------

def _ref(argument: str) -> str:
    return "${" + (argument if argument.startswith("AWS::") else symbol(argument)) + "}"


def _get_att(argument: Any) -> str:
    logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return "${" + f"{symbol(logical)}.{attribute}" + "}"


def _join(argument: Any) -> str:
    separator, parts = argument
    return separator.join(str(_flatten(part)) for part in parts)


def _sub(argument: Any) -> str:
    text = argument if isinstance(argument, str) else argument[0]
    return _SYMBOL.sub(lambda m: "${" + (m.group(1) if m.group(1).startswith("AWS::") else _sub_symbol(m.group(1)))
                       + "}", text)


_INTRINSICS = {"Ref": _ref, "Fn::GetAtt": _get_att, "Fn::Join": _join, "Fn::Sub": _sub}


def _flatten(value: Any) -> Any:
    """An intrinsic-bearing value as a template string (or a list/dict of them)."""
    if isinstance(value, list):
        return [_flatten(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (name, argument), = value.items()
        if name in _INTRINSICS:
            return _INTRINSICS[name](argument)
        if name.startswith("Fn::"):
            raise ValueError(f"the emulator cannot resolve {name} in the template")
    return {key: _flatten(item) for key, item in value.items()}


def _sub_symbol(reference: str) -> str:
    logical, _, attribute = reference.partition(".")
    return f"{symbol(logical)}.{attribute}" if attribute else symbol(logical)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for statement in _listed(document.get("Statement", [])):
        flat = _flatten(statement)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in flat:
                flat[key] = _listed(flat[key])
        statements.append(flat)
    return statements


def _role_of(properties: Mapping[str, Any], key: str) -> str | None:
    reference = properties.get(key)
    flat = _flatten(reference) if reference is not None else None
    match = _SYMBOL.fullmatch(flat) if isinstance(flat, str) else None
    return match.group(1).split(".")[0] if match else None


def _of_type(resources: Mapping[str, Any], *types: str) -> dict[str, Mapping[str, Any]]:
    """symbol -> Properties of the resources of the given types."""
    return {symbol(logical): body.get("Properties", {}) for logical, body in resources.items() if body["Type"] in types}


def _roles(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every role: the services it trusts and every statement of its inline and attached policies."""
    roles: dict[str, dict[str, Any]] = {}
    for name, properties in _of_type(resources, "AWS::IAM::Role").items():
        trusted = sorted({service for statement in _statements(properties["AssumeRolePolicyDocument"])
                          for service in _listed((statement.get("Principal") or {}).get("Service", []))})
        inline = [s for policy in properties.get("Policies", []) for s in _statements(policy["PolicyDocument"])]
        managed = [_flatten(arn) for arn in properties.get("ManagedPolicyArns", [])]
        roles[name] = {"trusted_services": trusted, "statements": inline, "managed_policies": managed}
    for properties in _of_type(resources, "AWS::IAM::Policy").values():
        statements = _statements(properties["PolicyDocument"])
        for role in properties.get("Roles", []):
            roles[_SYMBOL.fullmatch(_flatten(role)).group(1)]["statements"].extend(statements)
    return dict(sorted(roles.items()))


def _functions(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The pipeline's functions by folder name (CDK's own custom-resource handlers run only in CloudFormation)."""
    functions = {}
    for name, properties in _of_type(resources, "AWS::Lambda::Function").items():
        folder = folder_name(name)
        if (FUNCTIONS_DIR / folder / "handler.py").is_file():
            functions[folder] = {"symbol": name, "role": _role_of(properties, "Role"),
                                 "timeout_seconds": int(properties.get("Timeout", 3)),
                                 "memory_mib": int(properties.get("MemorySize", 128))}
    return dict(sorted(functions.items()))


def _referenced(value: Any) -> str:
    """The symbol a Ref or GetAtt names."""
    return _SYMBOL.fullmatch(_flatten(value)).group(1).split(".")[0]


def snapshot_from_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The emulator's view of a synthesized template (see the module docstring)."""
    resources: dict[str, dict[str, Any]] = template["Resources"]
    return {
        "generated_by": "python -m media_pipeline.local.deployment --write (from app.py -c bundling=false)",
        "resource_policies": _resource_policies(resources),
        "resource_types": dict(sorted((symbol(logical), body["Type"]) for logical, body in resources.items())),
        "roles": _roles(resources),
        "functions": _functions(resources),
        "state_machines": {name: {"role": _role_of(properties, "RoleArn")}
                           for name, properties in _of_type(resources, "AWS::StepFunctions::StateMachine").items()},
        "task_definitions": {name: {"task_role": _role_of(properties, "TaskRoleArn"),
                                    "execution_role": _role_of(properties, "ExecutionRoleArn")}
                             for name, properties in _of_type(resources, "AWS::ECS::TaskDefinition").items()},
        "tables": {name: {"partition_key": next(k["AttributeName"] for k in properties["KeySchema"]
                                                if k["KeyType"] == "HASH")}
                   for name, properties in _of_type(resources, "AWS::DynamoDB::GlobalTable",
                                                    "AWS::DynamoDB::Table").items()},
        "queues": {name: _queue(properties) for name, properties in _of_type(resources, "AWS::SQS::Queue").items()},
        "event_invoke_configs": _event_invoke_configs(resources),
        "event_sources": [{"function": folder_name(_referenced(properties["FunctionName"])),
                           "queue": _referenced(properties["EventSourceArn"]),
                           "batch_size": int(properties.get("BatchSize", 10))}
                          for properties in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()],
    }


def _event_invoke_configs(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Function folder -> how Lambda retries its asynchronous invocations, and the queue that gets what still
    fails (Lambda's defaults where the template says nothing)."""
    configs = {}
    for properties in _of_type(resources, "AWS::Lambda::EventInvokeConfig").values():
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        configs[folder_name(_referenced(properties["FunctionName"]))] = {
            "maximum_retry_attempts": int(properties.get("MaximumRetryAttempts", 2)),
            "maximum_event_age_seconds": int(properties.get("MaximumEventAgeInSeconds", 21600)),
            "on_failure": _referenced(destination) if destination else None}
    return dict(sorted(configs.items()))


def _resource_policies(resources: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Resource symbol -> its resource-based policy: Lambda permissions, queue and topic policies."""
    policies: dict[str, list[dict[str, Any]]] = {}
    for body in resources.values():
        properties = body["Properties"] if "Properties" in body else {}
        if body["Type"] == "AWS::Lambda::Permission":
            function = _flatten(properties["FunctionName"])
            statement = {"Effect": "Allow", "Principal": {"Service": [properties["Principal"]]},
                         "Action": [properties["Action"]], "Resource": [function]}
            if "SourceArn" in properties:
                statement["Condition"] = {"ArnLike": {"aws:SourceArn": _flatten(properties["SourceArn"])}}
            policies.setdefault(_SYMBOL.fullmatch(function).group(1).split(".")[0], []).append(statement)
        for kind, owners in (("AWS::SQS::QueuePolicy", "Queues"), ("AWS::SNS::TopicPolicy", "Topics")):
            if body["Type"] == kind:
                for owner in properties[owners]:
                    owner_symbol = _SYMBOL.fullmatch(_flatten(owner)).group(1).split(".")[0]
                    policies.setdefault(owner_symbol, []).extend(_statements(properties["PolicyDocument"]))
    return dict(sorted(policies.items()))


def _queue(properties: Mapping[str, Any]) -> dict[str, Any]:
    redrive = properties.get("RedrivePolicy") or {}
    return {"visibility_timeout_seconds": int(properties.get("VisibilityTimeout", 30)),
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
            "dead_letter_queue": _flatten(redrive["deadLetterTargetArn"])[2:-1].split(".")[0] if redrive else None}


# --------------------------------------------------------------------------------------------------------------
# Into an emulated account: symbols bound to local names and ARNs.
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Binding:
    """Local names for the template's resources; every other resource is named after its symbol."""

    region: str
    account: str
    names: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def name(self, resource: str) -> str:
        return self.names.get(resource, resource)

    def arn(self, resource: str) -> str:
        kind, name, region, account = self.types.get(resource, ""), self.name(resource), self.region, self.account
        formats = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::GlobalTable": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::ECS::Cluster": f"arn:aws:ecs:{region}:{account}:cluster/{name}",
            "AWS::ECS::TaskDefinition": f"arn:aws:ecs:{region}:{account}:task-definition/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name}",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{region}:{account}:event-bus/{name}",
        }
        return formats.get(kind, f"arn:aws:emulator:{region}:{account}:{name}")

    def ref(self, resource: str) -> str:
        """What `Ref` gives for the resource type (a name for most, an ARN or URL for some)."""
        kind = self.types.get(resource, "")
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::ECS::TaskDefinition"):
            return self.arn(resource)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(resource)}"
        return self.name(resource)

    def resolve(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            reference = match.group(1)
            pseudo = {"AWS::Partition": "aws", "AWS::Region": self.region, "AWS::AccountId": self.account,
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "MediaPipeline"}
            if reference in pseudo:
                return pseudo[reference]
            resource, _, attribute = reference.partition(".")
            if not attribute:
                return self.ref(resource)
            if attribute == "Arn":
                return self.arn(resource)
            if attribute in ("Name", "QueueName", "TopicName"):
                return self.name(resource)
            return f"{self.name(resource)}.{attribute}"  # an attribute no emulated call is authorized on

        return _SYMBOL.sub(value, text)

    def resolve_all(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.resolve(value)
        if isinstance(value, list):
            return [self.resolve_all(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve_all(item) for key, item in value.items()}
        return value


@lru_cache(maxsize=1)
def load(path: Path = SNAPSHOT) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def local_context() -> dict[str, str]:
    """The local mode is a deployment configured for the offline engines: its model id is the extractive stand-in's
    (so the grant the emulator checks names the model the local mode really calls)."""
    from media_pipeline.local.engines.extractive import MODEL_ID

    return {"bundling": "false", "bedrock_model_id": MODEL_ID}


def synthesize_template(context: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The CDK app's template, synthesized offline (bundling off, no credentials, no Docker)."""
    import tempfile

    from infra.application import create_app

    with tempfile.TemporaryDirectory() as outdir:
        app, stack = create_app(context=dict(context or local_context()), outdir=outdir, checks=False)
        assembly = app.synth()
        return dict(assembly.get_stack_by_name(stack.stack_name).template)


def render(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {SNAPSHOT.name} (default: print it)")
    args = parser.parse_args(argv)
    text = render(snapshot_from_template(synthesize_template()))
    if args.write:
        SNAPSHOT.write_text(text, encoding="utf-8")
        print(f"wrote {SNAPSHOT}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
