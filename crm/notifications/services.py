"""Queueing mail and in-app notifications. Delivery happens after the commit, through the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.core import jobs
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage


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
