"""The dashboard page, and the administration of the yearly certification targets."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.forms import EmptyForm
from crm.core.permissions import Permission, has_permission, permission_required
from crm.dashboard.charts import build_dashboard
from crm.dashboard.forms import CertificationTargetForm, DashboardFilterForm
from crm.dashboard.models import CertificationTarget
from crm.extensions import db
from crm.reference.models import Area

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
admin_bp = Blueprint("dashboard_admin", __name__, url_prefix="/admin/targets")


def render_dashboard(template: str = "dashboard/index.html", **context):
    """The dashboard for the current user's scope, narrowed by the query string's filters (400 when invalid)."""
    form = DashboardFilterForm(request.args, user=current_user)
    context.setdefault("show_targets_link", has_permission(current_user, Permission.MANAGE_REFERENCE))
    if not form.validate():
        return render_template(template, form=form, dashboard=None, **context), 400
    dashboard = build_dashboard(form.dashboard_filter())
    return render_template(template, form=form, dashboard=dashboard, **context)


@bp.get("/")
@permission_required(Permission.REPORTS)
def index():
    return render_dashboard()


# --- certification targets ---------------------------------------------------------------------------------


@admin_bp.get("/")
@permission_required(Permission.MANAGE_REFERENCE)
def targets():
    rows = db.session.execute(
        select(CertificationTarget)
        .join(Area, Area.id == CertificationTarget.area_id)
        .order_by(CertificationTarget.year.desc(), Area.sort_order, Area.id)
    ).scalars()
    return render_template("dashboard/targets.html", rows=list(rows), form=EmptyForm())


@admin_bp.route("/new", methods=["GET", "POST"])
@admin_bp.route("/<int:certification_target_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_target(certification_target_id: int | None = None):
    row = db.session.get(CertificationTarget, certification_target_id) if certification_target_id else None
    if certification_target_id is not None and row is None:
        abort(404)
    form = CertificationTargetForm(obj=row, row=row)
    if form.validate_on_submit():
        if row is None:
            row = CertificationTarget()
            db.session.add(row)
        row.area_id = form.area_id.data
        row.year = form.year.data
        row.target = form.target.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".targets"))
    return render_template("dashboard/target_form.html", row=row, form=form)


@admin_bp.post("/<int:certification_target_id>/delete")
@permission_required(Permission.MANAGE_REFERENCE)
def delete_target(certification_target_id: int):
    row = db.session.get(CertificationTarget, certification_target_id)
    if row is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    db.session.delete(row)
    db.session.commit()
    flash(_("Deleted."), "success")
    return redirect(url_for(".targets"))
