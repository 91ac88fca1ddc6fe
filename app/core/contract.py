"""Conventions applied to the generated OpenAPI document, so that generated clients get
one type per vocabulary and the right optional/required fields.

- **One enum, one component.** A set of values (weekdays, units, access, a plan's status...)
  is declared once, as a named component, and referenced everywhere; pydantic writes a
  ``Literal`` inline, so two models that share a vocabulary would otherwise give clients two
  types (``Experience`` and ``PlanProfileExperience``).
- **Server defaults are optional on input.** A request body's field with a server default
  carries the default in its description rather than as ``default``: generators such as
  openapi-typescript turn a ``default`` into a required field, although leaving it out is
  what the default is for.
- **What a response always carries is required.** Every field of a 2xx response body is
  always present (``null`` when empty), so it is listed as required; problem documents,
  which leave out what does not apply, are the exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# Value sets written inline by pydantic (a Literal) that are one vocabulary: the component
# each becomes. Enum classes already are components; equal value sets are merged into the
# first name listed for them here.
NAMED_ENUMS: dict[frozenset[str], str] = {
    frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}): "Weekday",
    frozenset({"kg", "lb"}): "Units",
    frozenset({"read", "write"}): "Access",
    frozenset({"owner", "read", "write"}): "AthleteAccess",
    frozenset({"active", "archived"}): "PlanStatus",
    frozenset({"strength", "tendon", "run", "test"}): "SessionKind",
    frozenset({"heel-raise", "hop"}): "ClinicalTestName",
    frozenset({"left", "right", "both"}): "Side",
    frozenset({"new", "intermediate", "advanced"}): "Experience",
    frozenset({"general-resilience", "5k", "10k", "half-marathon", "marathon", "ultra"}): "Goal",
    frozenset({"mid-portion", "insertional"}): "PainSite",
    frozenset({"upsert", "delete"}): "ChangeOp",
    frozenset({"workout", "run", "checkin", "test"}): "Entity",
    frozenset({"manual", "fit", "gpx"}): "RunSource",
    frozenset({"pending", "active"}): "GrantStatus",
    frozenset({"confidential", "public"}): "ClientType",
    frozenset(
        {"plans:read", "plans:write", "profile:read", "profile:write", "training:read", "training:write"}
    ): "Scope",
    frozenset({"load.svg", "progress.svg", "plan.ics"}): "FeedResource",
    frozenset(
        f"{kind}.{change}"
        for kind in ("workout", "run", "checkin", "test")
        for change in ("created", "updated", "deleted")
    )
    | {"plan.created", "plan.adapted"}: "EventType",
}
PROBLEM_COMPONENTS = frozenset({"Problem", "FieldProblem"})
REF = "#/components/schemas/"


def apply(schema: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    _one_component_per_enum(schema, components)
    inputs, outputs = _reached(schema, components)
    for name in sorted(inputs - outputs):
        _defaults_in_descriptions(components[name])
    for name in sorted(outputs - inputs - PROBLEM_COMPONENTS):
        component = components[name]
        if component.get("type") == "object" and component.get("properties"):
            component["required"] = list(component["properties"])
    return schema


# ---------------------------------------------------------------- enums


def _enum_key(node: dict[str, Any]) -> frozenset[str] | None:
    values = node.get("enum")
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return frozenset(values)
    return None


def _one_component_per_enum(schema: dict[str, Any], components: dict[str, Any]) -> None:
    # Components that are enums: the first of each value set is kept (or the name NAMED_ENUMS
    # gives it); the others are folded into it.
    canonical: dict[frozenset[str], str] = {}
    renamed: dict[str, str] = {}
    for name in sorted(components, key=lambda n: (n not in NAMED_ENUMS.values(), n)):
        key = _enum_key(components[name])
        if key is None:
            continue
        wanted = NAMED_ENUMS.get(key, name)
        if key not in canonical:
            canonical[key] = wanted
            if wanted != name:
                components[wanted] = {**components.pop(name), "title": wanted}
                renamed[name] = wanted
        else:
            components.pop(name)
            renamed[name] = canonical[key]
    for key, name in NAMED_ENUMS.items():
        canonical.setdefault(key, name)

    def rewrite(node: Any, top: bool) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF) :] in renamed:
                node = {**node, "$ref": REF + renamed[ref[len(REF) :]]}
            key = _enum_key(node)
            if key is not None and not top and key in canonical:
                target = canonical[key]
                if target not in components:
                    components[target] = {"type": "string", "enum": node["enum"], "title": target}
                extra = {k: v for k, v in node.items() if k not in ("enum", "type", "title", "const")}
                return {"$ref": REF + target, **extra}
            return {k: rewrite(v, False) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v, False) for v in node]
        return node

    schema["paths"] = rewrite(schema["paths"], False)
    for name in list(components):
        components[name] = rewrite(components[name], True)


# ---------------------------------------------------------------- inputs and outputs


def _refs(node: Any) -> Iterator[str]:
    """Components a node names, leaving out read-only properties (what an input takes back
    from a GET and ignores)."""
    if isinstance(node, dict):
        if node.get("readOnly"):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            yield ref[len(REF) :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(start: Iterator[str], components: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_refs(components[name]))
    return seen


def _reached(schema: dict[str, Any], components: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Components a request body reaches, and components a 2xx response body reaches
    (through ``$ref``)."""
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    bodies = [op.get("requestBody", {}) for op in operations]
    inputs = _closure(_refs(bodies), components)
    ok = [r for op in operations for status, r in op.get("responses", {}).items() if status.startswith("2")]
    outputs = _closure(_refs(ok), components)
    return inputs, outputs


