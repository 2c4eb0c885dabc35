"""Export jobs (a file written in the background, kept 7 days) and report subscriptions (a report by email)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class ExportJobStatus(LabelledEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @classmethod
    def _labels(cls):
        return {
            cls.QUEUED: _l("Waiting"),
            cls.RUNNING: _l("Writing the file"),
            cls.DONE: _l("Ready to download"),
            cls.FAILED: _l("Failed"),
        }


class ExportJob(db.Model):
    """One export written by a job: what was asked (exporter, format, filters), its progress, and its file.

    Kept for 7 days (``expires_at``); the periodic ``exports.purge_expired`` job deletes the row and the file.
    A scheduled report's run is an export job too, at most one per subscription and scheduled instant.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (
        UniqueConstraint("subscription_id", "scheduled_for", name="uq_export_jobs_subscription_run"),
        Index("ix_export_jobs_user_id_created_at", "user_id", "created_at"),
    )
    __audit__ = True
    #: Progress counters change every thousand rows; the status change is what the trail keeps.
    __audit_exclude__ = ("progress_done", "progress_total")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The key of an exporter of ``crm.exports.registry.EXPORTERS``.
    exporter: Mapped[str] = mapped_column(String(40))
    #: "xlsx", "csv" or "pdf".
    format: Mapped[str] = mapped_column(String(4))
    #: The filters, as plain JSON values named like the page's query string.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[ExportJobStatus] = mapped_column(enum_type(ExportJobStatus, 10), default=ExportJobStatus.QUEUED)
    progress_done: Mapped[int] = mapped_column(default=0)
    #: The number of rows expected, once the writer knows it.
    progress_total: Mapped[int | None] = mapped_column()
    row_count: Mapped[int | None] = mapped_column()
    #: Why the job failed, in the user's language.
    error: Mapped[str] = mapped_column(Text, default="")
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    #: The subscription this run belongs to, and the instant it was due (NULL for an export a user started).
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_subscriptions.id", ondelete="SET NULL"), index=True
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user = relationship("User")
    file = relationship("StoredFile")
    subscription = relationship("ReportSubscription")

    @property
    def percent(self) -> int:
        if self.status == ExportJobStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return max(0, min(99, round(100 * self.progress_done / self.progress_total)))

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportJobStatus.DONE, ExportJobStatus.FAILED)

    @property
    def label(self) -> str:
        from crm.exports.registry import exporter_label

        return exporter_label(self.exporter)

    def __str__(self) -> str:
        return f"{self.label} ({self.format})"


class Frequency(LabelledEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @classmethod
    def _labels(cls):
        return {cls.WEEKLY: _l("Weekly"), cls.MONTHLY: _l("Monthly")}


class ReportSubscription(TimestampMixin, db.Model):
    """A user's standing order for a report by email: an exporter with its filters and format, on a schedule
    (weekly on a weekday or monthly on a day of the month, at an hour, in the CRM's time zone)."""

    __tablename__ = "report_subscriptions"
    __table_args__ = (Index("ix_report_subscriptions_is_active_next_run_at", "is_active", "next_run_at"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The subscriber's name for it, used as the email's subject.
    title: Mapped[str] = mapped_column(String(200))
    exporter: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(4))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    frequency: Mapped[Frequency] = mapped_column(enum_type(Frequency, 10))
    #: 0 = Monday ... 6 = Sunday (weekly subscriptions).
    weekday: Mapped[int | None] = mapped_column()
    #: 1-31 (monthly subscriptions); a month without that day uses its last day.
    day_of_month: Mapped[int | None] = mapped_column()
    #: The local hour (0-23) the report is sent at.
    hour: Mapped[int] = mapped_column(default=8)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: The next instant the report is due (UTC); the sweep moves it forward when it claims a run.
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")

    @property
    def label(self) -> str:
        from crm.exports.registry import exporter_label

        return exporter_label(self.exporter)

    def __str__(self) -> str:
        return self.title
