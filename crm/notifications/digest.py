"""The daily digest: one email per user bundling the reminders that waited for it.

Reminders of users who prefer a digest are recorded with status ``digest`` (their in-app notification goes out
at once). The digest job claims each user's waiting reminders with a conditional UPDATE (``status = 'digest'``),
so two digest jobs running together never put a reminder in two emails, and writes one email per user.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.auth.models import User
from crm.core import jobs
from crm.core.models import utcnow
from crm.core.timeutil import local_date
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, Reminder, ReminderStatus
from crm.notifications.reminders import _public_url
from crm.notifications.templating import format_value

logger = logging.getLogger(__name__)


def send_digests(now: datetime | None = None) -> dict[str, int]:
    """Bundle every user's waiting reminders into one email each; the caller commits."""
    now = now or utcnow()
    today = local_date(now)
    counts = {"digests": 0, "reminders": 0, "no_address": 0}
    user_ids = db.session.scalars(
        select(Reminder.user_id).where(Reminder.status == ReminderStatus.DIGEST).distinct().order_by(Reminder.user_id)
    ).all()
    public_url = _public_url()
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        claimed = db.session.scalars(
            update(Reminder)
            .where(Reminder.user_id == user_id, Reminder.status == ReminderStatus.DIGEST)
            .values(status=ReminderStatus.DIGESTED)
            .returning(Reminder.id)
        ).all()
        if not claimed:
            continue  # another digest job took them
        if user is None or not user.is_active or not user.email:
            db.session.execute(update(Reminder).where(Reminder.id.in_(claimed)).values(status=ReminderStatus.SKIPPED))
            counts["no_address"] += 1
            continue
        reminders = db.session.scalars(
            select(Reminder).where(Reminder.id.in_(claimed)).order_by(Reminder.fires_on, Reminder.rule_id, Reminder.id)
        ).all()
        message = _digest_message(user, reminders, today, public_url)
        db.session.add(message)
        db.session.flush()
        db.session.execute(update(Reminder).where(Reminder.id.in_(claimed)).values(digest_message_id=message.id))
        counts["digests"] += 1
        counts["reminders"] += len(claimed)
    if counts["digests"]:
        jobs.enqueue("notifications.deliver_pending", "queued")
    return counts


def _digest_message(user: User, reminders: list[Reminder], today: Any, public_url: str) -> OutboxMessage:
    language = user.language or current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")
    with force_locale(language):
        subject = _("Your reminders for %(date)s: %(count)s", date=format_value(today, language), count=len(reminders))
        body = render_template(
            "notifications/email/digest.txt",
            user=user,
            reminders=reminders,
            day=format_value(today, language),
            public_url=public_url,
            profile_url=f"{public_url}/profile" if public_url else "",
        )
    return OutboxMessage(
        channel=Channel.EMAIL,
        user_id=user.id,
        to_address=user.email,
        subject=subject[:300],
        body_text=body.strip() + "\n",
        dedupe_key=f"digest:{user.id}:{reminders[0].id}",
    )
