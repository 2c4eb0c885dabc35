"""Delivering outbox messages: an in-app notification row, or an email through SMTP (or kept, when mail is not set up).

A message is never lost: a failed send leaves it ``pending`` with the error, the attempt count and the time of
the next attempt (back-off: 1 minute, 5 minutes, 15 minutes, 1 hour, 3, 6 and 12 hours). After
``MAX_ATTEMPTS`` attempts, or at once for an error the server says is permanent (a refused address), it becomes
``failed``, which administrators see on the operations page, where they can retry or cancel it.

Each message is delivered in its own transaction by the caller (``deliver_pending`` commits after each one), so
a crash can at worst repeat the one email whose send was not yet recorded, never lose one.
"""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import select

from crm.core.models import utcnow
from crm.extensions import db
from crm.notifications.models import Channel, Notification, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

#: Delay before attempt n+1 after n failed attempts; the last one repeats until MAX_ATTEMPTS.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS = 8
MAIL_NOT_CONFIGURED = "MAIL_SERVER is not set: the message is kept in the outbox"


class PermanentDeliveryError(Exception):
    """The message can never be delivered as it is (no address, address refused)."""


def backoff(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def mail_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def deliver(message_id: int, now: datetime | None = None) -> bool:
    """Deliver one pending message; True when it was delivered (or kept, when mail is not configured).

    The row is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) so two workers never send the same message.
    The caller commits.
    """
    return attempt(message_id, now) in ("sent", "kept")


def attempt(message_id: int, now: datetime | None = None) -> str:
    """One delivery attempt: "sent", "kept" (no mail server), "retry" (failed, tried again later), "failed"
    (for good) or "skipped" (not pending, or being delivered by another worker)."""
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    if message is None or message.status != OutboxStatus.PENDING:
        return "skipped"
    now = now or utcnow()
    message.attempts += 1
    if message.channel == Channel.IN_APP:
        if message.user_id is None:
            return _fail(message, "the recipient no longer exists", now, permanent=True)
        db.session.add(
            Notification(
                user_id=message.user_id,
                title=message.subject,
                body=message.body_text,
                url=message.url,
                outbox_id=message.id,
            )
        )
        _sent(message, now)
        return "sent"
    if not mail_configured():
        logger.info("Mail not configured; kept in the outbox: to=%s subject=%s", message.to_address, message.subject)
        message.last_error = MAIL_NOT_CONFIGURED
        return "kept"
    try:
        send_email(message)
    except PermanentDeliveryError as exc:
        return _fail(message, str(exc), now, permanent=True)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Sending outbox message %s failed (attempt %s): %s", message.id, message.attempts, exc)
        return _fail(message, f"{type(exc).__name__}: {exc}", now, permanent=False)
    _sent(message, now)
    return "sent"


def send_email(message: OutboxMessage) -> None:
    """Send one email through the configured SMTP server; raises on failure."""
    if not message.to_address:
        raise PermanentDeliveryError("no email address")
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=config["MAIL_SENDER"].rpartition("@")[2] or None)
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    attach_files(email, message.attachments or [])
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        try:
            smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"address refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentDeliveryError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise


def attach_files(email: EmailMessage, file_ids: list[int]) -> None:
    """Attach the stored files of an outbox message; a file no longer kept is a permanent failure."""
    from crm.core.files import StoredFile

    for file_id in file_ids:
        stored = db.session.get(StoredFile, file_id)
        if stored is None or not stored.path.exists():
            raise PermanentDeliveryError(f"attachment {file_id} is no longer kept")
        maintype, _sep, subtype = stored.content_type.partition("/")
        email.add_attachment(
            stored.path.read_bytes(),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=stored.filename,
        )


def _sent(message: OutboxMessage, now: datetime) -> None:
    message.status = OutboxStatus.SENT
    message.sent_at = now
    message.last_error = None


def _fail(message: OutboxMessage, error: str, now: datetime, *, permanent: bool) -> str:
    message.last_error = error[:2000]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        logger.error("Outbox message %s failed for good after %s attempt(s): %s", message.id, message.attempts, error)
        return "failed"
    message.next_attempt_at = now + backoff(message.attempts)
    return "retry"


def due_messages(now: datetime | None = None, limit: int = 200):
    """Pending messages whose next attempt has come (email only when a mail server is configured)."""
    stmt = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= (now or utcnow()))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if not mail_configured():
        stmt = stmt.where(OutboxMessage.channel == Channel.IN_APP)
    return stmt


def deliver_pending(now: datetime | None = None, *, batch: int = 200, time_budget: float = 50.0) -> dict[str, int]:
    """Deliver every message that is due, committing after each one; stops after ``time_budget`` seconds."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    started = time.monotonic()
    seen: set[int] = set()
    while time.monotonic() - started < time_budget:
        ids = [i for i in db.session.scalars(due_messages(now, batch)) if i not in seen]
        if not ids:
            break
        for message_id in ids:
            seen.add(message_id)
            outcome = attempt(message_id, now)
            db.session.commit()
            if outcome in counts:
                counts[outcome] += 1
            if time.monotonic() - started >= time_budget:
                break
    return counts


def retry(message: OutboxMessage, now: datetime | None = None) -> None:
    """An administrator's retry of a failed (or waiting) message: a fresh series of attempts, starting now."""
    if message.status not in (OutboxStatus.FAILED, OutboxStatus.PENDING):
        raise ValueError("only waiting or failed messages can be retried")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now or utcnow()
    db.session.flush()


def cancel(message: OutboxMessage) -> None:
    """Stop trying to deliver a waiting or failed message."""
    if message.status not in (OutboxStatus.FAILED, OutboxStatus.PENDING):
        raise ValueError("only waiting or failed messages can be cancelled")
    message.status = OutboxStatus.CANCELLED
    db.session.flush()
