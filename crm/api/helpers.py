"""Helpers shared by the feature API modules: bodies, pagination, list envelopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import Select

from crm.api.errors import ApiError
from crm.core.pagination import Page, PageArgumentError, page_args, paginate


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


def paginated_response(stmt: Select, serialize: Callable[[Any], dict]):
    page, per_page = api_page_args()
    return list_response(paginate(stmt, page, per_page), serialize)


def parse_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
    """Read an ISO date (YYYY-MM-DD) into ``errors`` under ``field`` when it is not one."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(field, []).append(_("Use a date in the form YYYY-MM-DD."))
        return None
