"""Read side of the operations page: job runs, the outbox, queued jobs and the reminder ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.core.pagination import capped_count
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, OutboxStatus, Reminder, ReminderStatus
from crm.operations.models import JobRun, RunStatus

#: A run still "running" after this long was interrupted (its worker died).
STUCK_AFTER = timedelta(hours=1)
#: The outbox counts per status go up to this and then read "10,000+": sent messages grow by the thousand a
#: day and are never deleted, and an exact count of them read the whole table on every outbox page.
OUTBOX_COUNT_LIMIT = 10_000


def last_run(job_name: str) -> JobRun | None:
    return db.session.scalars(
        select(JobRun).where(JobRun.job_name == job_name).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
    ).first()


def last_failure(job_name: str) -> JobRun | None:
    return db.session.scalars(
        select(JobRun)
        .where(JobRun.job_name == job_name, JobRun.status == RunStatus.FAILED)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    ).first()


@dataclass
class PeriodicJob:
    name: str
    schedule: Any
    last: JobRun | None
    last_failure: JobRun | None
    failures_24h: int

    @property
    def cron(self) -> str:
        """The schedule as a cron expression (minute hour day month weekday), in the CRM's time zone."""
        s = self.schedule
        fields = ("_orig_minute", "_orig_hour", "_orig_day_of_month", "_orig_month_of_year", "_orig_day_of_week")
        if all(hasattr(s, f) for f in fields):
            return " ".join(str(getattr(s, f)) for f in fields)
        return str(s)

    @property
    def is_stuck(self) -> bool:
        last = self.last
        return bool(last and last.status == RunStatus.RUNNING and utcnow() - last.started_at > STUCK_AFTER)


def periodic_jobs(schedule: dict[str, dict], now: datetime | None = None) -> list[PeriodicJob]:
    """One line per periodic job of the beat schedule (a handful: one small query each, by index)."""
    since = (now or utcnow()) - timedelta(hours=24)
    failures = dict(
        db.session.execute(
            select(JobRun.job_name, func.count())
            .where(JobRun.status == RunStatus.FAILED, JobRun.started_at >= since)
            .group_by(JobRun.job_name)
        ).all()
    )
    return [
        PeriodicJob(name, entry["schedule"], last_run(name), last_failure(name), failures.get(name, 0))
        for name, entry in schedule.items()
    ]


def job_history(job_name: str) -> Select:
    return select(JobRun).where(JobRun.job_name == job_name).order_by(JobRun.started_at.desc(), JobRun.id.desc())


def outbox_counts(limit: int | None = None) -> dict[str, int]:
    """Messages per status, each exact up to ``limit`` (``OUTBOX_COUNT_LIMIT``) and ``limit + 1`` beyond: one
    statement whose counts each read at most ``limit + 1`` entries of the (status, id) index."""
    limit = OUTBOX_COUNT_LIMIT if limit is None else limit
    statuses = list(OutboxStatus)
    counts = [
        capped_count(select(OutboxMessage.id).where(OutboxMessage.status == status), limit).scalar_subquery()
        for status in statuses
    ]
    row = db.session.execute(select(*counts)).one()
    return {str(status): count for status, count in zip(statuses, row, strict=True) if count}


def outbox(status: str | None = None, channel: str | None = None) -> Select:
    stmt = select(OutboxMessage).options(selectinload(OutboxMessage.user))
    if status:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus(status))
    if channel:
        stmt = stmt.where(OutboxMessage.channel == Channel(channel))
    return stmt


@dataclass
class KeysetPage:
    items: list[Any]
    #: The ``before`` argument of the next (older) page, None on the last page.
    next_before: int | None


def keyset_page(stmt: Select, id_column: Any, before: int | None, per_page: int) -> KeysetPage:
    """Newest first, ``per_page`` rows older than ``before``: constant cost however deep one pages."""
    if before:
        stmt = stmt.where(id_column < before)
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(rows, rows[-1].id if more and rows else None)


def failed_jobs() -> Select:
    return (
        select(QueuedJob)
        .where(QueuedJob.failed_at.isnot(None))
        .order_by(QueuedJob.failed_at.desc(), QueuedJob.id.desc())
    )


def waiting_jobs(now: datetime | None = None) -> Select:
    """Queued jobs never started a minute after they were created: the broker was down, or no worker runs."""
    cutoff = (now or utcnow()) - timedelta(minutes=1)
    return (
        select(QueuedJob)
        .where(QueuedJob.started_at.is_(None), QueuedJob.created_at < cutoff)
        .order_by(QueuedJob.created_at, QueuedJob.id)
    )


def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def reminders(rule_id: int | None = None, status: str | None = None) -> Select:
    stmt = select(Reminder).options(selectinload(Reminder.rule), selectinload(Reminder.user))
    if rule_id:
        stmt = stmt.where(Reminder.rule_id == rule_id)
    if status:
        stmt = stmt.where(Reminder.status == ReminderStatus(status))
    return stmt
