"""Export API: ``POST /api/v1/exports`` starts a background export (202), ``GET /api/v1/exports/<id>`` follows it,
``GET /api/v1/exports/<id>/download`` fetches its file. An export is seen by the user who started it only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import json_body
from crm.core.files import send_stored
from crm.core.permissions import Permission, permission_required
from crm.exports import services
from crm.exports.models import ExportJob
from crm.extensions import db

bp = Blueprint("exports_api", __name__)

BODY_FIELDS = {"kind", "format", "filters"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def serialize_export(job: ExportJob) -> dict[str, Any]:
    done = services.downloadable(job)
    return {
        "id": job.id,
        "kind": job.exporter,
        "format": job.format,
        "filters": job.params or {},
        "status": job.status.value,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "row_count": job.row_count,
        "error": job.error or None,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "url": url_for("api.exports_api.get_export", export_job_id=job.id),
        "download_url": url_for("api.exports_api.download_export", export_job_id=job.id) if done else None,
    }


@bp.post("/exports")
@permission_required(Permission.EXPORT)
def create_export():
    body = json_body()
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise validation_error({name: [_("Unknown field.")] for name in unknown})
    filters = body.get("filters", {})
    try:
        job = services.start_export(current_user, body.get("kind"), body.get("format"), filters)
    except services.ExportRequestError as exc:
        db.session.rollback()
        raise validation_error(exc.fields) from None
    db.session.commit()
    response = jsonify(serialize_export(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.exports_api.get_export", export_job_id=job.id)
    return response


def _own_or_404(export_job_id: int) -> ExportJob:
    job = services.own_export(export_job_id, current_user)
    if job is None:
        raise ApiError(404, _("No such export."), code="not_found")
    return job


@bp.get("/exports/<int:export_job_id>")
@permission_required(Permission.EXPORT)
def get_export(export_job_id: int):
    return jsonify(serialize_export(_own_or_404(export_job_id)))


@bp.get("/exports/<int:export_job_id>/download")
@permission_required(Permission.EXPORT)
def download_export(export_job_id: int):
    job = _own_or_404(export_job_id)
    if not services.downloadable(job):
        raise ApiError(404, _("The export's file is not ready, or no longer kept."), code="not_found")
    return send_stored(job.file)
