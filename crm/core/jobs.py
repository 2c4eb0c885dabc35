"""Durable hand-off of work to Celery.

``enqueue("imports.run", batch_id)`` records a ``QueuedJob`` row in the caller's transaction. Once that
transaction commits, the row is dispatched to the broker (or run in-process when Celery is eager). If the
broker is down the row simply waits: the periodic ``jobs.dispatch_pending`` job sends it later. The worker
claims the row with a conditional UPDATE before running it, so a job that was sent twice runs once.

Every Celery job (queued, periodic, or run in-process) acts as ``job:<name>`` in the audit trail, on behalf
of the logged-in user when it runs inside their request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery.signals import task_postrun, task_prerun
from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import JSON, Index, String, Text, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from crm.core.audit import pop_actor, push_actor
from crm.core.models import UTCDateTime, utcnow
from crm.extensions import db

logger = logging.getLogger(__name__)


class QueuedJob(db.Model):
    __tablename__ = "queued_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The Celery task name, e.g. "imports.run".
    task_name: Mapped[str] = mapped_column(String(120))
    args: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Last time the job was handed to the broker; NULL until then.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<QueuedJob {self.id} {self.task_name}{tuple(self.args)}>"


# Every outbox message queues a job, so the table grows by thousands a day and its rows are kept; the few the
# operations page and ``jobs.dispatch_pending`` (every minute) look for, unstarted or failed, are indexed apart.
_UNSTARTED = QueuedJob.started_at.is_(None)
_FAILED = QueuedJob.failed_at.isnot(None)
Index("ix_queued_jobs_unstarted_created_at", QueuedJob.created_at, sqlite_where=_UNSTARTED, postgresql_where=_UNSTARTED)
Index("ix_queued_jobs_failed_at", QueuedJob.failed_at, QueuedJob.id, sqlite_where=_FAILED, postgresql_where=_FAILED)


_PENDING_KEY = "crm_jobs_pending"
_READY_KEY = "crm_jobs_ready"


def enqueue(task_name: str, *args: Any) -> QueuedJob:
    """Run the named job once the current transaction has committed. Arguments must be JSON (ids, not objects)."""
    job = QueuedJob(task_name=task_name, args=list(args))
    session = db.session()
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(job.id)
    return job


@event.listens_for(Session, "after_commit")
def _jobs_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        _ready_list().extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _jobs_rolled_back(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


_ready_outside_request: list[int] = []


def _ready_list() -> list[int]:
    if has_request_context():
        return g.setdefault(_READY_KEY, [])
    return _ready_outside_request


def dispatch_ready() -> int:
    """Send the jobs whose transactions have committed. Called after each request and by CLI commands."""
    ready = _ready_list()
    ids, ready[:] = list(ready), []
    for job_id in ids:
        if not send(job_id):
            # The broker is down: the rest would fail the same way, each costing a connection attempt inside
            # the caller's request. Their rows wait for jobs.dispatch_pending.
            break
    return len(ids)


def send(job_id: int) -> bool:
    """Hand one queued job to Celery; False (and the row left waiting) when the broker cannot be reached."""
    # The Celery app of the current Flask app (tests create several apps in one process).
    run_queued_job = current_app.extensions["celery"].tasks["jobs.run_queued"]
    try:
        run_queued_job.apply_async(args=[job_id], retry=False)
    except Exception as exc:  # the broker is down: the row waits for dispatch_pending
        logger.warning("Could not send queued job %s to the broker: %s", job_id, exc)
        return False
    if not current_app.config["CELERY"].get("task_always_eager"):
        db.session.execute(update(QueuedJob).where(QueuedJob.id == job_id).values(sent_at=utcnow()))
        db.session.commit()
    return True


def claim(job_id: int) -> QueuedJob | None:
    """Mark a queued job as started unless another worker already did; the caller commits."""
    result = db.session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, QueuedJob.started_at.is_(None))
        .values(started_at=utcnow(), attempts=QueuedJob.attempts + 1)
    )
    if result.rowcount != 1:
        return None
    return db.session.get(QueuedJob, job_id)


def unsent_jobs(older_than: timedelta = timedelta(minutes=1), now: datetime | None = None) -> list[int]:
    """Jobs never started whose hand-off failed or got lost, oldest first."""
    cutoff = (now or utcnow()) - older_than
    stmt = (
        select(QueuedJob.id)
        .where(QueuedJob.started_at.is_(None), QueuedJob.created_at < cutoff)
        .where((QueuedJob.sent_at.is_(None)) | (QueuedJob.sent_at < cutoff))
        # The order of the index of unstarted jobs: a scan in id order read every job ever queued.
        .order_by(QueuedJob.created_at, QueuedJob.id)
        .limit(500)
    )
    return list(db.session.scalars(stmt))


def init_app(app) -> None:
    @app.after_request
    def _dispatch_after_request(response):
        if has_app_context() and g.get(_READY_KEY):
            dispatch_ready()
        return response


_job_actors: dict[str, list[Any]] = {}


@task_prerun.connect(weak=False)
def _job_acts_as_itself(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    """Attribute what a job changes to ``job:<name>`` (and the user whose request ran it in-process)."""
    user = None
    if has_request_context():
        from flask_login import current_user

        user = current_user if getattr(current_user, "is_authenticated", False) else None
    token = push_actor(f"job:{getattr(task, 'name', 'unknown')}", user)
    _job_actors.setdefault(task_id or "", []).append(token)


@task_postrun.connect(weak=False)
def _job_done(task_id: str | None = None, **_kwargs: Any) -> None:
    tokens = _job_actors.get(task_id or "")
    if tokens:
        pop_actor(tokens.pop())
        if not tokens:
            _job_actors.pop(task_id or "", None)
