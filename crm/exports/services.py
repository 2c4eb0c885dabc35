"""Starting, running and purging export jobs; report subscriptions and their sweep. Functions flush; the caller
commits, except the job bodies (``run_export``, and the periodic sweeps run through ``run_tracked``)."""

from __future__ import annotations

import calendar
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.core import jobs
from crm.core.audit import Actor, AuditAction, record_event
from crm.core.files import CSV, PDF, XLSX, StoredFile, delete_stored, store_bytes_from
from crm.core.models import utcnow
from crm.core.permissions import Role
from crm.core.timeutil import local_tz, to_local
from crm.exports.models import ExportJob, ExportJobStatus, Frequency, ReportSubscription
from crm.exports.registry import EXPORTERS_BY_KEY, FORMATS, Exporter, ExportParamsError
from crm.extensions import db

logger = logging.getLogger(__name__)

#: How long an export's file is kept.
EXPORT_LIFETIME = timedelta(days=7)
#: ``StoredFile.owner_type`` of an export's file.
FILE_OWNER = "export_job"
#: Owners of files left by export mechanisms that no longer exist: the enterprise list's own background
#: exports (table ``enterprise_exports``, dropped by migration f3b7d2a91c05) left their files in the store.
#: They were short-lived downloads nothing links to any more; the purge deletes them.
RETIRED_FILE_OWNERS = ("enterprise_export",)
FILE_KINDS = {"xlsx": XLSX, "csv": CSV, "pdf": PDF}
#: Progress is written at most this often (rows), through its own short transaction.
PROGRESS_EVERY = 1000


@dataclass
class ExportRequestError(ValueError):
    """An export request that cannot start: {field: [messages]} with fields kind, format and filters."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(message for messages in self.fields.values() for message in messages)


def path_for(endpoint: str, **values: Any) -> str:
    """A site-relative URL, inside or outside a request."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def language_of(user: Any) -> str:
    return getattr(user, "language", None) or current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")


# --- starting an export ---------------------------------------------------------------------------------


def check_request(user: Any, kind: Any, fmt: Any, params: Any) -> Exporter:
    """The exporter of a request, or ExportRequestError naming what is wrong."""
    exporter = EXPORTERS_BY_KEY.get(kind) if isinstance(kind, str) else None
    if exporter is None or not exporter.allows(user):
        raise ExportRequestError({"kind": [_("Unknown kind of export.")]})
    if not isinstance(fmt, str) or fmt not in exporter.formats:
        raise ExportRequestError({"format": [_("Use one of: %(values)s.", values=", ".join(exporter.formats))]})
    try:
        exporter.check_params(params)
    except ExportParamsError as exc:
        raise ExportRequestError({"filters": [str(exc)]}) from None
    return exporter


def start_export(user: Any, kind: str, fmt: str, params: dict[str, Any]) -> ExportJob:
    """Record an export job and queue it (it runs once the caller commits)."""
    check_request(user, kind, fmt, params)
    job = new_job(user, kind, fmt, params)
    jobs.enqueue("exports.run", job.id)
    return job


def new_job(user: Any, kind: str, fmt: str, params: dict[str, Any], **values: Any) -> ExportJob:
    now = utcnow()
    job = ExportJob(
        user_id=user.id,
        exporter=kind,
        format=fmt,
        params=dict(params),
        status=ExportJobStatus.QUEUED,
        created_at=now,
        expires_at=now + EXPORT_LIFETIME,
        **values,
    )
    db.session.add(job)
    db.session.flush()
    return job


# --- running one --------------------------------------------------------------------------------------------


def progress_writer(job_id: int) -> Callable[[int, int | None], None]:
    """A ``progress(done, total)`` callback writing the counters in its own short transaction (so the progress
    page sees them while the job's transaction is open); it does nothing when jobs run in-process."""
    if current_app.config["CELERY"].get("task_always_eager") or db.engine.dialect.name == "sqlite":
        return lambda done, total=None: None
    last = {"done": -PROGRESS_EVERY, "total": None}

    def report(done: int, total: int | None = None) -> None:
        if done - last["done"] < PROGRESS_EVERY and total == last["total"]:
            return
        last.update(done=done, total=total)
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        try:
            with db.engine.begin() as connection:
                connection.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))
        except Exception as exc:  # progress is informative only; never let it break the job
            logger.warning("Could not record progress of export %s: %s", job_id, exc)

    return report


