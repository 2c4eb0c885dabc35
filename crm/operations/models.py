"""One row per run of a periodic job (from beat, cron or the command line), with its duration and counts."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.core.models import LabelledEnum, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class RunStatus(LabelledEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def _labels(cls):
        return {cls.RUNNING: _l("Running"), cls.SUCCEEDED: _l("Succeeded"), cls.FAILED: _l("Run failed")}


class RunTrigger(LabelledEnum):
    SCHEDULE = "schedule"
    COMMAND = "command"
    QUEUED = "queued"

    @classmethod
    def _labels(cls):
        return {cls.SCHEDULE: _l("Schedule"), cls.COMMAND: _l("Command line"), cls.QUEUED: _l("Queued")}


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_name_started_at", "job_name", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: The Celery task name, e.g. "reminders.sweep".
    job_name: Mapped[str] = mapped_column(String(80))
    trigger: Mapped[RunTrigger] = mapped_column(enum_type(RunTrigger, 10), default=RunTrigger.SCHEDULE)
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus, 10), default=RunStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column()
    #: What the job did, e.g. {"sent": 12, "skipped": 1} (and per-rule results for the reminder sweep).
    counts: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.job_name} {self.started_at:%Y-%m-%d %H:%M}"
