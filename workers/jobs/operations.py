"""Housekeeping of the operations records."""

from __future__ import annotations

from celery import shared_task

from crm.operations.models import RunTrigger
from crm.operations.services import housekeeping, run_tracked


@shared_task(name="operations.prune", ignore_result=True)
def prune(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    return run_tracked("operations.prune", housekeeping, trigger=RunTrigger(trigger)).id
