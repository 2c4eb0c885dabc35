"""Enterprise pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import permission_required
from crm.core.scope import get_enterprise_or_404
from crm.enterprises.queries import enterprise_list
from crm.extensions import db
from crm.pipeline.models import Stage
from crm.reference.models import Area

bp = Blueprint("enterprises", __name__, url_prefix="/enterprises")


@bp.get("/")
@permission_required()
def list_enterprises():
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    filters = {key: request.args.get(key, "").strip() for key in ("q", "area", "stage")}
    return render_template(
        "enterprises/list.html",
        page=paginate(enterprise_list(filters), page, per_page),
        filters=filters,
        areas=db.session.scalars(select(Area).order_by(Area.sort_order)).all(),
        stages=db.session.scalars(select(Stage).order_by(Stage.sort_order)).all(),
    )


@bp.get("/<int:enterprise_id>")
@permission_required()
def detail(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    return render_template("enterprises/detail.html", enterprise=enterprise)
