"""Delivery of outbox messages, one at a time or every due one, and the daily digest."""

from __future__ import annotations

from celery import shared_task

from crm.extensions import db
from crm.notifications.delivery import deliver, deliver_pending
from crm.notifications.digest import send_digests
from crm.operations.models import RunTrigger
from crm.operations.services import run_tracked


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver_message(message_id: int) -> None:
    deliver(message_id)
    db.session.commit()


@shared_task(name="notifications.deliver_pending", ignore_result=True)
def deliver_pending_messages(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    """Deliver every due message (new ones, and retries whose back-off has passed); commits per message."""
    return run_tracked("notifications.deliver_pending", deliver_pending, trigger=RunTrigger(trigger)).id


@shared_task(name="notifications.send_digests", ignore_result=True)
def send_digest_emails(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    return run_tracked("notifications.send_digests", send_digests, trigger=RunTrigger(trigger)).id
