"""The JSON API under ``/api/v1``: bearer-token authentication, JSON errors, list envelopes.

Each feature keeps its API views in ``crm/<feature>/api.py`` as a child blueprint registered here, and its
part of the OpenAPI document in ``crm/<feature>/openapi.yaml``.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from crm.api.errors import ApiError
from crm.extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

#: Endpoints anyone may read without a token (the API's own description).
PUBLIC_ENDPOINTS = {"api.openapi_document"}


@bp.before_request
def authenticate_token():
    """Only a bearer token authenticates an API call; a browser session does not (CSRF does not apply here)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    from crm.auth.services import user_for_token

    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, _("Send an API token as 'Authorization: Bearer TOKEN'."), code="unauthorized")
    user = user_for_token(token.strip())
    if user is None:
        db.session.rollback()
        raise ApiError(401, _("The API token is unknown or has been revoked."), code="invalid_token")
    db.session.commit()  # keep the token's last use even when the call only reads
    g._login_user = user  # Flask-Login's current_user for this request, without touching the session
    return


@bp.get("/me")
def me():
    from crm.auth.serializers import serialize_user

    return jsonify(serialize_user(current_user, with_scope=True))


@bp.get("/openapi.json")
def openapi_document():
    from crm.api.openapi import build_document

    return jsonify(build_document())


def register_children() -> None:
    """Attach each feature's API blueprint (listed by hand)."""
    from crm.enterprises.api import bp as enterprises_api

    for child in (enterprises_api,):
        csrf.exempt(child)  # nested blueprints are not covered by the parent's exemption
        bp.register_blueprint(child)


register_children()
