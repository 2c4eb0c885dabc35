"""The OpenAPI document is valid OpenAPI 3.1 and describes exactly the API the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from crm.api.openapi import build_document

METHODS = {"get", "post", "put", "patch", "delete"}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def served_operations(app) -> set[tuple[str, str]]:
    """(path as the document writes it, method) of every route under the API's base URL."""
    base = build_document()["servers"][0]["url"].rstrip("/")
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(base + "/"):
            continue
        path = _ARGUMENT.sub(r"{\1}", rule.rule[len(base) :]).rstrip("/") or "/"
        for method in rule.methods or ():
            if method.lower() in METHODS:
                operations.add((path, method.lower()))
    return operations


def documented_operations() -> set[tuple[str, str]]:
    return {
        (path.rstrip("/") or "/", method)
        for path, item in build_document()["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    try:
        validate(document)
    except OpenAPIValidationError as exc:  # pragma: no cover - the message is the useful part
        raise AssertionError(f"invalid OpenAPI document: {exc}") from None


def test_every_served_operation_is_documented(app):
    missing = served_operations(app) - documented_operations()
    assert not missing, (
        "Routes under /api/v1 missing from the OpenAPI document (describe them in crm/<package>/openapi.yaml "
        f"and list the package in FRAGMENTS in crm/api/openapi.py): {sorted(missing)}"
    )


def test_every_documented_operation_is_served(app):
    stale = documented_operations() - served_operations(app)
    assert not stale, f"The OpenAPI document describes operations the app does not serve: {sorted(stale)}"


def _resolved(document: dict, parameter: dict) -> dict:
    """A parameter object, following a local ``$ref`` ("#/components/parameters/EventId")."""
    seen = 0
    while "$ref" in parameter and seen < 10:
        target: object = document
        for part in parameter["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        parameter = target if isinstance(target, dict) else {}
        seen += 1
    return parameter


def test_operations_have_unique_ids_and_document_their_errors():
    problems = []
    seen: dict[str, str] = {}
    document = build_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            name = f"{method.upper()} {path}"
            operation_id = operation.get("operationId")
            if not operation_id:
                problems.append(f"{name}: no operationId")
            elif operation_id in seen:
                problems.append(f"{name}: operationId {operation_id} is also used by {seen[operation_id]}")
            else:
                seen[operation_id] = name
            responses = operation.get("responses", {})
            if operation.get("security") != [] and "401" not in responses:
                problems.append(f"{name}: does not document 401 (no or bad token)")
            arguments = set(re.findall(r"{([^}]+)}", path))
            parameters = [_resolved(document, p) for p in item.get("parameters", []) + operation.get("parameters", [])]
            declared = {p.get("name") for p in parameters if p.get("in") == "path"}
            if any(p.get("name") in ("page", "per_page") for p in parameters) and "400" not in responses:
                problems.append(f"{name}: takes page and per_page but does not document 400 (an invalid page)")
            if arguments and "404" not in responses:
                problems.append(f"{name}: takes a record id but does not document 404 (missing or out of scope)")
            if not arguments <= declared:
                problems.append(f"{name}: path arguments {sorted(arguments - declared)} are not described")
    assert not problems, "\n".join(problems)


def test_the_document_is_served_without_a_token_and_matches_the_build(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json == build_document()


def test_no_text_was_split_into_keys_by_yaml():
    """An unquoted description with a comma inside a flow mapping (``{description: A, or B.}``) becomes an
    extra key with no value, which JSON Schema keywords silently accept: quote such texts."""
    stray: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None and key not in ("default", "example", "const"):
                    stray.append(f"{where}: {key!r}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(build_document(), "")
    assert not stray, "Keys without a value (quote the text they were cut from):\n" + "\n".join(stray)
