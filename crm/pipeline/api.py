"""Pipeline API: ``/api/v1/stages``, ``/api/v1/enterprises/<id>/transitions`` and ``.../history``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_login import current_user
from sqlalchemy import select

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import json_body, paginated_response
from crm.core.models import json_value
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.enterprises.models import Enterprise
from crm.enterprises.serializers import serialize_enterprise
from crm.extensions import db
from crm.pipeline import queries, services
from crm.pipeline.models import Stage, StageChange

bp = Blueprint("pipeline_api", __name__)


def serialize_stage(stage: Stage) -> dict[str, Any]:
    return {
        "code": stage.code,
        "name_zh": stage.name_zh,
        "name_en": stage.name_en,
        "sort_order": stage.sort_order,
        "sla_days": stage.sla_days,
        "kind": json_value(stage.kind),
    }


def serialize_change(change: StageChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "from": change.from_stage,
        "to": change.to_stage,
        "changed_at": json_value(change.changed_at),
        "changed_by": change.changed_by.username if change.changed_by else None,
        "comment": change.comment,
        "override_reason": change.override_reason,
        "data": change.data or {},
    }


def serialize_pipeline_enterprise(enterprise: Enterprise) -> dict[str, Any]:
    """The enterprise as ``GET /enterprises/<id>`` returns it, plus its time in stage."""
    return serialize_enterprise(enterprise) | {
        "stage_entered_at": json_value(enterprise.stage_entered_at),
        "days_in_stage": queries.days_in_stage(enterprise),
        "is_stale": queries.is_stale(enterprise),
        "incentives_suspended": enterprise.incentives_suspended,
    }


@bp.get("/stages")
def list_stages():
    return paginated_response(select(Stage).order_by(Stage.sort_order, Stage.code), serialize_stage)


@bp.post("/enterprises/<int:enterprise_id>/transitions")
@permission_required(Permission.TRANSITION)
def create_transition(enterprise_id: int):
    body = json_body()
    services.lock_enterprise(enterprise_id)
    enterprise = get_enterprise_or_404(enterprise_id)
    transition_request, errors = services.parse_transition_input(body)
    if errors:
        raise validation_error(errors)
    try:
        services.transition(enterprise, transition_request, by=current_user)
    except services.TransitionBlocked as blocked:
        db.session.rollback()
        raise ApiError(422, blocked.message, code="transition_blocked", fields=blocked.failures) from None
    db.session.commit()
    return jsonify(serialize_pipeline_enterprise(enterprise))


@bp.get("/enterprises/<int:enterprise_id>/history")
def enterprise_history(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    return paginated_response(queries.history_for(enterprise.id), serialize_change)
