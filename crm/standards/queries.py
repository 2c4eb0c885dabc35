"""Read side of standards and assessments: lists within the caller's scope, the enterprise-page section, and
the assessment entries of the enterprise timeline."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.core.files import StoredFile
from crm.core.permissions import Permission, has_permission
from crm.core.scope import scoped_by_enterprise
from crm.core.timeline import SECTION_TIMELINE_ROWS, TimelineEntry, newest_loaded
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.standards.models import (
    Assessment,
    AssessmentKind,
    AssessmentOutcome,
    AssessmentResult,
    Judgement,
    StandardCategory,
    StandardItem,
    StandardVersion,
)
from crm.standards.services import ATTACHMENT_OWNER, evaluate_assessment


def versions() -> Select:
    return select(StandardVersion).order_by(StandardVersion.effective_on.desc().nulls_last(), StandardVersion.code)


def version_items(version: StandardVersion) -> Select:
    return (
        select(StandardItem)
        .where(StandardItem.version_id == version.id)
        .order_by(StandardItem.number)
        .options(selectinload(StandardItem.clause), selectinload(StandardItem.business_types))
    )


def item_counts(version_ids: list[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = db.session.execute(
        select(StandardItem.version_id, func.count(StandardItem.id))
        .where(StandardItem.version_id.in_(version_ids))
        .group_by(StandardItem.version_id)
    )
    return dict(rows.all())


def enterprise_assessments(enterprise_id: int, user: Any = None) -> Select:
    """An enterprise's assessments, newest first, within the caller's scope."""
    stmt = (
        select(Assessment)
        .where(Assessment.enterprise_id == enterprise_id)
        .options(selectinload(Assessment.version), selectinload(Assessment.assessor))
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
    )
    return scoped_by_enterprise(stmt, Assessment.enterprise_id, user)


def scoped_assessment(assessment_id: int, user: Any = None) -> Assessment | None:
    stmt = scoped_by_enterprise(
        select(Assessment).where(Assessment.id == assessment_id), Assessment.enterprise_id, user
    )
    return db.session.scalars(stmt).first()


def default_comparison(assessment: Assessment) -> Assessment | None:
    """What an assessment is compared with when no other is chosen: the enterprise's assessment just before it,
    else the one just after."""
    others = select(Assessment).where(
        Assessment.enterprise_id == assessment.enterprise_id, Assessment.id != assessment.id
    )
    before = or_(
        Assessment.assessed_on < assessment.assessed_on,
        and_(Assessment.assessed_on == assessment.assessed_on, Assessment.id < assessment.id),
    )
    earlier = others.where(before).order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)
    later = others.where(~before).order_by(Assessment.assessed_on, Assessment.id).limit(1)
    return db.session.scalars(earlier).first() or db.session.scalars(later).first()


def results_by_category(assessment: Assessment) -> list[tuple[StandardCategory, list[AssessmentResult]]]:
    """The assessment's results grouped by category, in the standard's order (one query for all rows)."""
    results = db.session.scalars(
        select(AssessmentResult)
        .where(AssessmentResult.assessment_id == assessment.id)
        .options(
            selectinload(AssessmentResult.item).selectinload(StandardItem.clause),
            selectinload(AssessmentResult.judged_by),
        )
    ).all()
    groups: dict[int, list[AssessmentResult]] = defaultdict(list)
    for result in sorted(results, key=lambda r: r.item.number):
        groups[result.item.clause.category_id].append(result)
    return [(category, groups[category.id]) for category in assessment.version.categories if groups.get(category.id)]


def attachment_counts(assessment: Assessment) -> dict[int, int]:
    """Number of attachments per result id."""
    rows = db.session.execute(
        select(StoredFile.owner_id, func.count(StoredFile.id))
        .where(
            StoredFile.owner_type == ATTACHMENT_OWNER,
            StoredFile.owner_id.in_(select(AssessmentResult.id).where(AssessmentResult.assessment_id == assessment.id)),
        )
        .group_by(StoredFile.owner_id)
    )
    return dict(rows.all())


def readiness(enterprise: Enterprise) -> dict[str, Any]:
    """The enterprise's readiness as shown on lists and cards: outcome, total and a label."""
    outcome = AssessmentOutcome(enterprise.readiness_outcome) if enterprise.readiness_outcome else None
    return {"outcome": outcome, "total": enterprise.readiness_total, "label": outcome.label if outcome else None}


#: How many of the enterprise's latest assessments its page lists.
RECENT_SHOWN = 5


