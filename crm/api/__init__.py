"""The JSON API under ``/api/v1``: bearer-token authentication, JSON errors, list envelopes.

Each feature keeps its API views in ``crm/<feature>/api.py`` as a child blueprint registered here, and its
part of the OpenAPI document in ``crm/<feature>/openapi.yaml``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from crm.api.errors import ApiError
from crm.core.permissions import declared_access, permission_required, public
from crm.extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def authenticate_token():
    """Only a bearer token authenticates an API call; a browser session does not (CSRF does not apply here).

    Views declared ``@public`` (the API's own description) need no token. Every other view needs one; a view
    that changes anything also declares its permissions with ``@permission_required(...)``.
    """
    access = declared_access(current_app.view_functions.get(request.endpoint or ""))
    if access is not None and access.public:
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
@permission_required()
def me():
    from crm.auth.serializers import serialize_user

    return jsonify(serialize_user(current_user, with_scope=True))


@bp.get("/openapi.json")
@public
def openapi_document():
    from crm.api.openapi import build_document

    return jsonify(build_document())


def register_children() -> None:
    """Attach each feature's API blueprint (listed by hand)."""
    from crm.cohorts.api import bp as cohorts_api
    from crm.enterprises.api import bp as enterprises_api
    from crm.events.api import bp as events_api
    from crm.exports.api import bp as exports_api
    from crm.notifications.api import bp as notifications_api
    from crm.pipeline.api import bp as pipeline_api
    from crm.plans.api import bp as plans_api
    from crm.reports.api import bp as reports_api
    from crm.standards.api import bp as standards_api
    from crm.visits.api import bp as visits_api

    children = (
        enterprises_api,
        standards_api,
        plans_api,
        notifications_api,
        events_api,
        visits_api,
        pipeline_api,
        cohorts_api,
        reports_api,
        exports_api,
    )
    for child in children:
        csrf.exempt(child)  # token-authenticated like the parent: nested blueprints are not covered by its exemption
        bp.register_blueprint(child)


register_children()
