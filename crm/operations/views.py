"""The operations pages for administrators: periodic jobs, the outbox, queued jobs and the reminder ledger."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.core import jobs
from crm.core.audit import record_event
from crm.core.forms import EmptyForm
from crm.core.jobs import QueuedJob
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import Permission, permission_required
from crm.extensions import db
from crm.notifications import delivery
from crm.notifications.models import Channel, OutboxMessage, OutboxStatus, ReminderRule, ReminderStatus
from crm.notifications.registry import WATCHERS
from crm.operations import queries
from crm.operations.services import retry_queued_job
from workers.schedule import BEAT_SCHEDULE

bp = Blueprint("operations", __name__, url_prefix="/admin/operations")

#: How the counts recorded by the periodic jobs read on the page (unknown keys show as they are).
COUNT_LABELS = {
    "sent": _l("Sent"),
    "digest": _l("For the digest"),
    "skipped": _l("Skipped (too late)"),
    "duplicate": _l("Already sent"),
    "out_of_scope": _l("Outside jurisdiction"),
    "failed_rules": _l("Rules failed"),
    "unavailable_rules": _l("Rules without a watcher"),
    "retry": _l("To retry"),
    "failed": _l("Failed"),
    "digests": _l("Digests"),
    "reminders": _l("Reminders"),
    "no_address": _l("No email address"),
    "deleted": _l("Deleted"),
    "waiting": _l("Still waiting"),
}


@bp.context_processor
def count_labels() -> dict:
    return {"count_labels": COUNT_LABELS, "outbox_count_limit": queries.OUTBOX_COUNT_LIMIT}


@bp.get("/")
@permission_required(Permission.OPERATIONS)
def index():
    sweep = queries.last_run("reminders.sweep")
    rules = {r.code: r for r in db.session.scalars(select(ReminderRule))}
    sweep_day = (sweep.counts or {}).get("date") if sweep else None
    return render_template(
        "operations/index.html",
        periodic=queries.periodic_jobs(BEAT_SCHEDULE),
        sweep=sweep,
        sweep_day=date.fromisoformat(sweep_day) if sweep_day else None,
        sweep_results=((sweep.counts or {}).get("rules") or {}) if sweep else {},
        rules=rules,
        watchers=WATCHERS,
        outbox_counts=queries.outbox_counts(),
        failed_jobs=queries.count(queries.failed_jobs()),
        waiting_jobs=queries.count(queries.waiting_jobs()),
        mail_configured=delivery.mail_configured(),
    )


@bp.get("/jobs/<name>")
@permission_required(Permission.OPERATIONS)
def job_runs(name: str):
    if name not in BEAT_SCHEDULE:
        abort(404)
    page, per_page = _page_args()
    return render_template(
        "operations/job_runs.html", name=name, page=paginate(queries.job_history(name), page, per_page)
    )


# --- the outbox ---------------------------------------------------------------------------------------------


@bp.get("/outbox")
@permission_required(Permission.OPERATIONS)
def outbox():
    status = request.args.get("status") or None
    channel = request.args.get("channel") or None
    if status not in (None, *OutboxStatus._value2member_map_) or channel not in (None, *Channel._value2member_map_):
        abort(400)
    result = queries.keyset_page(queries.outbox(status, channel), OutboxMessage.id, _before(), _page_args()[1])
    return render_template(
        "operations/outbox.html",
        page=result,
        status=status,
        channel=channel,
        statuses=list(OutboxStatus),
        channels=list(Channel),
        counts=queries.outbox_counts(),
        mail_configured=delivery.mail_configured(),
    )


def _message_or_404(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return message


@bp.post("/outbox/<int:message_id>/retry")
@permission_required(Permission.OPERATIONS)
def retry_message(message_id: int):
    message = _message_or_404(message_id)
    try:
        delivery.retry(message)
    except ValueError:
        flash(_("Only waiting or failed messages can be retried."), "warning")
        return redirect(_back())
    jobs.enqueue("notifications.deliver", message.id)
    record_event("outbox_retry", message.subject, record=message)
    db.session.commit()
    flash(_("The message will be sent again shortly."), "success")
    return redirect(_back())


@bp.post("/outbox/<int:message_id>/cancel")
@permission_required(Permission.OPERATIONS)
def cancel_message(message_id: int):
    message = _message_or_404(message_id)
    try:
        delivery.cancel(message)
    except ValueError:
        flash(_("Only waiting or failed messages can be cancelled."), "warning")
        return redirect(_back())
    record_event("outbox_cancel", message.subject, record=message)
    db.session.commit()
    flash(_("The message has been cancelled."), "success")
    return redirect(_back())


# --- queued jobs --------------------------------------------------------------------------------------------


@bp.get("/queued-jobs")
@permission_required(Permission.OPERATIONS)
def queued_jobs():
    page, per_page = _page_args()
    return render_template(
        "operations/queued_jobs.html",
        failed=paginate(queries.failed_jobs(), page, per_page),
        waiting=db.session.scalars(queries.waiting_jobs().limit(100)).all(),
        waiting_total=queries.count(queries.waiting_jobs()),
    )


@bp.post("/queued-jobs/<int:job_id>/retry")
@permission_required(Permission.OPERATIONS)
def retry_job(job_id: int):
    job = db.session.get(QueuedJob, job_id)
    if job is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if job.finished_at is not None:
        flash(_("This job has already finished."), "warning")
        return redirect(url_for(".queued_jobs"))
    retry_queued_job(job)
    record_event("job_retry", job.task_name, record_type="QueuedJob", record_id=job.id)
    db.session.commit()
    if jobs.send(job.id):
        flash(_("The job has been queued again."), "success")
    else:
        flash(_("The job broker cannot be reached; the job will be sent when it is back."), "warning")
    return redirect(url_for(".queued_jobs"))


# --- the reminder ledger ------------------------------------------------------------------------------------


@bp.get("/reminders")
@permission_required(Permission.OPERATIONS)
def reminders():
    rule_id = request.args.get("rule", type=int)
    status = request.args.get("status") or None
    if status not in (None, *ReminderStatus._value2member_map_):
        abort(400)
    from crm.notifications.models import Reminder

    result = queries.keyset_page(queries.reminders(rule_id, status), Reminder.id, _before(), _page_args()[1])
    return render_template(
        "operations/reminders.html",
        page=result,
        rules=db.session.scalars(select(ReminderRule).order_by(ReminderRule.id)).all(),
        rule_id=rule_id,
        status=status,
        statuses=list(ReminderStatus),
    )


def _page_args() -> tuple[int, int]:
    try:
        return page_args()
    except PageArgumentError:
        abort(400)


def _before() -> int | None:
    value = request.args.get("before")
    if value is None or value == "":
        return None
    if not value.isdigit():
        abort(400)
    return int(value)


def _back() -> str:
    from crm.main.views import _is_local_url

    target = request.form.get("next") or request.referrer
    return target if target and _is_local_url(target) else url_for(".outbox")
