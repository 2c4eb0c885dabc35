"""The home page, health check, language switch and error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from crm.core.i18n import normalise_language
from crm.core.permissions import Role, permission_required, public
from crm.extensions import db, limiter
from crm.main import queries

logger = logging.getLogger(__name__)

bp = Blueprint("main", __name__)


@bp.get("/")
@permission_required()
def home():
    """Managers and administrators land on the dashboard; everyone else on their scope's summary and their work."""
    if Role(current_user.role).sees_everything:
        from crm.dashboard.views import render_dashboard

        return render_dashboard(heading=_("Pipeline in my jurisdiction"))
    from crm.dashboard.charts import scope_summary

    return render_template(
        "main/home.html",
        stage_counts=queries.stage_counts(),
        summary=scope_summary(current_user),
        my_enterprises=queries.my_enterprises(current_user, limit=10),
    )


@bp.get("/healthz")
@limiter.exempt
@public
def healthz():
    """Liveness for load balancers: 200 when the database answers, 503 when it does not."""
    status = {"database": "ok", "redis": redis_status()}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means unhealthy
        logger.error("Health check: database unreachable: %s", exc)
        db.session.rollback()
        status["database"] = "down"
    return jsonify(status), 200 if status["database"] == "ok" else 503


def redis_status() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "eager"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except Exception:  # refused, timed out, or answered nonsense: all mean down
        return "down"
    return "ok"


@bp.post("/language")
@public
def set_language():
    """Switch the interface language; remembered on the account, or in the session before login."""
    language = normalise_language(request.form.get("language"))
    if language:
        session["language"] = language
        if current_user.is_authenticated:
            current_user.language = language
            db.session.commit()
    target = request.form.get("next") or request.referrer or url_for("main.home")
    if not _is_local_url(target):
        target = url_for("main.home")
    return redirect(target)


def _is_local_url(target: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(target)
    host_ok = not parts.netloc or parts.netloc == request.host
    return host_ok and parts.scheme in ("", "http", "https") and not target.startswith("//")


def resume_url() -> str | None:
    """Where to come back to after logging in again: the page itself for a GET; for a form sent after the
    session expired, the page that held the form (its Referer, or the URL itself when it also answers GET), so
    the user returns to the form (whose page may restore what was typed)."""
    from urllib.parse import urlsplit

    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = request.referrer
    if referrer and _is_local_url(referrer):
        parts = urlsplit(referrer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    if request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        return request.full_path.rstrip("?")
    return None


def register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        from crm.api.errors import ApiError, error_response

        if isinstance(error, ApiError):
            return error.get_response()
        # Keep the headers the error carries (Allow on 405, Retry-After on 429, WWW-Authenticate ...).
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if wants_json():
            response = error_response(error.code or 500, None, error.description)
            response.headers.extend(headers)
            return response
        template = (
            f"errors/{error.code}.html" if error.code in (400, 403, 404, 405, 413, 429) else "errors/generic.html"
        )
        return render_template(template, error=error), error.code, headers

    @app.errorhandler(Exception)
    def handle_unexpected_error(error: Exception):
        if current_app.testing and not current_app.config.get("CRM_RENDER_ERRORS_IN_TESTS"):
            raise error
        logger.error("Unhandled error on %s %s", request.method, request.path, exc_info=error)
        db.session.rollback()
        if wants_json():
            from crm.api.errors import error_response

            return error_response(500, "server_error", _("An unexpected error occurred."))
        return render_template("errors/500.html"), 500

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError):
        if wants_json():
            from crm.api.errors import error_response

            return error_response(400, "csrf", error.description)
        return render_template("errors/400.html", error=error, csrf=True), 400
