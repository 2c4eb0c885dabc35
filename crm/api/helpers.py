"""Helpers shared by the feature API modules: bodies, pagination, list envelopes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import Select

from crm.api.errors import ApiError
from crm.core.pagination import Page, PageArgumentError, page_args, paginate
from crm.core.security import MAX_URL_INTEGER

#: An ISO 8601 calendar date as OpenAPI's ``format: date`` has it (YYYY-MM-DD, nothing else).
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 error."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, _("The request body must be a JSON object."), code="invalid_body")
    return data


def api_page_args() -> tuple[int, int]:
    try:
        return page_args(default_per_page=50, max_per_page=current_app.config["API_MAX_PER_PAGE"])
    except PageArgumentError:
        raise ApiError(
            400,
            _("page must be a whole number from 1 to 1,000,000, and per_page a whole number of at least 1."),
            code="invalid_page",
        ) from None


def list_response(page: Page, serialize: Callable[[Any], dict]):
    return jsonify(
        {
            "items": [serialize(item) for item in page.items],
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
        }
    )


def paginated_response(stmt: Select, serialize: Callable[[Any], dict], *, id_column: Any = None):
    """One page of ``stmt`` as the API's list envelope (``id_column``: see ``paginate``, for deep lists)."""
    page, per_page = api_page_args()
    return list_response(paginate(stmt, page, per_page, id_column=id_column), serialize)


def parse_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
    """Read an ISO date (YYYY-MM-DD; null for none) into ``errors`` under ``field`` when it is not one."""
    if value is None:
        return None
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.setdefault(field, []).append(_("Use a date in the form YYYY-MM-DD."))
    return None


def is_choice(value: Any, choices: Iterable[str]) -> bool:
    """Whether a JSON value is one of the given codes (objects and lists never are, and are not hashable)."""
    return isinstance(value, str) and value in set(choices)


def as_int(value: Any) -> int | None:
    """A JSON number that is whole (JSON Schema's integer: 3 and 3.0 alike) as an int, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_id(value: Any) -> int | None:
    """A JSON value that can be a record id (a whole number within the database's integer range), else None."""
    number = as_int(value)
    return number if number is not None and 1 <= number <= MAX_URL_INTEGER else None


def id_list(value: Any) -> list[int] | None:
    """A non-empty JSON list of record ids, else None."""
    if not isinstance(value, list) or not value:
        return None
    ids = [as_id(item) for item in value]
    return None if None in ids else ids


def query_value(name: str, errors: dict[str, list[str]]) -> str | None:
    """An optional query argument given at most once (a repeated one is an error)."""
    values = request.args.getlist(name)
    if len(values) > 1:
        errors[name] = [_("Give this argument once.")]
        return None
    return values[0] if values else None


def query_choice(name: str, choices: Iterable[str], errors: dict[str, list[str]]) -> str | None:
    """An optional query argument that must be one of ``choices`` when it is given (empty is not one)."""
    choices = list(choices)
    value = query_value(name, errors)
    if value is not None and value not in choices:
        errors[name] = [_("Use one of: %(values)s.", values=", ".join(choices))]
        return None
    return value


def query_date(name: str, errors: dict[str, list[str]]) -> date | None:
    """An optional query argument that must be a date (YYYY-MM-DD) when it is given."""
    return parse_date(query_value(name, errors), name, errors)
