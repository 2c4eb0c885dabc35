"""Cohorts API: ``/api/v1/cohorts``, one cohort, and its members (add, remove).

A cohort is visible when its lead or one of its members is in the caller's scope; members outside the scope are
counted (``hidden_members``) but not listed, and the roll-up covers the members in scope only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import as_id, id_list, is_choice, json_body, paginated_response, parse_date, query_choice
from crm.auth.models import User
from crm.cohorts import queries, services
from crm.cohorts.models import Cohort, CohortKind, MemberRelation
from crm.core.models import json_value
from crm.core.permissions import Permission, permission_required
from crm.core.scope import scope_of
from crm.enterprises.models import Enterprise
from crm.extensions import db

bp = Blueprint("cohorts_api", __name__)

COHORT_FIELDS = {"name", "kind", "lead_enterprise_id", "target_date", "notes", "responsibles"}
MEMBER_FIELDS = {"enterprise_ids", "relation"}


def _lead(cohort: Cohort) -> dict[str, Any] | None:
    if not scope_of().contains(cohort.lead):
        return None
    return {"id": cohort.lead.id, "name": cohort.lead.name, "credit_status": json_value(cohort.lead.credit_status)}


def serialize_cohort(cohort: Cohort, *, counts: tuple[int, int] | None = None) -> dict[str, Any]:
    seen, total = counts if counts is not None else queries.member_counts([cohort.id])[cohort.id]
    return {
        "id": cohort.id,
        "name": cohort.name,
        "kind": json_value(cohort.kind),
        "lead": _lead(cohort),
        "lead_is_aeo": cohort.lead.credit_status in queries.AEO_STATUSES,
        "target_date": json_value(cohort.target_date),
        "notes": cohort.notes,
        "responsibles": [u.username for u in cohort.responsibles],
        "members_in_scope": seen,
        "hidden_members": total - seen,
        "created_at": json_value(cohort.created_at),
        "updated_at": json_value(cohort.updated_at),
    }


def serialize_cohort_detail(cohort: Cohort) -> dict[str, Any]:
    page = queries.cohort_page(cohort)
    payload = serialize_cohort(cohort, counts=(len(page.rows), len(page.rows) + page.hidden_members))
    payload["members"] = [
        {
            "enterprise_id": row.enterprise.id,
            "name": row.enterprise.name,
            "relation": json_value(row.member.relation),
            "stage": row.enterprise.stage,
            "readiness_outcome": row.enterprise.readiness_outcome,
            "readiness_total": row.enterprise.readiness_total,
            "open_tasks": row.open_tasks,
            "overdue_tasks": row.overdue_tasks,
            "last_visit_on": json_value(row.last_visit_on),
            "priority": page.lead_is_aeo,
        }
        for row in page.rows
    ]
    rollup = page.rollup
    payload["rollup"] = {
        "members": rollup.members,
        "per_stage": {code: n for code, _name, n in rollup.per_stage},
        "ready": rollup.ready,
        "certified": rollup.certified,
        "assessed": rollup.assessed,
        "weakest_items": [{"number": w.item.number, "failing": w.failing, "basic": w.basic} for w in rollup.weakest],
    }
    return payload


def _cohort_or_404(cohort_id: int) -> Cohort:
    cohort = queries.scoped_cohort(cohort_id)
    if cohort is None:
        raise ApiError(404, _("No such cohort."))
    return cohort


def _changes(body: dict, *, partial: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {name: [_("Unknown field.")] for name in sorted(set(body) - COHORT_FIELDS)}
    changes: dict[str, Any] = {}
    if not partial:
        for name in ("name", "lead_enterprise_id"):
            if name not in body:
                errors[name] = [_("This field is required.")]
    for name in ("name", "notes"):
        if name in body:
            if not isinstance(body[name], str):
                errors[name] = [_("Use a string.")]
            else:
                changes[name] = body[name]
    if "kind" in body:
        if is_choice(body["kind"], [k.value for k in CohortKind]):
            changes["kind"] = body["kind"]
        else:
            errors["kind"] = [_("Use one of: %(values)s.", values=", ".join(k.value for k in CohortKind))]
    if "lead_enterprise_id" in body:
        lead_id = as_id(body["lead_enterprise_id"])
        lead = queries.scoped_enterprise(lead_id) if lead_id is not None else None
        if lead is None:
            errors["lead_enterprise_id"] = [_("Give the id of an enterprise in your jurisdiction.")]
        else:
            changes["lead"] = lead
    if "target_date" in body:
        changes["target_date"] = parse_date(body["target_date"], "target_date", errors)
    if "responsibles" in body:
        names = body["responsibles"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            errors["responsibles"] = [_("Give a list of usernames.")]
        else:
            users = list(db.session.scalars(select(User).where(User.username.in_(names), User.is_active.is_(True))))
            if len({u.username for u in users}) != len(set(names)):
                errors["responsibles"] = [_("No active user has this username.")]
            changes["responsibles"] = users
    if errors:
        raise validation_error(errors)
    return changes


@bp.get("/cohorts")
@permission_required()
def list_cohorts():
    errors: dict[str, list[str]] = {}
    filters = {
        "kind": query_choice("kind", [k.value for k in CohortKind], errors) or "",
        "q": request.args.get("q", ""),
    }
    if errors:
        raise validation_error(errors)
    return paginated_response(queries.cohort_list(filters), serialize_cohort)


@bp.post("/cohorts")
@permission_required(Permission.EDIT)
def create_cohort():
    changes = _changes(json_body(), partial=False)
    try:
        cohort = services.create_cohort(
            name=changes.get("name", ""),
            kind=changes.get("kind", CohortKind.GROUP),
            lead=changes.get("lead"),
            target_date=changes.get("target_date"),
            notes=changes.get("notes", ""),
            responsibles=changes.get("responsibles", []),
            by=current_user,
        )
    except services.CohortError as error:
        db.session.rollback()
        raise validation_error(error.fields) from None
    payload = serialize_cohort_detail(cohort)
    db.session.commit()
    response = jsonify(payload)
    response.status_code = 201
    return response


@bp.get("/cohorts/<int:cohort_id>")
@permission_required()
def get_cohort(cohort_id: int):
    return jsonify(serialize_cohort_detail(_cohort_or_404(cohort_id)))


@bp.patch("/cohorts/<int:cohort_id>")
@permission_required(Permission.EDIT)
def update_cohort(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    changes = _changes(json_body(), partial=True)
    try:
        services.update_cohort(cohort, by=current_user, **changes)
    except services.CohortError as error:
        db.session.rollback()
        raise validation_error(error.fields) from None
    payload = serialize_cohort_detail(cohort)
    db.session.commit()
    return jsonify(payload)


@bp.post("/cohorts/<int:cohort_id>/members")
@permission_required(Permission.EDIT)
def add_members(cohort_id: int):
    """Add enterprises of the caller's scope with one relation; the lead and existing members are reported."""
    cohort = _cohort_or_404(cohort_id)
    body = json_body()
    errors: dict[str, list[str]] = {name: [_("Unknown field.")] for name in sorted(set(body) - MEMBER_FIELDS)}
    ids = id_list(body.get("enterprise_ids"))
    if ids is None:
        errors["enterprise_ids"] = [_("Give a non-empty list of enterprise ids.")]
    elif len(ids) > services.MAX_MEMBERS_PER_CALL:
        errors["enterprise_ids"] = [_("At most %(n)s enterprises at once.", n=services.MAX_MEMBERS_PER_CALL)]
    relation = body.get("relation", MemberRelation.OTHER.value)
    if not is_choice(relation, [r.value for r in MemberRelation]):
        errors["relation"] = [_("Use one of: %(values)s.", values=", ".join(r.value for r in MemberRelation))]
    if errors:
        raise validation_error(errors)
    enterprises = list(
        db.session.scalars(
            select(Enterprise).where(Enterprise.id.in_(ids), scope_of().enterprise_filter()).order_by(Enterprise.id)
        )
    )
    missing = sorted(set(ids) - {e.id for e in enterprises})
    if missing:
        raise validation_error(
            {
                "enterprise_ids": [
                    _(
                        "No enterprise in your jurisdiction has these ids: %(ids)s.",
                        ids=", ".join(map(str, missing[:20])),
                    )
                ]
            }
        )
    result = services.add_members(cohort, enterprises, relation, by=current_user)
    db.session.commit()
    return jsonify(
        {
            "added": [m.enterprise_id for m in result.added],
            "already_members": result.already,
            "lead_refused": result.lead_refused,
        }
    )


@bp.delete("/cohorts/<int:cohort_id>/members/<int:enterprise_id>")
@permission_required(Permission.EDIT)
def remove_member(cohort_id: int, enterprise_id: int):
    cohort = _cohort_or_404(cohort_id)
    member = services.member_of(cohort, enterprise_id)
    if member is None or not scope_of().contains(member.enterprise):
        raise ApiError(404, _("This enterprise is not a member of the cohort."))
    services.remove_member(cohort, member, by=current_user)
    payload = serialize_cohort_detail(cohort)
    db.session.commit()
    return jsonify(payload)
