"""The reminder sweep."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from crm.notifications.reminders import run_sweep
from crm.operations.models import RunTrigger
from crm.operations.services import run_tracked


@shared_task(name="reminders.sweep", ignore_result=True)
def sweep(as_of: str | None = None, trigger: str = RunTrigger.SCHEDULE.value) -> int:
    """Run every active reminder rule for now (or for the ISO instant ``as_of``), in one transaction."""
    now = datetime.fromisoformat(as_of) if as_of else None
    return run_tracked("reminders.sweep", lambda: run_sweep(now), trigger=RunTrigger(trigger)).id
