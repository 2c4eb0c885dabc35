"""The API reference for integrators at ``/api/docs``: the OpenAPI document rendered on the server.

Rendered with Jinja rather than a JavaScript viewer, so it works under the strict Content-Security-Policy
(no inline scripts or styles), on intranets without internet access, and without a vendored bundle to keep
patched. It always matches ``/api/v1/openapi.json`` because it is built from the same document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, render_template
from markupsafe import Markup, escape

from crm.api.openapi import build_document
from crm.core.permissions import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/docs")

METHODS = ("get", "post", "put", "patch", "delete")
METHOD_CLASSES = {"get": "primary", "post": "success", "put": "warning", "patch": "warning", "delete": "danger"}


@dataclass
class SchemaView:
    """A schema flattened for display: its type, and its properties or items as nested views."""

    type_text: str = ""
    ref: str | None = None
    description: str = ""
    enum: list[Any] = field(default_factory=list)
    properties: list[tuple[str, bool, SchemaView]] = field(default_factory=list)
    items: SchemaView | None = None
    variants: list[SchemaView] = field(default_factory=list)
    variant_kind: str = ""
    constraints: list[str] = field(default_factory=list)


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def schema_view(schema: dict[str, Any] | None, components: dict[str, Any], depth: int = 0) -> SchemaView:
    """Describe a schema; ``$ref``s become links to the component, never expanded (so no cycles)."""
    schema = schema or {}
    if "$ref" in schema:
        return SchemaView(type_text=ref_name(schema["$ref"]), ref=ref_name(schema["$ref"]))
    view = SchemaView(description=str(schema.get("description", "")))
    if "allOf" in schema:
        merged = _merge_all_of(schema["allOf"], components)
        merged.update({k: v for k, v in schema.items() if k != "allOf"})
        return schema_view(merged, components, depth)
    for kind in ("oneOf", "anyOf"):
        if kind in schema:
            view.variant_kind = kind
            view.variants = [schema_view(part, components, depth + 1) for part in schema[kind]]
            view.type_text = " | ".join(v.type_text for v in view.variants)
    types = schema.get("type")
    if isinstance(types, list):
        type_text = " | ".join(str(t) for t in types)
    else:
        type_text = str(types or "")
    if schema.get("format"):
        type_text += f" ({schema['format']})"
    if type_text:
        view.type_text = type_text
    view.enum = list(schema.get("enum", []))
    for key in ("minimum", "maximum", "minLength", "maxLength", "default", "pattern"):
        if key in schema:
            view.constraints.append(f"{key}: {schema[key]}")
    if depth < 6:
        required = set(schema.get("required", []))
        for name, value in (schema.get("properties") or {}).items():
            view.properties.append((name, name in required, schema_view(value, components, depth + 1)))
        if "items" in schema:
            view.items = schema_view(schema["items"], components, depth + 1)
            view.type_text = f"array of {view.items.type_text or 'any'}"
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            view.properties.append(("*", False, schema_view(extra, components, depth + 1)))
    return view


def _merge_all_of(parts: list[dict[str, Any]], components: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        if "$ref" in part:
            part = components.get("schemas", {}).get(ref_name(part["$ref"]), {})
            if "allOf" in part:
                part = _merge_all_of(part["allOf"], components)
        merged["properties"].update(part.get("properties") or {})
        merged["required"].extend(part.get("required") or [])
        for key, value in part.items():
            if key not in ("properties", "required", "type"):
                merged.setdefault(key, value)
    return merged


def resolve(node: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` to a shared parameter or response."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {})
        return target
    return node


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, grouped by the first segment of its path, in document order."""
    components = document.get("components", {})
    result = []
    for path, item in document.get("paths", {}).items():
        shared = [resolve(p, document) for p in item.get("parameters", [])]
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = shared + [resolve(p, document) for p in operation.get("parameters", [])]
            body = operation.get("requestBody")
            body = resolve(body, document) if body else None
            body_content = (body or {}).get("content", {})
            responses = []
            for status, response in operation.get("responses", {}).items():
                response = resolve(response, document)
                content = response.get("content", {})
                media, media_body = next(iter(content.items()), (None, {}))
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "media": media,
                        "schema": schema_view(media_body.get("schema"), components) if media else None,
                    }
                )
            result.append(
                {
                    "id": operation.get("operationId") or f"{method}-{path}",
                    "group": (operation.get("tags") or [path.strip("/").split("/")[0] or "api"])[0],
                    "method": method.upper(),
                    "method_class": METHOD_CLASSES[method],
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "public": operation.get("security") == [],
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": bool(p.get("required")),
                            "description": p.get("description", ""),
                            "schema": schema_view(p.get("schema"), components),
                        }
                        for p in parameters
                    ],
                    "body": {
                        "required": bool(body.get("required")),
                        "description": body.get("description", ""),
                        "media": next(iter(body_content), None),
                        "schema": schema_view(next(iter(body_content.values()), {}).get("schema"), components),
                    }
                    if body
                    else None,
                    "responses": responses,
                }
            )
    return result


_CODE_SPAN = re.compile(r"`([^`]+)`")


def inline_markup(text: str | None) -> Markup:
    """The little Markdown the fragments use: `code` spans and paragraphs; everything else is escaped."""
    if not text:
        return Markup("")
    paragraphs = [p.strip() for p in str(text).split("\n\n") if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = str(escape(" ".join(paragraph.split())))
        rendered.append("<p>" + _CODE_SPAN.sub(r"<code>\1</code>", escaped) + "</p>")
    return Markup("".join(rendered))


@bp.get("/")
@public
def reference():
    document = build_document()
    ops = operations(document)
    groups: dict[str, list[dict[str, Any]]] = {}
    for op in ops:
        groups.setdefault(op["group"], []).append(op)
    components = document.get("components", {})
    schemas = [
        (name, schema_view(schema, components)) for name, schema in sorted(components.get("schemas", {}).items())
    ]
    return render_template(
        "api/docs.html",
        document=document,
        info=document.get("info", {}),
        groups=groups,
        schemas=schemas,
        inline_markup=inline_markup,
    )
