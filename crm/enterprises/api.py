"""Enterprise API: ``/api/v1/enterprises``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from crm.api.helpers import paginated_response
from crm.core.scope import get_enterprise_or_404
from crm.enterprises.queries import enterprise_list
from crm.enterprises.serializers import serialize_enterprise

bp = Blueprint("enterprises_api", __name__, url_prefix="/enterprises")


@bp.get("")
def list_enterprises():
    filters = {key: request.args.get(key, "") for key in ("q", "area", "office", "stage")}
    return paginated_response(enterprise_list(filters), serialize_enterprise)


@bp.get("/<int:enterprise_id>")
def get_enterprise(enterprise_id: int):
    return jsonify(serialize_enterprise(get_enterprise_or_404(enterprise_id)))
