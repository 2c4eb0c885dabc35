"""Export jobs: writing one export, purging expired ones, and starting the scheduled reports that are due."""

from __future__ import annotations

from celery import shared_task

from crm.exports import services
from crm.operations.models import RunTrigger
from crm.operations.services import run_tracked


@shared_task(name="exports.run", ignore_result=True)
def run(export_job_id: int) -> None:
    services.run_export(export_job_id)


@shared_task(name="exports.purge_expired", ignore_result=True)
def purge_expired(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    return run_tracked("exports.purge_expired", services.purge_expired, trigger=RunTrigger(trigger)).id


@shared_task(name="exports.send_scheduled", ignore_result=True)
def send_scheduled(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    return run_tracked("exports.send_scheduled", services.run_due_subscriptions, trigger=RunTrigger(trigger)).id
