"""Delivery of outbox messages."""

from __future__ import annotations

from celery import shared_task

from crm.extensions import db
from crm.notifications.delivery import deliver


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver_message(message_id: int) -> None:
    deliver(message_id)
    db.session.commit()
