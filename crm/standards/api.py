"""Standards API: ``/api/v1/standards`` and the assessments of an enterprise."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import as_id, is_choice, json_body, paginated_response, parse_date, query_choice
from crm.core.models import json_value
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.timeutil import local_today
from crm.extensions import db
from crm.standards import queries, services
from crm.standards.models import (
    Assessment,
    AssessmentKind,
    AssessmentResult,
    Judgement,
    StandardClause,
    StandardItem,
    StandardVersion,
)

bp = Blueprint("standards_api", __name__)


def serialize_version(version: StandardVersion, item_count: int | None = None) -> dict[str, Any]:
    return {
        "code": version.code,
        "title": version.title,
        "instrument": version.instrument,
        "effective_on": json_value(version.effective_on),
        "tier": json_value(version.tier),
        "verified": version.is_verified,
        "rules": version.rules,
        "categories": [
            {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "bonus": c.is_bonus}
            for c in version.categories
        ],
        "items": item_count,
    }


def serialize_item(item: StandardItem) -> dict[str, Any]:
    return {
        "number": item.number,
        "title_zh": item.title_zh,
        "title_en": item.title_en,
        "guidance": item.guidance,
        "category": item.clause.category.code,
        "clause": item.clause.number,
        "clause_title_zh": item.clause.title_zh,
        "bonus": item.is_bonus,
        "computed_from": item.computed_from,
        "business_types": [t.code for t in item.business_types],
    }


def serialize_assessment(assessment: Assessment, evaluation=None) -> dict[str, Any]:
    evaluation = evaluation or services.evaluate_assessment(assessment)
    results = db.session.scalars(
        select(AssessmentResult)
        .where(AssessmentResult.assessment_id == assessment.id)
        .options(selectinload(AssessmentResult.item), selectinload(AssessmentResult.judged_by))
    ).all()
    return {
        "id": assessment.id,
        "enterprise_id": assessment.enterprise_id,
        "standard": assessment.version.code,
        "kind": json_value(assessment.kind),
        "assessed_on": json_value(assessment.assessed_on),
        "draft": assessment.is_draft,
        "assessor": assessment.assessor.username if assessment.assessor else None,
        "total": evaluation.total,
        "bonus": evaluation.bonus,
        "outcome": json_value(evaluation.outcome),
        "failing": evaluation.failing,
        "pending": evaluation.pending,
        "note": assessment.note,
        "results": [
            {
                "item": r.item.number,
                "result": json_value(r.judgement),
                "note": r.evidence,
                "judged_by": r.judged_by.username if r.judged_by else None,
            }
            for r in sorted(results, key=lambda r: r.item.number)
        ],
        "created_at": json_value(assessment.created_at),
    }


@bp.get("/standards")
def list_standards():
    versions = db.session.scalars(queries.versions().options(selectinload(StandardVersion.categories))).all()
    counts = queries.item_counts([v.id for v in versions])
    return jsonify({"items": [serialize_version(v, counts.get(v.id, 0)) for v in versions], "total": len(versions)})


@bp.get("/standards/<code>/items")
def list_items(code: str):
    version = services.version_by_code(code)
    if version is None:
        raise ApiError(404, _("No standard version has the code %(code)s.", code=code))
    stmt = queries.version_items(version).options(
        selectinload(StandardItem.clause).selectinload(StandardClause.category)
    )
    return paginated_response(stmt, serialize_item)


@bp.get("/enterprises/<int:enterprise_id>/assessments")
def list_assessments(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)

    def summary(a: Assessment) -> dict[str, Any]:
        return {
            "id": a.id,
            "standard": a.version.code,
            "kind": json_value(a.kind),
            "assessed_on": json_value(a.assessed_on),
            "draft": a.is_draft,
            "total": a.total,
            "bonus": a.bonus,
            "outcome": json_value(a.outcome),
        }

    return paginated_response(queries.enterprise_assessments(enterprise.id), summary)


@bp.get("/enterprises/<int:enterprise_id>/assessments/latest")
def latest(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    errors: dict[str, list[str]] = {}
    kind = query_choice("kind", [k.value for k in AssessmentKind], errors)
    if errors:
        raise validation_error(errors)
    assessment = services.latest_assessment(enterprise.id, kind=kind)
    if assessment is None:
        raise ApiError(404, _("The enterprise has no finished assessment."), code="no_assessment")
    return jsonify(serialize_assessment(assessment))


@bp.post("/enterprises/<int:enterprise_id>/assessments")
@permission_required(Permission.EDIT)
def create(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    body = json_body()
    errors: dict[str, list[str]] = {}

    code = body.get("standard")
    version = services.version_by_code(code) if isinstance(code, str) else None
    if version is None:
        errors["standard"] = [_("No standard version has this code.")]
    kind = body.get("kind")
    if not is_choice(kind, [k.value for k in AssessmentKind]):
        errors["kind"] = [_("Use self or officer.")]
    assessed_on = parse_date(body.get("assessed_on"), "assessed_on", errors) or None
    if "assessed_on" not in errors:
        if assessed_on is None:
            errors["assessed_on"] = [_("The assessment date is required.")]
        elif assessed_on > local_today():
            errors["assessed_on"] = [_("The assessment date cannot be in the future.")]
    draft = body.get("draft", False)
    if not isinstance(draft, bool):
        errors["draft"] = [_("Use true or false.")]
    note = body.get("note", "")
    if not isinstance(note, str):
        errors["note"] = [_("Use a string.")]

    results = body.get("results", [])
    changes: dict[int, tuple[Judgement, str]] = {}
    if not isinstance(results, list):
        errors["results"] = [_("Send a list of results.")]
        results = []
    items: dict[int, StandardItem] = {}
    applicable: set[int] = set()
    if version is not None:
        items = {
            i.number: i for i in db.session.scalars(select(StandardItem).where(StandardItem.version_id == version.id))
        }
        applicable = {i.number for i in services.applicable_items(version, enterprise)}
    valid = {j.value for j in Judgement}
    for index, entry in enumerate(results):
        field = f"results[{index}]"
        if not isinstance(entry, dict):
            errors.setdefault(field, []).append(_("Each result is an object with item, result and note."))
            continue
        number = as_id(entry.get("item"))
        if number is None:
            errors.setdefault(field, []).append(_("item must be the item number."))
            continue
        if version is not None and number not in items:
            errors.setdefault(field, []).append(_("The standard has no item %(n)s.", n=number))
            continue
        if number in changes:
            errors.setdefault(field, []).append(_("Item %(n)s is given twice.", n=number))
            continue
        value = entry.get("result")
        if not is_choice(value, valid):
            errors.setdefault(field, []).append(_("result must be one of pass, basic, fail, na, pending."))
            continue
        if version is not None and items[number].is_bonus and value == Judgement.BASIC.value:
            errors.setdefault(field, []).append(_("Item %(n)s is a bonus item: it is either met or not.", n=number))
            continue
        if version is not None and number not in applicable and value != Judgement.NOT_APPLICABLE.value:
            errors.setdefault(field, []).append(
                _("Item %(n)s does not apply to the enterprise's business types.", n=number)
            )
            continue
        entry_note = entry.get("note", "")
        if entry_note is None:
            entry_note = ""
        if not isinstance(entry_note, str) or len(entry_note) > 4000:
            errors.setdefault(field, []).append(_("note must be a string of at most 4000 characters."))
            continue
        changes[number] = (Judgement(value), entry_note.strip())
    if errors:
        raise validation_error(errors)

    assessment = services.create_assessment(
        enterprise, version=version, kind=kind, assessed_on=assessed_on, by=current_user, is_draft=True, note=note
    )
    if changes:
        services.record_judgements(assessment, changes, by=current_user)
    services.update_assessment(assessment, is_draft=draft)
    evaluation = services.evaluate_assessment(assessment)
    payload = serialize_assessment(assessment, evaluation)
    db.session.commit()
    response = jsonify(payload)
    response.status_code = 201
    return response