def _defaults_in_descriptions(component: dict[str, Any]) -> None:
    for spec in component.get("properties", {}).values():
        if "default" in spec:
            default = spec.pop("default")
            shown = json.dumps(default)
            text = spec.get("description", "").rstrip()
            spec["description"] = f"{text} Default: `{shown}`.".strip()


# ---------------------------------------------------------------- security


def _calls(dependant: Any) -> Iterator[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def also_accepted(schema: dict[str, Any], alongside: str, name: str, definition: dict[str, Any]) -> None:
    """Declare security scheme ``name`` wherever scheme ``alongside`` is declared, with the
    same scopes, as an alternative credential (and ``definition`` among the components, after
    ``alongside``'s). For a credential the server reads through another scheme's dependency
    (the same ``Authorization: Bearer`` header): a dependency of its own would only repeat
    that read on every request, at the cost of one more dependency to solve (about 5 % of a
    one-record read's instructions, bench/instructions.py)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    position = list(schemes).index(alongside) + 1 if alongside in schemes else len(schemes)
    entries = list(schemes.items())
    entries.insert(position, (name, definition))
    schemes.clear()
    schemes.update(entries)
    for item in schema["paths"].values():
        for operation in item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if not security:
                continue
            operation["security"] = [
                alternative
                for entry in security
                for alternative in ([entry, {name: list(entry[alongside])}] if alongside in entry else [entry])
            ]


def login_only(schema: dict[str, Any], routes: list[Any], needs_login: tuple[Any, ...]) -> None:
    """Operations whose dependencies refuse personal access tokens (they need a login
    session: ``needs_login``) declare the OAuth2 scheme only, as the server behaves."""
    from fastapi.routing import APIRoute, iter_route_contexts

    login_only_ids = {
        context.original_route.name
        for context in iter_route_contexts(routes)
        if isinstance(context.original_route, APIRoute)
        and any(call in needs_login for call in _calls(context.original_route.dependant))
    }
    for item in schema["paths"].values():
        for operation in item.values():
            if operation.get("operationId") in login_only_ids and "security" in operation:
                operation["security"] = [entry for entry in operation["security"] if "PersonalAccessToken" not in entry]
