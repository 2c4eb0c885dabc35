"""Notification API: ``/api/v1/notifications`` (the caller's own notification centre)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from crm.api.errors import ApiError
from crm.api.helpers import paginated_response, query_choice
from crm.core.permissions import permission_required
from crm.extensions import db
from crm.notifications import services
from crm.notifications.models import Notification

bp = Blueprint("notifications_api", __name__, url_prefix="/notifications")


def serialize_notification(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


@bp.get("")
def list_notifications():
    errors: dict[str, list[str]] = {}
    unread = query_choice("unread", ["0", "1", "true", "false"], errors)
    if errors:
        raise ApiError(400, _("unread must be 1 or 0."), code="invalid_filter")
    stmt = services.user_notifications(current_user, unread_only=unread in ("1", "true"))
    return paginated_response(stmt, serialize_notification, id_column=Notification.id)


@bp.get("/unread-count")
def unread_count():
    return jsonify({"unread": services.unread_count(current_user)})


@bp.post("/<int:notification_id>/read")
@permission_required()
def mark_read(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        raise ApiError(404, _("No such notification."), code="not_found")
    services.mark_read(notification)
    db.session.commit()
    return jsonify(serialize_notification(notification))


@bp.post("/read-all")
@permission_required()
def mark_all_read():
    marked = services.mark_all_read(current_user)
    db.session.commit()
    return jsonify({"marked": marked})