def claim_job(job_id: int) -> ExportJob | None:
    """Mark a queued export as running unless another worker already did; commits the claim."""
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.status == ExportJobStatus.QUEUED)
        .values(status=ExportJobStatus.RUNNING, started_at=utcnow())
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    db.session.commit()
    return db.session.get(ExportJob, job_id)


def run_export(job_id: int) -> ExportJob | None:
    """The job: write the file through the exporter's writer, store it, mark the export done, tell the user.

    On failure nothing of the run is kept (no file, no audit row, no message but the failure notice): the
    export is marked failed with the reason, in the user's language. Unexpected errors are raised again after
    that, so the queued job records them too.
    """
    job = claim_job(job_id)
    if job is None:
        return None
    user = job.user
    stored_path = None
    try:
        with force_locale(language_of(user)):
            exporter = EXPORTERS_BY_KEY.get(job.exporter)
            if exporter is None or not exporter.allows(user) or job.format not in exporter.formats:
                raise ExportParamsError(_("This export is no longer available to you."))
            generated_at = utcnow()
            rows, stored = _write_and_store(job, exporter, user, generated_at)
            stored_path = stored.path
            record_event(
                AuditAction.EXPORT,
                f"{job.exporter} exported ({job.format}): {rows} rows",
                record=job,
                details={
                    "kind": job.exporter,
                    "format": job.format,
                    "filters": job.params or {},
                    "rows": rows,
                    "scheduled": job.subscription_id is not None,
                },
                actor=Actor(user.id, user.username),
            )
            job.file_id = stored.id
            job.row_count = rows
            job.progress_done = rows
            job.progress_total = rows
            job.status = ExportJobStatus.DONE
            job.finished_at = utcnow()
            job.error = ""
            _tell_done(job, stored)
        db.session.commit()
        return job
    except Exception as exc:
        db.session.rollback()
        if stored_path is not None:
            stored_path.unlink(missing_ok=True)
        expected = isinstance(exc, ExportParamsError)
        if not expected:
            logger.exception("Export %s failed", job_id)
        with force_locale(language_of(user)):
            message = str(exc) if expected else _("The export failed. Try again, or narrow the filters.")
            db.session.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id)
                .values(status=ExportJobStatus.FAILED, error=message[:2000], finished_at=utcnow())
            )
            job = db.session.get(ExportJob, job_id)
            _tell_failed(job, message)
        db.session.commit()
        if not expected:
            raise
        return job


def _write_and_store(job: ExportJob, exporter: Exporter, user: Any, generated_at: datetime) -> tuple[int, StoredFile]:
    fd, path = tempfile.mkstemp(prefix="crm-export-", suffix=f".{job.format}")
    try:
        with os.fdopen(fd, "wb") as out:
            rows = exporter.writer()(
                dict(job.params or {}),
                job.format,
                out,
                user=user,
                generated_at=generated_at,
                progress=progress_writer(job.id),
            )
        with open(path, "rb") as fh:
            stored = store_bytes_from(
                fh,
                filename=export_filename(job, generated_at),
                kind=FILE_KINDS[job.format],
                owner_type=FILE_OWNER,
                owner_id=job.id,
                enterprise_id=None,
                uploaded_by=user,
            )
    finally:
        os.unlink(path)
    return int(rows), stored


def export_filename(job: ExportJob, generated_at: datetime) -> str:
    return f"{job.exporter}-{to_local(generated_at):%Y%m%d-%H%M}.{job.format}"


