"""Plans API: ``/api/v1/enterprises/<id>/plan``, its tasks, and ``/api/v1/tasks/<id>``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import as_id, id_list, is_choice, json_body, paginated_response, parse_date, query_choice
from crm.auth.models import User
from crm.core.models import json_value
from crm.core.permissions import Permission, permission_required
from crm.core.scope import build_scope, get_enterprise_or_404
from crm.core.timeutil import local_today
from crm.enterprises.models import Contact, Enterprise, TargetTier
from crm.extensions import db
from crm.plans import queries, services
from crm.plans.models import CultivationTask, Plan, PlanStatus, TaskStatus

bp = Blueprint("plans_api", __name__)

PLAN_FIELDS = {
    "goal",
    "target_tier",
    "target_application_on",
    "started_on",
    "status",
    "measures",
    "commerce_officer",
    "customs_officer",
    "contact",
}
TASK_FIELDS = {
    "title",
    "items",
    "owner",
    "owner_contact",
    "due_on",
    "status",
    "description",
    "completion_note",
    "completed_on",
}


def serialize_plan(plan: Plan) -> dict[str, Any]:
    progress = services.progress(plan)
    return {
        "id": plan.id,
        "enterprise_id": plan.enterprise_id,
        "status": json_value(plan.status),
        "goal": plan.goal,
        "target_tier": json_value(plan.target_tier),
        "started_on": json_value(plan.started_on),
        "target_application_on": json_value(plan.target_application_on),
        "measures": plan.measures,
        "commerce_officer": plan.commerce_officer.username if plan.commerce_officer else None,
        "customs_officer": plan.customs_officer.username if plan.customs_officer else None,
        "contact": {"id": plan.contact.id, "name": plan.contact.name} if plan.contact else None,
        "template": plan.template.name if plan.template else None,
        "progress": {"done": progress.done, "total": progress.total, "percent": progress.percent},
        "overdue_tasks": progress.overdue,
        "created_at": json_value(plan.created_at),
        "updated_at": json_value(plan.updated_at),
    }


def serialize_task(task: CultivationTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "plan_id": task.plan_id,
        "enterprise_id": task.enterprise_id,
        "title": task.title,
        "description": task.description,
        "items": sorted(i.number for i in task.items),
        "owner": task.owner.username if task.owner else None,
        "owner_contact": {"id": task.owner_contact.id, "name": task.owner_contact.name} if task.owner_contact else None,
        "due_on": json_value(task.due_on),
        "status": json_value(task.status),
        "overdue": services.is_overdue(task),
        "completed_on": json_value(task.completed_on),
        "completion_note": task.completion_note,
        "source": {"kind": task.source_kind, "id": task.source_id} if task.source_kind else None,
        "created_at": json_value(task.created_at),
        "updated_at": json_value(task.updated_at),
    }


def _open_plan_or_404(enterprise: Enterprise) -> Plan:
    plan = services.open_plan(enterprise.id)
    if plan is None:
        raise ApiError(404, _("The enterprise has no open plan."), code="no_plan")
    return plan


def _user_field(body: dict, field: str, errors: dict, enterprise: Enterprise) -> User | None:
    username = body.get(field)
    if username in (None, ""):
        return None
    if not isinstance(username, str):
        errors.setdefault(field, []).append(_("Give a username."))
        return None
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        errors.setdefault(field, []).append(_("No active user has this username."))
        return None
    if not build_scope(user).contains(enterprise):
        errors.setdefault(field, []).append(_("This user cannot see the enterprise (outside their jurisdiction)."))
        return None
    return user


def _contact_field(body: dict, field: str, errors: dict, enterprise: Enterprise) -> Contact | None:
    value = body.get(field)
    if value in (None, ""):
        return None
    contact_id = value.get("id") if isinstance(value, dict) else value
    contact_id = as_id(contact_id)
    contact = db.session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None or contact.enterprise_id != enterprise.id:
        errors.setdefault(field, []).append(_("Give the id of one of the enterprise's contacts."))
        return None
    return contact


def _plan_changes(body: dict, enterprise: Enterprise, *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - PLAN_FIELDS)
    errors: dict[str, list[str]] = {name: [_("Unknown field.")] for name in unknown}
    changes: dict[str, Any] = {}
    for field in ("goal", "measures"):
        if field in body:
            if not isinstance(body[field], str):
                errors[field] = [_("Use a string.")]
            else:
                changes[field] = body[field]
    if not partial:
        goal = body.get("goal")
        if not isinstance(goal, str) or not goal.strip():
            errors.setdefault("goal", []).append(_("The goal is required."))
    if "target_tier" in body:
        if not is_choice(body["target_tier"], [t.value for t in TargetTier]):
            errors["target_tier"] = [_("Use one of %(values)s.", values=", ".join(t.value for t in TargetTier))]
        else:
            changes["target_tier"] = body["target_tier"]
    if "status" in body:
        if not is_choice(body["status"], [s.value for s in PlanStatus]):
            errors["status"] = [_("Use one of %(values)s.", values=", ".join(s.value for s in PlanStatus))]
        else:
            changes["status"] = body["status"]
    for field in ("target_application_on", "started_on"):
        if field in body:
            changes[field] = parse_date(body[field], field, errors)
    for field in ("commerce_officer", "customs_officer"):
        if field in body:
            changes[field] = _user_field(body, field, errors, enterprise)
    if "contact" in body:
        changes["contact"] = _contact_field(body, "contact", errors, enterprise)
    if errors:
        raise validation_error(errors)
    return changes


@bp.get("/enterprises/<int:enterprise_id>/plan")
def get_plan(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    return jsonify(serialize_plan(_open_plan_or_404(enterprise)))


@bp.post("/enterprises/<int:enterprise_id>/plan")
@permission_required(Permission.EDIT)
def create_plan(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    body = json_body()
    changes = _plan_changes(body, enterprise, partial=False)
    if services.open_plan(enterprise.id) is not None:
        raise ApiError(409, _("The enterprise already has an open plan; complete or abandon it first."))
    try:
        plan = services.create_plan(enterprise, by=current_user, **changes)
    except services.PlanError as exc:
        db.session.rollback()
        raise validation_error({}, message=str(exc)) from None
    payload = serialize_plan(plan)
    db.session.commit()
    response = jsonify(payload)
    response.status_code = 201
    return response


@bp.patch("/enterprises/<int:enterprise_id>/plan")
@permission_required(Permission.EDIT)
def update_plan(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    plan = _open_plan_or_404(enterprise)
    changes = _plan_changes(json_body(), enterprise, partial=True)
    try:
        services.update_plan(plan, by=current_user, **changes)
    except services.PlanError as exc:
        db.session.rollback()
        raise validation_error({}, message=str(exc)) from None
    payload = serialize_plan(plan)
    db.session.commit()
    return jsonify(payload)


def _task_changes(body: dict, plan: Plan, *, partial: bool) -> dict[str, Any]:
    enterprise = db.session.get(Enterprise, plan.enterprise_id)
    unknown = sorted(set(body) - TASK_FIELDS)
    errors: dict[str, list[str]] = {name: [_("Unknown field.")] for name in unknown}
    changes: dict[str, Any] = {}
    if "title" in body or not partial:
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = [_("A task needs a title.")]
        elif len(title) > 300:
            errors["title"] = [_("At most 300 characters.")]
        else:
            changes["title"] = title
    for field in ("description", "completion_note"):
        if field in body:
            if not isinstance(body[field], str):
                errors[field] = [_("Use a string.")]
            else:
                changes[field] = body[field]
    if "items" in body:
        numbers = [] if body["items"] == [] else id_list(body["items"])
        if numbers is None:
            errors["items"] = [_("Give a list of item numbers.")]
        else:
            items, missing = services.items_by_number(services.plan_version(plan), numbers)
            if missing:
                errors["items"] = [_("The standard has no items %(numbers)s.", numbers=", ".join(map(str, missing)))]
            changes["items"] = items
    if "owner" in body:
        changes["owner"] = _user_field(body, "owner", errors, enterprise)
    if "owner_contact" in body:
        changes["owner_contact"] = _contact_field(body, "owner_contact", errors, enterprise)
    if changes.get("owner") is not None and changes.get("owner_contact") is not None:
        errors["owner"] = [_("A task has one owner: a user or a contact of the enterprise, not both.")]
    for field in ("due_on", "completed_on"):
        if field in body:
            changes[field] = parse_date(body[field], field, errors)
    if changes.get("completed_on") and changes["completed_on"] > local_today():
        errors["completed_on"] = [_("The completion date cannot be in the future.")]
    if "status" in body:
        if not is_choice(body["status"], [s.value for s in TaskStatus]):
            errors["status"] = [_("Use one of %(values)s.", values=", ".join(s.value for s in TaskStatus))]
        else:
            changes["status"] = body["status"]
    if errors:
        raise validation_error(errors)
    return changes


@bp.get("/enterprises/<int:enterprise_id>/plan/tasks")
def list_tasks(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    plan = _open_plan_or_404(enterprise)
    errors: dict[str, list[str]] = {}
    filters = {
        "status": query_choice("status", [s.value for s in TaskStatus], errors),
        "overdue": request.args.get("overdue", ""),
        "plan_id": plan.id,
    }
    if errors:
        raise validation_error(errors)
    return paginated_response(queries.task_list(filters), serialize_task)


@bp.post("/enterprises/<int:enterprise_id>/plan/tasks")
@permission_required(Permission.EDIT)
def create_task(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    plan = _open_plan_or_404(enterprise)
    changes = _task_changes(json_body(), plan, partial=False)
    status = changes.pop("status", None)
    extra = {key: changes.pop(key) for key in ("completion_note", "completed_on") if key in changes}
    try:
        task = services.create_task(plan, **changes)
        if status or extra:
            services.update_task(task, status=status, **extra)
    except services.PlanError as exc:
        db.session.rollback()
        raise validation_error({}, message=str(exc)) from None
    payload = serialize_task(task)
    db.session.commit()
    response = jsonify(payload)
    response.status_code = 201
    return response


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    task = queries.scoped_task(task_id)
    if task is None:
        raise ApiError(404, _("No such task."))
    return jsonify(serialize_task(task))


@bp.patch("/tasks/<int:task_id>")
@permission_required(Permission.EDIT)
def update_task(task_id: int):
    task = queries.scoped_task(task_id)
    if task is None:
        raise ApiError(404, _("No such task."))
    changes = _task_changes(json_body(), task.plan, partial=True)
    try:
        services.update_task(task, **changes)
    except services.PlanError as exc:
        db.session.rollback()
        raise validation_error({}, message=str(exc)) from None
    payload = serialize_task(task)
    db.session.commit()
    return jsonify(payload)
