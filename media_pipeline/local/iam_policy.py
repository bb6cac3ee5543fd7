"""The IAM policy language as the emulator evaluates it: requests, statements, conditions, decisions.

Pure: no AWS library. `evaluate` decides as IAM does for one set of statements (explicit deny, allow, implicit deny);
`granting` says which Allow statements matched (what the IAM report counts as used).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


@dataclass(frozen=True)
class Request:
    """One authorization request: what AWS evaluates for a call (a call may need several)."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)  # condition keys: a string, or a list for sets



class UnmappedOperation(Exception):
    """An operation the emulator cannot authorize: add it to OPERATIONS (a test fails, never a silent pass)."""



def _wildcard(pattern: str, value: str, *, case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_MATCHERS: dict[str, Callable[[str, list[str]], bool]] = {
    "StringEquals": lambda actual, wanted: actual in wanted,
    "ArnEquals": lambda actual, wanted: actual in wanted,
    "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() in (w.lower() for w in wanted),
    "Bool": lambda actual, wanted: actual.lower() in (w.lower() for w in wanted),
    "StringLike": lambda actual, wanted: any(_wildcard(w, actual, case=True) for w in wanted),
    "ArnLike": lambda actual, wanted: any(_wildcard(w, actual, case=True) for w in wanted),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if qualifier:  # ForAllValues / ForAnyValue: the context holds a set of values
        return _set_condition_holds(qualifier, operator, key, expected, context)
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    negated = "Not" in base
    if key not in context:
        return if_exists or negated
    matcher = _MATCHERS.get(base.replace("Not", "", 1))
    if matcher is None:
        raise UnmappedOperation(f"condition operator {operator} is not emulated")
    matched = matcher(str(context[key]), [str(v) for v in _listed(expected)])
    return not matched if negated else matched


def _set_condition_holds(qualifier: str, operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    values = _listed(context.get(key, []))
    if qualifier == "ForAllValues":
        return all(_condition_holds(operator, key, expected, {key: v}) for v in values)
    if qualifier == "ForAnyValue":
        return any(_condition_holds(operator, key, expected, {key: v}) for v in values)
    raise UnmappedOperation(f"condition qualifier {qualifier} is not emulated")


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(_wildcard(a, request.action, case=False) for a in _listed(statement["Action"])):
            return False
    elif any(_wildcard(a, request.action, case=False) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_wildcard(r, request.resource, case=True) for r in _listed(statement["Resource"])):
            return False
    elif any(_wildcard(r, request.resource, case=True) for r in _listed(statement.get("NotResource", []))):
        return False
    return all(_condition_holds(operator, key, expected, request.context)
               for operator, keys in (statement.get("Condition") or {}).items()
               for key, expected in keys.items())


def evaluate(statements: Sequence[Mapping[str, Any]], request: Request) -> tuple[bool, str]:
    """(allowed, reason) as IAM decides for one principal's identity policies: explicit deny, allow, implicit deny."""
    matching = [s for s in statements if _statement_matches(s, request)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False, "with an explicit deny in an identity-based policy"
    if any(s.get("Effect") == "Allow" for s in matching):
        return True, "allowed"
    return False, f"because no identity-based policy allows the {request.action} action"


def granting(statements: Sequence[Mapping[str, Any]], request: Request) -> tuple[tuple[int, str], ...]:
    """The Allow statements (index, action pattern) that match the request: what the IAM report counts as used."""
    found = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        for action in _listed(statement.get("Action", [])):
            if _statement_matches({**statement, "Action": [action]}, request):
                found.append((index, action))
    return tuple(found)


def principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return "*" in _listed(principal.get("AWS", [])) or service in _listed(principal.get("Service", []))