def _tell_done(job: ExportJob, stored: StoredFile) -> None:
    """Notify the user (in the CRM), or mail a scheduled report with its file attached."""
    from crm.notifications.services import notify, queue_email

    link = path_for("exports.progress", export_job_id=job.id)
    subscription = job.subscription
    if subscription is not None:
        day = f"{to_local(job.scheduled_for):%Y-%m-%d}"
        finished = f"{to_local(job.finished_at):%Y-%m-%d %H:%M}"
        subject = _("%(title)s (%(date)s)", title=subscription.title, date=day)
        body = _(
            "Your scheduled report %(title)s is attached: %(rows)s rows, generated %(when)s.",
            title=subscription.title,
            rows=job.row_count,
            when=finished,
        )
        if job.user.email:
            queue_email(
                job.user.email,
                subject,
                body,
                user=job.user,
                attachments=[stored],
                dedupe_key=f"report:{subscription.id}:{job.scheduled_for:%Y%m%dT%H%M}",
            )
            return
        notify(
            job.user, subject, body, url=link, dedupe_key=f"report:{subscription.id}:{job.scheduled_for:%Y%m%dT%H%M}"
        )
        return
    notify(
        job.user,
        _("Your export is ready: %(name)s", name=job.label),
        _("%(rows)s rows. The file is kept for 7 days.", rows=job.row_count),
        url=link,
    )


def _tell_failed(job: ExportJob, message: str) -> None:
    from crm.notifications.services import notify

    notify(
        job.user,
        _("Your export failed: %(name)s", name=job.label),
        message,
        url=path_for("exports.progress", export_job_id=job.id),
    )


# --- reading ------------------------------------------------------------------------------------------------


def recent_exports(user: Any, now: datetime | None = None):
    """The user's exports of the last 7 days, newest first."""
    since = (now or utcnow()) - EXPORT_LIFETIME
    return (
        select(ExportJob)
        .where(ExportJob.user_id == user.id, ExportJob.created_at >= since)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
    )


def own_export(job_id: int, user: Any) -> ExportJob | None:
    """An export of the user's (anyone else's is None: it answers 404)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != getattr(user, "id", None):
        return None
    return job


def downloadable(job: ExportJob, now: datetime | None = None) -> bool:
    return job.status == ExportJobStatus.DONE and job.file is not None and job.expires_at > (now or utcnow())


# --- housekeeping ----------------------------------------------------------------------------------------


def purge_expired(now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Delete expired exports: the row and its file (the file once the transaction commits); and up to
    ``batch`` files of retired export mechanisms (``RETIRED_FILE_OWNERS``)."""
    now = now or utcnow()
    expired = db.session.scalars(
        select(ExportJob).where(ExportJob.expires_at <= now).order_by(ExportJob.id).limit(batch)
    ).all()
    files = 0
    for job in expired:
        stored = job.file
        job.file_id = None
        if stored is not None:
            delete_stored(stored)
            files += 1
        db.session.delete(job)
    retired = db.session.scalars(
        select(StoredFile).where(StoredFile.owner_type.in_(RETIRED_FILE_OWNERS)).order_by(StoredFile.id).limit(batch)
    ).all()
    for stored in retired:
        delete_stored(stored)
    db.session.flush()
    return {"deleted": len(expired), "files": files, "retired_files": len(retired)}


# --- report subscriptions --------------------------------------------------------------------------------


