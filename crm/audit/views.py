"""Audit pages: the administrators' search and export, a record's history, and an enterprise's history tab."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm.audit.forms import AuditSearchForm
from crm.audit.labels import action_label, record_type_label
from crm.audit.queries import (
    audit_search,
    enterprise_history,
    keyset_page,
    older_than,
    position_of,
    record_history,
)
from crm.core.audit import AuditLog, record_export
from crm.core.exports import XLSX_MAX_ROWS, csv_response, xlsx_response
from crm.core.pagination import PageArgumentError, count_rows, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.extensions import db

bp = Blueprint("audit", __name__)

#: Rows fetched per round trip while streaming an export.
EXPORT_BATCH = 1000


@bp.get("/admin/audit/")
@permission_required(Permission.OPERATIONS)
def search():
    form = AuditSearchForm(request.args)
    form.validate()
    filters = form.filters()
    try:
        _page, per_page = page_args()
        before = _optional_id("before")
        after = _optional_id("after")
    except PageArgumentError:
        abort(400)
    page = keyset_page(audit_search(filters), per_page=per_page, before=before, after=after)
    return render_template(
        "audit/search.html",
        form=form,
        filters=filters,
        page=page,
        record_types=form.record_types(),
        export_args=filters.as_dict(),
    )


def _optional_id(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise PageArgumentError(f"{name} must be a whole number")
    return int(raw)


@bp.get("/admin/audit/export.<any(csv, xlsx):file_format>")
@permission_required(Permission.OPERATIONS, Permission.EXPORT)
def export(file_format: str):
    """Download the search's rows; the download is itself recorded in the audit trail."""
    form = AuditSearchForm(request.args)
    if not form.validate():
        flash(_("Correct the filters before exporting."), "warning")
        return redirect(url_for(".search", **request.args))
    filters = form.filters()
    stmt = audit_search(filters)
    total = count_rows(stmt)
    if file_format == "xlsx" and total > XLSX_MAX_ROWS:
        flash(
            _("Rows: %(n)s. That is too many for one spreadsheet; narrow the filters or export CSV.", n=total),
            "warning",
        )
        return redirect(url_for(".search", **request.args))
    record_export("audit_log", filters.as_dict(), total, file_format=file_format)
    db.session.commit()
    header = [
        _("ID"),
        _("Time"),
        _("User"),
        _("IP address"),
        _("Action"),
        _("Record type"),
        _("Record ID"),
        _("Enterprise ID"),
        _("Summary"),
        _("Changes"),
    ]
    filename = f"audit-{_timestamp()}.{file_format}"
    rows = _export_rows(stmt)
    if file_format == "csv":
        return csv_response(filename, header, rows)
    return xlsx_response(filename, header, rows, sheet=_("Audit trail"))


def _timestamp() -> str:
    from crm.core.models import utcnow
    from crm.core.timeutil import to_local

    return to_local(utcnow()).strftime("%Y%m%d-%H%M")


def _export_rows(stmt) -> Iterator[list[Any]]:
    """Stream rows in batches (keyset on the page order, plain tuples), so millions of rows never sit in memory."""
    columns = stmt.with_only_columns(
        AuditLog.id,
        AuditLog.created_at,
        AuditLog.actor_label,
        AuditLog.ip,
        AuditLog.action,
        AuditLog.record_type,
        AuditLog.record_id,
        AuditLog.enterprise_id,
        AuditLog.summary,
        AuditLog.changes,
    )
    batch_stmt = columns
    while True:
        batch = db.session.execute(batch_stmt.limit(EXPORT_BATCH)).all()
        if not batch:
            return
        for row in batch:
            yield [
                row.id,
                row.created_at,
                row.actor_label,
                row.ip,
                action_label(row.action),
                record_type_label(row.record_type),
                row.record_id,
                row.enterprise_id,
                row.summary,
                json.dumps(row.changes, ensure_ascii=False, sort_keys=True) if row.changes else "",
            ]
        batch_stmt = older_than(columns, position_of(batch[-1]))


@bp.get("/admin/audit/records/<record_type>/<record_id>")
@permission_required(Permission.OPERATIONS)
def record(record_type: str, record_id: str):
    """The history of any record (users, reference data, settings ...), for administrators."""
    page = _history_page(record_history(record_type, record_id))
    return render_template(
        "audit/record.html",
        page=page,
        record_type=record_type,
        record_id=record_id,
        title=f"{record_type_label(record_type)} {record_id}",
    )


@bp.get("/enterprises/<int:enterprise_id>/history")
@permission_required()
def enterprise(enterprise_id: int):
    """An enterprise's history tab: every change of it and of what belongs to it, for anyone who may see it."""
    enterprise = get_enterprise_or_404(enterprise_id)
    return render_template(
        "audit/enterprise.html", enterprise=enterprise, page=_history_page(enterprise_history(enterprise.id))
    )


def _history_page(stmt):
    try:
        page, per_page = page_args(default_per_page=current_app.config.get("UI_PER_PAGE", 50))
    except PageArgumentError:
        abort(400)
    return paginate(stmt, page, per_page)


def history_context(stmt, *, page_arg: str = "history_page") -> dict[str, Any]:
    """For another page that shows a history tab: ``render_template(..., **history_context(enterprise_history(id)))``
    then ``{% from "audit/_history.html" import history_table %}{{ history_table(history) }}``."""
    raw = request.args.get(page_arg, "1")
    page = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    return {"history": paginate(stmt, page, current_app.config.get("UI_PER_PAGE", 50)), "history_page_arg": page_arg}


@bp.app_template_filter("audit_value")
def audit_value(value: Any) -> str:
    """An old or new value of an audit diff as text (JSON for structures, keeping Chinese readable)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        from datetime import datetime

        from crm.core.filters import format_datetime

        try:
            return format_datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


#: How json_value writes an aware datetime (2026-06-05T04:03:02.123+00:00): shown in local time.
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


@bp.app_template_global("audit_can_browse")
def audit_can_browse() -> bool:
    """Whether the current user may open any record's history (the macros link to it only then)."""
    from flask_login import current_user

    return has_permission(current_user, Permission.OPERATIONS)


bp.add_app_template_global(action_label, "audit_action_label")
bp.add_app_template_global(record_type_label, "audit_record_type_label")
