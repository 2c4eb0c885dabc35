"""The durable job queue's two jobs: run one queued job, and re-send the ones that never started."""

from __future__ import annotations

import logging
import traceback

from celery import shared_task
from flask import current_app
from sqlalchemy import update

from crm.core import jobs
from crm.core.audit import acting_as
from crm.core.models import utcnow
from crm.extensions import db
from crm.operations.models import RunTrigger
from crm.operations.services import run_tracked

logger = logging.getLogger(__name__)


@shared_task(name="jobs.run_queued", ignore_result=True)
def run_queued_job(job_id: int) -> None:
    """Claim a queued job and run it; a job another worker already claimed is skipped."""
    job = jobs.claim(job_id)
    if job is None:
        db.session.rollback()
        logger.info("Queued job %s was already started elsewhere; skipping", job_id)
        return
    task_name, args = job.task_name, list(job.args or [])
    db.session.commit()
    task = current_app.extensions["celery"].tasks[task_name]
    try:
        with acting_as(f"job:{task_name}"):
            task.run(*args)
            db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("Queued job %s (%s) failed", job_id, task_name)
        db.session.execute(
            update(jobs.QueuedJob)
            .where(jobs.QueuedJob.id == job_id)
            .values(failed_at=utcnow(), last_error=traceback.format_exc()[-4000:])
        )
        db.session.commit()
        return
    db.session.execute(update(jobs.QueuedJob).where(jobs.QueuedJob.id == job_id).values(finished_at=utcnow()))
    db.session.commit()
    jobs.dispatch_ready()


def send_unsent_jobs() -> dict[str, int]:
    """Send queued jobs that were never started (the broker was down when they were enqueued)."""
    counts = {"sent": 0, "waiting": 0}
    for job_id in jobs.unsent_jobs():
        if jobs.send(job_id):
            counts["sent"] += 1
        else:
            counts["waiting"] += 1
            break  # the broker is still down; the rest would fail the same way
    return counts


@shared_task(name="jobs.dispatch_pending", ignore_result=True)
def dispatch_pending(trigger: str = RunTrigger.SCHEDULE.value) -> int:
    return run_tracked("jobs.dispatch_pending", send_unsent_jobs, trigger=RunTrigger(trigger)).id
