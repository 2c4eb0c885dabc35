"""Queueing mail and in-app notifications (delivered after the commit, through the outbox), the notification
centre's reads, users' preferences, and the reminder rules' seed. Functions flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import g, has_app_context
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from crm.core import jobs
from crm.core.models import utcnow
from crm.core.pagination import capped_count
from crm.extensions import db
from crm.notifications.models import (
    Channel,
    EmailMode,
    Notification,
    NotificationPreference,
    OutboxMessage,
    ReminderRule,
)

DATA_DIR = Path(__file__).resolve().parent / "data"


def queue_email(
    to_address: str,
    subject: str,
    body_text: str,
    *,
    body_html: str | None = None,
    user: Any = None,
    attachments: Iterable[Any] = (),
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue an email; it is sent after the caller's commit (and kept, never lost, when mail is not set up)."""
    message = OutboxMessage(
        channel=Channel.EMAIL,
        user_id=getattr(user, "id", None),
        to_address=to_address,
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        attachments=[getattr(a, "id", a) for a in attachments] or None,
        dedupe_key=dedupe_key,
    )
    db.session.add(message)
    db.session.flush()
    jobs.enqueue("notifications.deliver", message.id)
    return message


def notify(
    user: Any, title: str, body: str = "", *, url: str | None = None, dedupe_key: str | None = None
) -> OutboxMessage:
    """Queue an in-app notification for a user."""
    message = OutboxMessage(
        channel=Channel.IN_APP, user_id=user.id, subject=title[:300], body_text=body, url=url, dedupe_key=dedupe_key
    )
    db.session.add(message)
    db.session.flush()
    jobs.enqueue("notifications.deliver", message.id)
    return message


# --- the notification centre --------------------------------------------------------------------------------


#: Where a request keeps the unread count read together with its user (``g``): ``(user id, count)``.
UNREAD_KEY = "_crm_unread_count"
#: The navigation's badges count up to this and then show "99+": a user who never reads their notifications
#: (or an outbox that failed for weeks) would otherwise make every page count tens of thousands of rows.
BADGE_LIMIT = 99


def unread_count(user: Any) -> int:
    """The user's unread notifications, exactly: the count read with the user at the start of the request
    (``unread_count_column``, capped) when it is below the cap and the request has written nothing, else
    counted now."""
    kept = g.get(UNREAD_KEY) if has_app_context() else None
    if kept is not None and kept[0] == user.id and kept[1] <= BADGE_LIMIT:
        return kept[1]
    return (
        db.session.scalar(select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None)))
        or 0
    )


def unread_badge_count(user: Any) -> int:
    """The navigation's unread count: exact up to ``BADGE_LIMIT``, ``BADGE_LIMIT + 1`` for any more."""
    kept = g.get(UNREAD_KEY) if has_app_context() else None
    if kept is not None and kept[0] == user.id:
        return kept[1]
    return db.session.scalar(select(unread_count_column(user.id))) or 0


def unread_count_column(user_id: Any) -> Any:
    """The user's unread count, capped at ``BADGE_LIMIT + 1``, as a scalar subquery (``user_id``: a value or a
    bind parameter), so that a page reads its user and the navigation's count in one statement; pass the value
    to ``keep_unread_count``."""
    return capped_count(
        select(Notification.id).where(Notification.user_id == user_id, Notification.read_at.is_(None)), BADGE_LIMIT
    ).scalar_subquery()


def keep_unread_count(user_id: int, count: int) -> None:
    """Remember a user's unread count for the rest of the request, or until the request writes anything."""
    if has_app_context():
        setattr(g, UNREAD_KEY, (user_id, count or 0))


def _forget_unread_count() -> None:
    if has_app_context():
        g.pop(UNREAD_KEY, None)


@event.listens_for(Session, "after_flush")
def _written(session: Session, flush_context: Any) -> None:
    _forget_unread_count()


@event.listens_for(Session, "do_orm_execute")
def _statement(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _forget_unread_count()


def user_notifications(user: Any, *, unread_only: bool = False):
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def mark_read(notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()


def mark_all_read(user: Any) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0


# --- preferences --------------------------------------------------------------------------------------------


def email_mode(user: Any) -> EmailMode:
    preference = db.session.get(NotificationPreference, user.id)
    return EmailMode(preference.email_mode) if preference is not None else EmailMode.IMMEDIATE


def set_email_mode(user: Any, mode: EmailMode) -> NotificationPreference:
    preference = db.session.get(NotificationPreference, user.id)
    if preference is None:
        preference = NotificationPreference(user_id=user.id)
        db.session.add(preference)
    preference.email_mode = EmailMode(mode)
    db.session.flush()
    return preference


# --- reminder rules -----------------------------------------------------------------------------------------


RULE_FIELDS = (
    "name_zh",
    "name_en",
    "watch",
    "offset_days",
    "recipients",
    "subject_zh",
    "subject_en",
    "body_zh",
    "body_en",
)


def seed_reminder_rules(update: bool = False) -> int:
    """Seed the reminder rules of ``data/reminder_rules.yaml``; an administrator's edits survive unless ``update``."""
    from crm.reference.services import load_yaml, upsert

    created = 0
    for entry in load_yaml(DATA_DIR / "reminder_rules.yaml"):
        values = {name: entry[name] for name in RULE_FIELDS}
        values["is_active"] = bool(entry.get("is_active", True))
        _row, new = upsert(ReminderRule, entry["code"], values, update=update)
        created += new
    db.session.flush()
    return created


def create_rule(watch: str, **values: Any) -> ReminderRule:
    """An administrator's new rule; its code is ``custom_<id>``."""
    rule = ReminderRule(code=f"pending_{utcnow().timestamp()}", watch=watch, **values)
    db.session.add(rule)
    db.session.flush()
    rule.code = f"custom_{rule.id}"
    db.session.flush()
    return rule