def next_run_after(
    after: datetime, frequency: Frequency | str, *, hour: int, weekday: int | None = None, day: int | None = None
) -> datetime:
    """The first scheduled instant strictly after ``after`` (UTC), reckoned in the CRM's time zone."""
    tz = local_tz()
    local = after.astimezone(tz)
    at = time(hour=hour)
    if Frequency(frequency) == Frequency.WEEKLY:
        if weekday is None:
            raise ValueError("a weekly schedule needs a weekday")
        candidate = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
        when = datetime.combine(candidate, at, tzinfo=tz)
        if when <= local:
            when = datetime.combine(candidate + timedelta(days=7), at, tzinfo=tz)
        return when.astimezone(UTC)
    if day is None:
        raise ValueError("a monthly schedule needs a day of the month")
    year, month = local.year, local.month
    for _step in range(3):
        last = calendar.monthrange(year, month)[1]
        when = datetime.combine(local.date().replace(year=year, month=month, day=min(day, last)), at, tzinfo=tz)
        if when > local:
            return when.astimezone(UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("unreachable")  # pragma: no cover


def schedule_next(subscription: ReportSubscription, after: datetime | None = None) -> datetime:
    return next_run_after(
        after or utcnow(),
        subscription.frequency,
        hour=subscription.hour,
        weekday=subscription.weekday,
        day=subscription.day_of_month,
    )


def create_subscription(
    user: Any,
    *,
    title: str,
    kind: str,
    fmt: str,
    params: dict[str, Any],
    frequency: Frequency | str,
    hour: int,
    weekday: int | None = None,
    day_of_month: int | None = None,
    now: datetime | None = None,
) -> ReportSubscription:
    """Subscribe a user to a report; the filters are checked now (ExportRequestError)."""
    check_request(user, kind, fmt, params)
    frequency = Frequency(frequency)
    subscription = ReportSubscription(
        user_id=user.id,
        title=title,
        exporter=kind,
        format=fmt,
        params=dict(params),
        frequency=frequency,
        weekday=weekday if frequency == Frequency.WEEKLY else None,
        day_of_month=day_of_month if frequency == Frequency.MONTHLY else None,
        hour=hour,
        is_active=True,
    )
    subscription.next_run_at = schedule_next(subscription, now)
    db.session.add(subscription)
    db.session.flush()
    return subscription


def set_active(subscription: ReportSubscription, active: bool, now: datetime | None = None) -> None:
    """Pause or resume; a resumed subscription runs at its next scheduled instant from now (no catching up)."""
    if active and not subscription.is_active:
        subscription.next_run_at = schedule_next(subscription, now)
    subscription.is_active = active
    db.session.flush()


def visible_subscriptions(user: Any):
    """The user's own subscriptions; an administrator sees everyone's."""
    stmt = select(ReportSubscription).order_by(ReportSubscription.next_run_at, ReportSubscription.id)
    if user.role != Role.ADMIN:
        stmt = stmt.where(ReportSubscription.user_id == user.id)
    return stmt


def manageable_subscription(subscription_id: int, user: Any) -> ReportSubscription | None:
    subscription = db.session.get(ReportSubscription, subscription_id)
    if subscription is None or (subscription.user_id != user.id and user.role != Role.ADMIN):
        return None
    return subscription


def run_due_subscriptions(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Start one export job per due subscription and move its next run forward.

    Each subscription is claimed with a conditional UPDATE on the ``next_run_at`` the sweep read: a second
    sweep (now or in parallel) finds it moved and skips it, and the unique (subscription, instant) of the job
    backs that up. A period missed while paused or down is not caught up: the next run is the next instant
    after now.
    """
    now = now or utcnow()
    due = db.session.execute(
        select(ReportSubscription.id, ReportSubscription.next_run_at)
        .where(ReportSubscription.is_active.is_(True), ReportSubscription.next_run_at <= now)
        .order_by(ReportSubscription.next_run_at, ReportSubscription.id)
        .limit(limit)
    ).all()
    started = skipped = 0
    for subscription_id, due_at in due:
        subscription = db.session.get(ReportSubscription, subscription_id)
        following = schedule_next(subscription, max(now, due_at))
        claimed = db.session.execute(
            update(ReportSubscription)
            .where(ReportSubscription.id == subscription_id, ReportSubscription.next_run_at == due_at)
            .values(next_run_at=following, last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            skipped += 1
            continue
        db.session.refresh(subscription)
        job = new_job(
            subscription.user,
            subscription.exporter,
            subscription.format,
            subscription.params or {},
            subscription_id=subscription.id,
            scheduled_for=due_at,
        )
        jobs.enqueue("exports.run", job.id)
        started += 1
    db.session.flush()
    return {"due": len(due), "started": started, "skipped": skipped}


def available_formats() -> tuple[str, ...]:
    return FORMATS
