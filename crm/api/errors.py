"""JSON errors of the API: ``{"error": {"code": ..., "message": ..., "fields": {...}}}``."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.exceptions import HTTPException

DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


def error_response(
    status: int, code: str | None, message: str | None, fields: dict[str, list[str]] | None = None, **extra: Any
):
    body: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, "error"), "message": message or ""}
    if fields:
        body["fields"] = fields
    body.update(extra)
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class ApiError(HTTPException):
    """Raise from an API view to answer with a JSON error; ``extra`` adds members such as ``existing_id``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        **extra: Any,
    ):
        super().__init__(description=message)
        self.code = status
        self.error_code = code or DEFAULT_CODES.get(status, "error")
        self.fields = fields
        self.extra = extra

    def get_response(self, environ=None, scope=None):
        return error_response(self.code, self.error_code, self.description, self.fields, **self.extra)


def validation_error(fields: dict[str, list[str]], message: str | None = None, code: str = "validation_failed"):
    from flask_babel import gettext as _

    return ApiError(422, message or _("The request has invalid fields."), code=code, fields=fields)
