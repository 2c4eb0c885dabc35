"""Delivering one outbox message: an in-app notification row, or an email through SMTP (or the log)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select

from crm.core.models import utcnow
from crm.extensions import db
from crm.notifications.models import Channel, Notification, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


def deliver(message_id: int) -> bool:
    """Deliver a pending message; True when it was delivered (or kept, when mail is not configured)."""
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    if message is None or message.status != OutboxStatus.PENDING:
        return False
    message.attempts += 1
    if message.channel == Channel.IN_APP:
        db.session.add(
            Notification(
                user_id=message.user_id,
                title=message.subject,
                body=message.body_text,
                url=message.url,
                outbox_id=message.id,
            )
        )
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        return True
    if not current_app.config.get("MAIL_SERVER"):
        logger.info("Mail not configured; kept in the outbox: to=%s subject=%s", message.to_address, message.subject)
        return True
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    try:
        with smtplib.SMTP(current_app.config["MAIL_SERVER"], current_app.config["MAIL_PORT"], timeout=10) as smtp:
            if current_app.config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if current_app.config.get("MAIL_USERNAME"):
                smtp.login(current_app.config["MAIL_USERNAME"], current_app.config.get("MAIL_PASSWORD") or "")
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.last_error = str(exc)[:2000]
        logger.warning("Sending outbox message %s failed: %s", message.id, exc)
        return False
    message.status = OutboxStatus.SENT
    message.sent_at = utcnow()
    return True