@cache
def _section_statement() -> Select:
    """The section's one query, built once per process (the enterprise id is bound when it runs)."""
    newest = (Assessment.assessed_on.desc(), Assessment.id.desc())
    finished_first = case((Assessment.is_draft.is_(False), 0), else_=1)
    ranked = (
        select(
            Assessment.id.label("id"),
            func.row_number().over(order_by=newest).label("position"),
            func.row_number().over(partition_by=finished_first, order_by=newest).label("finished_position"),
            func.row_number()
            .over(partition_by=(finished_first, Assessment.kind), order_by=newest)
            .label("kind_position"),
            func.row_number()
            .over(partition_by=finished_first, order_by=(Assessment.created_at.desc(), Assessment.id.desc()))
            .label("recorded_position"),
            func.count().over().label("total"),
            func.count().over(partition_by=finished_first).label("finished_total"),
        )
        .where(Assessment.enterprise_id == bindparam("enterprise_id"))
        .subquery()
    )
    return (
        select(
            Assessment,
            ranked.c.position,
            ranked.c.finished_position,
            ranked.c.kind_position,
            ranked.c.recorded_position,
            ranked.c.total,
            ranked.c.finished_total,
        )
        .join(ranked, ranked.c.id == Assessment.id)
        .options(joinedload(Assessment.version))
        .where(
            or_(
                ranked.c.position <= RECENT_SHOWN,
                # the newest finished ones by recording time: the page's timeline entries
                and_(Assessment.is_draft.is_(False), ranked.c.recorded_position <= SECTION_TIMELINE_ROWS),
                and_(Assessment.is_draft.is_(False), ranked.c.finished_position == 1),
                and_(
                    Assessment.is_draft.is_(False),
                    Assessment.kind == AssessmentKind.OFFICER,
                    ranked.c.kind_position == 1,
                ),
            )
        )
        .order_by(ranked.c.position)
    )


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise has assessments."""
    return select(Assessment.id).where(Assessment.enterprise_id == Enterprise.id).exists()


def enterprise_section_context(enterprise: Enterprise, *, has_records: bool = True) -> dict[str, Any]:
    """What ``templates/standards/_enterprise_section.html`` needs, under the one key ``standards_section``.

    One query: the latest assessments, the latest finished one and the latest finished officer pre-assessment,
    with the enterprise's count (window functions). The gaps are re-evaluated only when the stored outcome of
    the latest assessment is a failure (``refresh`` keeps outcome and total in step with the judgements, and the
    rule breaks a condition exactly when the outcome is ``fail``). The caller has already checked the scope.
    ``has_records=False``: the caller knows the enterprise has no assessment (no query).
    """
    rows = db.session.execute(_section_statement(), {"enterprise_id": enterprise.id}).all() if has_records else []
    recent = [row[0] for row in rows if row.position <= RECENT_SHOWN]
    latest = next((row[0] for row in rows if not row[0].is_draft and row.finished_position == 1), None)
    latest_officer = next(
        (
            row[0]
            for row in rows
            if not row[0].is_draft and row[0].kind == AssessmentKind.OFFICER and row.kind_position == 1
        ),
        None,
    )
    evaluation = (
        evaluate_assessment(latest) if latest is not None and latest.outcome == AssessmentOutcome.FAIL else None
    )
    finished = sorted((row for row in rows if not row[0].is_draft), key=lambda row: row.recorded_position)
    return {
        "standards_section": {
            "enterprise": enterprise,
            "readiness": readiness(enterprise),
            "latest": latest,
            "latest_officer": latest_officer,
            "evaluation": evaluation,
            "recent": recent,
            "count": rows[0].total if rows else 0,
            "can_edit": has_permission(current_user, Permission.EDIT),
            "list_url": url_for("standards.enterprise_assessments", enterprise_id=enterprise.id),
            "new_url": url_for("standards.new_assessment", enterprise_id=enterprise.id),
            # The newest finished assessments by recording time (at most SECTION_TIMELINE_ROWS) and their count.
            "timeline_rows": [row[0] for row in finished if row.recorded_position <= SECTION_TIMELINE_ROWS],
            "finished_count": finished[0].finished_total if finished else 0,
        }
    }


def timeline_answer(enterprise: Enterprise, context: dict[str, Any], wanted: int) -> list[TimelineEntry] | None:
    """The assessment entries of the enterprise's timeline, from the section's context (``DetailSection``)."""
    section = context["standards_section"]
    rows = newest_loaded(section["timeline_rows"], section["finished_count"], wanted)
    return None if rows is None else assessment_entries_of(rows)


def timeline_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """Finished assessments of an enterprise as timeline entries (newest first, recorded before ``before``)."""
    stmt = (
        select(Assessment)
        .where(Assessment.enterprise_id == enterprise_id, Assessment.is_draft.is_(False))
        .options(joinedload(Assessment.version))
        .order_by(Assessment.created_at.desc(), Assessment.id.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(Assessment.created_at < before)
    return assessment_entries_of(db.session.scalars(stmt).all())


def assessment_entries_of(assessments: list[Assessment]) -> list[TimelineEntry]:
    """Timeline entries of finished assessments already loaded (with their versions)."""
    from crm.reference.cache import user_names

    names = user_names()
    entries = []
    for assessment in assessments:
        outcome = assessment.outcome.label if assessment.outcome else "—"
        entries.append(
            TimelineEntry(
                at=assessment.created_at,
                kind="assessment",
                title=_(
                    "%(kind)s: %(outcome)s, %(total)s points",
                    kind=assessment.kind.label,
                    outcome=outcome,
                    total=assessment.total if assessment.total is not None else "—",
                ),
                body=_(
                    "Assessed on %(day)s under %(version)s.",
                    day=assessment.assessed_on.isoformat(),
                    version=assessment.version.title,
                ),
                author=names.get(assessment.assessor_id) if assessment.assessor_id else None,
                url=url_for("standards.assessment_detail", assessment_id=assessment.id),
                icon="clipboard-check",
            )
        )
    return entries


JUDGEMENT_BADGES = {
    Judgement.PASS: "text-bg-success",
    Judgement.BASIC: "text-bg-warning",
    Judgement.FAIL: "text-bg-danger",
    Judgement.NOT_APPLICABLE: "text-bg-light",
    Judgement.PENDING: "text-bg-secondary",
}
OUTCOME_BADGES = {
    AssessmentOutcome.PASS: "text-bg-success",
    AssessmentOutcome.FAIL: "text-bg-danger",
    AssessmentOutcome.INCOMPLETE: "text-bg-secondary",
}
