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
from crm.core.timeutil import local_date, local_midnight
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


#: Rows of one table that one housekeeping run deletes at most: a first run on years of history stays a bounded
#: transaction, and the nightly runs catch up within days.
PRUNE_BATCH_LIMIT = 200_000
#: Ids per DELETE statement of the housekeeping.
PRUNE_STATEMENT_ROWS = 10_000


def prune_history(now: datetime | None = None, *, limit: int = PRUNE_BATCH_LIMIT) -> dict[str, int]:
    """Delete what the ``history_retention_days`` setting no longer keeps: queued jobs that finished or failed,
    outbox messages that were sent, cancelled, skipped or failed, and reminders whose day has passed, each older
    than the retention. Waiting messages and unrun jobs are kept whatever their age.

    A reminder row is what makes a reminder go out once, so none inside the reminder sweep's look-back window
    is deleted, whatever the setting (its minimum is longer than that window anyway). Each table's rows go
    oldest first, at most ``limit`` per run."""
    from sqlalchemy import or_, select

    from crm.core.settings import get_setting
    from crm.notifications.models import OutboxMessage, OutboxStatus, Reminder
    from crm.notifications.reminders import make_sweep

    now = now or utcnow()
    cutoff = now - timedelta(days=int(get_setting("history_retention_days")))
    reminder_cutoff = min(local_date(cutoff), make_sweep(now).first_day - timedelta(days=1))
    # Each condition leads with an indexed column that precedes (or equals) the deciding one, so each batch is
    # read through an index: a job finishes and a message is sent after it was created.
    candidates = {
        QueuedJob: select(QueuedJob.id).where(
            QueuedJob.created_at < cutoff,
            or_(QueuedJob.finished_at < cutoff, QueuedJob.failed_at < cutoff),
        ),
        OutboxMessage: select(OutboxMessage.id).where(
            OutboxMessage.created_at < cutoff,
            OutboxMessage.status != OutboxStatus.PENDING,
            or_(OutboxMessage.status != OutboxStatus.FAILED, OutboxMessage.next_attempt_at < cutoff),
        ),
        Reminder: select(Reminder.id).where(
            Reminder.created_at < local_midnight(reminder_cutoff), Reminder.fires_on < reminder_cutoff
        ),
    }
    deleted = {}
    for model, query in candidates.items():
        ids = db.session.scalars(query.order_by(model.id).limit(limit)).all()
        for start in range(0, len(ids), PRUNE_STATEMENT_ROWS):  # one transaction: run_tracked commits it
            chunk = ids[start : start + PRUNE_STATEMENT_ROWS]
            db.session.execute(delete(model).where(model.id.in_(chunk)).execution_options(synchronize_session=False))
        deleted[model.__tablename__] = len(ids)
    return deleted


def housekeeping(now: datetime | None = None) -> dict[str, int]:
    """The nightly ``operations.prune`` job: old job runs, then the history beyond its retention."""
    return {"job_runs": prune_runs(now)["deleted"], **prune_history(now)}


def retry_queued_job(job: QueuedJob) -> None:
    """Make a failed (or stuck) queued job runnable again; the caller commits, then calls ``jobs.send``."""
    job.started_at = None
    job.finished_at = None
    job.failed_at = None
    job.sent_at = None
    db.session.flush()
