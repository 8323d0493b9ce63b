"""Small readers over a synthesized CloudFormation template (plain dicts)."""

from __future__ import annotations

from typing import Any

from infra.cdk.handlers import function_logical_id

Template = dict[str, Any]


def resources_of(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of type `kind`, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def refs(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref / Fn::GetAtt, at any depth); pseudo
    parameters (AWS::Region, ...) are not resources and are left out."""
    if isinstance(value, dict):
        if "Ref" in value:
            return set() if str(value["Ref"]).startswith("AWS::") else {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(v) for v in value))
    return set()


def as_list(value: Any) -> list[Any]:
    """A policy's Action or Resource, which may be a single value, as a list."""
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, function: str) -> list[dict[str, Any]]:
    """The inline policy statements of `function`'s role (which has no managed policy)."""
    fn = template["Resources"][function_logical_id(function)]
    role = template["Resources"][fn["Properties"]["Role"]["Fn::GetAtt"][0]]
    assert not role["Properties"].get("ManagedPolicyArns"), f"{function} has managed policies"
    policies = role["Properties"].get("Policies", [])
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def role_actions(template: Template, function: str) -> set[str]:
    """Every action `function`'s role allows."""
    return {
        action
        for s in role_statements(template, function)
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
    }
