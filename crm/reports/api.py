"""Reports API: ``GET /api/v1/reports/pipeline`` (the pipeline report's stage counts per group)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from crm.api.errors import validation_error
from crm.api.helpers import query_value
from crm.core.permissions import Permission, permission_required
from crm.reports.filters import FILTERS_BY_NAME, FilterError, parse_filters
from crm.reports.queries import GROUPINGS_BY_KEY, PipelineReport, ReportRow, pipeline_report

bp = Blueprint("reports_api", __name__)

ARGUMENTS = ("group_by", "from", "to", *FILTERS_BY_NAME)


def _counts(report: PipelineReport, row: ReportRow) -> dict[str, int]:
    return {stage.code: row.counts.get(stage.code, 0) for stage in report.stages}


def serialize_report(report: PipelineReport) -> dict[str, Any]:
    return {
        "rows": [
            {"key": row.public_key, "label": row.label, "counts": _counts(report, row), "total": row.total}
            for row in report.rows
        ],
        "totals": {"counts": _counts(report, report.totals), "total": report.totals.total},
    }


@bp.get("/reports/pipeline")
@permission_required(Permission.REPORTS)
def pipeline():
    errors: dict[str, list[str]] = {}
    args: dict[str, str] = {}
    for name in ARGUMENTS:
        value = query_value(name, errors)
        if value is None:
            continue
        if not value.strip():
            errors[name] = [_("Give a value or leave the argument out.")]
            continue
        args[name] = value
    group_by = args.pop("group_by", "area")
    if group_by not in GROUPINGS_BY_KEY:
        errors["group_by"] = [_("Use one of: %(values)s.", values=", ".join(GROUPINGS_BY_KEY))]
    try:
        filters = parse_filters(args)
    except FilterError as error:
        errors.update(error.errors)
    if errors:
        raise validation_error(errors)
    return jsonify(serialize_report(pipeline_report(filters, group_by, current_user)))
