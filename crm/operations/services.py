"""Running periodic jobs with a record of each run, and the operators' actions on jobs."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update

from crm.core import jobs
from crm.core.audit import acting_as
from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.extensions import db
from crm.operations.models import JobRun, RunStatus, RunTrigger

logger = logging.getLogger(__name__)

#: Job runs older than this are deleted by ``operations.prune`` (the last run of each job is always kept).
KEEP_RUNS = timedelta(days=30)


def run_tracked(
    job_name: str, body: Callable[[], dict[str, Any] | None], *, trigger: RunTrigger = RunTrigger.SCHEDULE
) -> JobRun:
    """Run a periodic job's body and record the run: its duration, its counts, or its failure.

    The run row is committed first, so a run whose process dies stays visible as "running". The body's work
    and the run's outcome then commit together, once; on an exception the body's work is rolled back entirely
    and the failure recorded. Jobs queued by the body are dispatched after that commit.
    """
    run = JobRun(job_name=job_name, trigger=trigger, status=RunStatus.RUNNING, started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    started = time.monotonic()
    try:
        with acting_as(f"job:{job_name}"):
            counts = body() or {}
        run.status = RunStatus.SUCCEEDED
        run.counts = counts
        run.finished_at = utcnow()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("Periodic job %s failed", job_name)
        error = traceback.format_exc()[-4000:]
        db.session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                status=RunStatus.FAILED,
                finished_at=utcnow(),
                duration_ms=int((time.monotonic() - started) * 1000),
                error=error,
            )
        )
        db.session.commit()
        run = db.session.get(JobRun, run_id)
        db.session.refresh(run)
    jobs.dispatch_ready()
    return run


def prune_runs(now: datetime | None = None) -> dict[str, int]:
    """Delete job runs older than ``KEEP_RUNS``, except the last run of each job."""
    from sqlalchemy import func, select

    cutoff = (now or utcnow()) - KEEP_RUNS
    latest = select(func.max(JobRun.id)).group_by(JobRun.job_name)
    result = db.session.execute(
        delete(JobRun)
        .where(JobRun.started_at < cutoff, JobRun.id.not_in(latest))
        .execution_options(synchronize_session=False)
    )
    return {"deleted": result.rowcount or 0}


def retry_queued_job(job: QueuedJob) -> None:
    """Make a failed (or stuck) queued job runnable again; the caller commits, then calls ``jobs.send``."""
    job.started_at = None
    job.finished_at = None
    job.failed_at = None
    job.sent_at = None
    db.session.flush()
