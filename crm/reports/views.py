"""Report pages: the pipeline report builder and the fixed reports, each with its XLSX/CSV/PDF download."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.audit import record_export
from crm.core.exports import content_disposition
from crm.core.models import utcnow
from crm.core.permissions import Permission, has_permission, permission_required
from crm.core.timeutil import local_today
from crm.extensions import db
from crm.reports import exports, fixed
from crm.reports.filters import FilterError, filter_form_fields, parse_filters
from crm.reports.queries import GROUPINGS_BY_KEY, pipeline_report
from crm.reports.render import FORMATS, MIMETYPES

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _args() -> dict[str, str]:
    """The query arguments, one value each (the first), without the file format."""
    return {key: value for key, value in request.args.items() if key != "format"}


def _context(**values: Any) -> dict[str, Any]:
    return {
        "args": _args(),
        "filter_fields": filter_form_fields(),
        "can_export": has_permission(current_user, Permission.EXPORT),
        "formats": FORMATS,
        **values,
    }


@bp.get("/")
@permission_required(Permission.REPORTS)
def index():
    return render_template("reports/index.html")


@bp.get("/pipeline")
@permission_required(Permission.REPORTS)
def pipeline():
    args = _args()
    group_by = args.get("group_by") or "area"
    report, errors = None, {}
    if group_by not in GROUPINGS_BY_KEY:
        errors["group_by"] = [_unknown_grouping()]
    try:
        filters = parse_filters(args)
    except FilterError as error:
        errors.update(error.errors)
        filters = None
    if not errors:
        report = pipeline_report(filters, group_by, current_user)
    return render_template(
        "reports/pipeline.html",
        **_context(report=report, errors=errors, group_by=group_by, groupings=GROUPINGS_BY_KEY.values()),
    )


def _unknown_grouping() -> str:
    return _("Unknown grouping.")


@bp.get("/monthly")
@permission_required(Permission.REPORTS)
def monthly():
    report, errors = None, {}
    try:
        report = fixed.monthly_progress(_args(), current_user)
    except FilterError as error:
        errors = error.errors
    return render_template("reports/monthly.html", **_context(report=report, errors=errors, today=local_today()))


@bp.get("/certified")
@permission_required(Permission.REPORTS)
def certified():
    from crm.core.pagination import PageArgumentError, page_args

    args = _args()
    rows, errors, total = [], {}, 0
    try:
        page, per_page = page_args(default_per_page=100, max_per_page=500)
    except PageArgumentError:
        abort(404)
    try:
        filters = parse_filters(args)
    except FilterError as error:
        errors = error.errors
    else:
        whole = exports.certified_whole_history(args)
        total = fixed.certified_count(filters, current_user, whole_history=whole)
        stmt = fixed.certified_select(filters, current_user, whole_history=whole)
        rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return render_template(
        "reports/certified.html",
        **_context(rows=rows, errors=errors, total=total, page=page, per_page=per_page, tier_label=fixed.tier_label),
    )


@bp.get("/measures")
@permission_required(Permission.REPORTS)
def measures():
    uptake, errors = None, {}
    try:
        uptake = fixed.measure_uptake(parse_filters(_args()), current_user)
    except FilterError as error:
        errors = error.errors
    return render_template("reports/measures.html", **_context(uptake=uptake, errors=errors))


# --- downloads -------------------------------------------------------------------------------------------


def _download(writer: Callable[..., int], kind: str, page: str, stem: str):
    """Write the file with the export writer (the same one the export jobs use), audit it, send it."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in FORMATS:
        abort(404)
    params = _args()
    spool = tempfile.TemporaryFile(suffix=f".{fmt}")  # noqa: SIM115 (closed once sent)
    try:
        count = writer(params, fmt, spool, user=current_user, generated_at=utcnow(), progress=lambda done, total: None)
    except exports.ExportParamsError as error:
        spool.close()
        flash(str(error), "danger")
        return redirect(url_for(page, **params))
    record_export(kind, params, count, file_format=fmt)
    db.session.commit()

    def chunks() -> Iterator[bytes]:
        try:
            spool.seek(0)
            while chunk := spool.read(256 * 1024):
                yield chunk
        finally:
            spool.close()

    response = Response(chunks(), mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = content_disposition(f"{stem}-{local_today():%Y%m%d}.{fmt}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/pipeline/download")
@permission_required(Permission.REPORTS, Permission.EXPORT)
def download_pipeline():
    return _download(exports.pipeline_report, "pipeline_report", "reports.pipeline", "培育进度统计")


@bp.get("/monthly/download")
@permission_required(Permission.REPORTS, Permission.EXPORT)
def download_monthly():
    return _download(exports.monthly_progress, "monthly_progress", "reports.monthly", "培育工作进展")


@bp.get("/certified/download")
@permission_required(Permission.REPORTS, Permission.EXPORT)
def download_certified():
    return _download(exports.certified_list, "certified_list", "reports.certified", "高级认证企业名单")


@bp.get("/measures/download")
@permission_required(Permission.REPORTS, Permission.EXPORT)
def download_measures():
    return _download(exports.measure_uptake, "measure_uptake", "reports.measures", "支持措施落实情况")
