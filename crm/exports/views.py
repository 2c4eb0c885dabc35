"""Export pages: start a background export, follow its progress, "my exports", downloads (by their owner
only), and report subscriptions. Thin: load, check access, validate, call a service, commit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.files import send_stored
from crm.core.forms import EmptyForm
from crm.core.permissions import Permission, permission_required
from crm.exports import services
from crm.exports.forms import WEEKDAYS, SubscriptionForm, params_from_query
from crm.exports.models import ExportJob, ExportJobStatus, Frequency
from crm.exports.registry import EXPORTERS_BY_KEY
from crm.extensions import db

bp = Blueprint("exports", __name__, url_prefix="/exports")


def _own_or_404(export_job_id: int) -> ExportJob:
    job = services.own_export(export_job_id, current_user)
    if job is None:
        abort(404)
    return job


def status_payload(job: ExportJob) -> dict[str, Any]:
    """What the progress bar polls."""
    done = services.downloadable(job)
    return {
        "id": job.id,
        "status": job.status.value,
        "label": job.status.label,
        "percent": job.percent,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "row_count": job.row_count,
        "done": job.status == ExportJobStatus.DONE,
        "failed": job.status == ExportJobStatus.FAILED,
        "error": job.error or None,
        "download": url_for("exports.download", export_job_id=job.id) if done else None,
    }


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@bp.get("/")
@permission_required(Permission.EXPORT)
def index():
    """The user's exports of the last 7 days."""
    exports = db.session.scalars(services.recent_exports(current_user).limit(200)).all()
    return render_template(
        "exports/index.html",
        exports=exports,
        downloadable=services.downloadable,
        human_size=human_size,
    )


@bp.post("/")
@permission_required(Permission.EXPORT)
def start():
    """Start a background export (from a list or report page: kind, format, and its query string)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    kind = request.form.get("kind", "")
    fmt = request.form.get("format", "")
    params = params_from_query(request.form.get("query", ""))
    try:
        job = services.start_export(current_user, kind, fmt, params)
    except services.ExportRequestError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".index"))
    db.session.commit()
    return redirect(url_for(".progress", export_job_id=job.id))


@bp.get("/<int:export_job_id>")
@permission_required(Permission.EXPORT)
def progress(export_job_id: int):
    job = _own_or_404(export_job_id)
    return render_template("exports/progress.html", job=job, status=status_payload(job))


@bp.get("/<int:export_job_id>/status")
@permission_required(Permission.EXPORT)
def status(export_job_id: int):
    return jsonify(status_payload(_own_or_404(export_job_id)))


@bp.get("/<int:export_job_id>/download")
@permission_required(Permission.EXPORT)
def download(export_job_id: int):
    job = _own_or_404(export_job_id)
    if not services.downloadable(job):
        abort(404)
    return send_stored(job.file)


# --- report subscriptions --------------------------------------------------------------------------------


@bp.get("/subscriptions")
@permission_required(Permission.EXPORT)
def subscriptions():
    rows = db.session.scalars(services.visible_subscriptions(current_user)).all()
    return render_template(
        "exports/subscriptions.html",
        subscriptions=rows,
        weekdays=WEEKDAYS,
        monthly=Frequency.MONTHLY,
        form=EmptyForm(),
        query_of=lambda params: urlencode(params or {}),
    )


@bp.route("/subscriptions/new", methods=["GET", "POST"])
@permission_required(Permission.EXPORT)
def new_subscription():
    """Subscribe to a report with its parameters (``?kind=enterprises&format=xlsx&params=area%3D350500``)."""
    form = SubscriptionForm(user=current_user)
    if request.method == "GET":
        kind = request.args.get("kind", "")
        if kind in dict(form.kind.choices):
            form.kind.data = kind
            form.title.data = str(EXPORTERS_BY_KEY[kind].label)
        if request.args.get("format") in dict(form.format.choices):
            form.format.data = request.args["format"]
        form.params.data = request.args.get("params", "")[:2000]
    if form.validate_on_submit():
        try:
            subscription = services.create_subscription(
                current_user,
                title=form.title.data.strip(),
                kind=form.kind.data,
                fmt=form.format.data,
                params=params_from_query(form.params.data),
                frequency=form.frequency.data,
                hour=form.hour.data,
                weekday=form.weekday.data,
                day_of_month=form.day_of_month.data,
            )
        except services.ExportRequestError as exc:
            db.session.rollback()
            for name, messages in exc.fields.items():
                target = {"kind": form.kind, "format": form.format}.get(name, form.title)
                target.errors = [*target.errors, *messages]
        else:
            db.session.commit()
            flash(
                _("Subscribed. The first report goes out %(when)s.", when=_when(subscription.next_run_at)),
                "success",
            )
            return redirect(url_for(".subscriptions"))
    return render_template("exports/subscription_form.html", form=form, params=params_from_query(form.params.data))


def _when(value) -> str:
    from crm.core.filters import format_datetime

    return format_datetime(value)


def _manageable_or_404(subscription_id: int):
    subscription = services.manageable_subscription(subscription_id, current_user)
    if subscription is None:
        abort(404)
    return subscription


@bp.post("/subscriptions/<int:subscription_id>/pause")
@permission_required(Permission.EXPORT)
def toggle_subscription(subscription_id: int):
    """Pause an active subscription, or resume a paused one."""
    subscription = _manageable_or_404(subscription_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.set_active(subscription, not subscription.is_active)
    db.session.commit()
    flash(_("Subscription resumed.") if subscription.is_active else _("Subscription paused."), "success")
    return redirect(url_for(".subscriptions"))


@bp.post("/subscriptions/<int:subscription_id>/delete")
@permission_required(Permission.EXPORT)
def delete_subscription(subscription_id: int):
    subscription = _manageable_or_404(subscription_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    db.session.delete(subscription)
    db.session.commit()
    flash(_("Subscription deleted."), "success")
    return redirect(url_for(".subscriptions"))
