"""Standard versions and assessments. They flush; the caller commits."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise, TargetTier
from crm.extensions import db
from crm.standards.models import Assessment, AssessmentKind, AssessmentResult, Judgement, StandardItem, StandardVersion


def current_version(tier: TargetTier | str, on: date | None = None) -> StandardVersion | None:
    """The standard version in force for a tier on a date: the latest effective one."""
    on = on or local_today()
    return db.session.scalars(
        select(StandardVersion)
        .where(StandardVersion.tier == TargetTier(tier))
        .where((StandardVersion.effective_on.is_(None)) | (StandardVersion.effective_on <= on))
        .order_by(StandardVersion.effective_on.desc().nulls_last(), StandardVersion.id.desc())
    ).first()


def officer_draft(enterprise: Enterprise, *, by: Any = None) -> Assessment | None:
    """The enterprise's open officer pre-assessment draft, created under the current version when missing."""
    draft = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.enterprise_id == enterprise.id,
            Assessment.kind == AssessmentKind.OFFICER,
            Assessment.is_draft.is_(True),
        )
        .order_by(Assessment.id.desc())
    ).first()
    if draft is not None:
        return draft
    version = current_version(enterprise.target_tier)
    if version is None:
        return None
    draft = Assessment(
        enterprise_id=enterprise.id,
        version_id=version.id,
        kind=AssessmentKind.OFFICER,
        assessed_on=local_today(),
        is_draft=True,
        assessor_id=getattr(by, "id", None),
    )
    db.session.add(draft)
    db.session.flush()
    return draft


def set_judgement(
    assessment: Assessment, item: StandardItem, judgement: Judgement, *, evidence: str = "", by: Any = None
) -> AssessmentResult:
    """Record (or change) the judgement of one item in an assessment."""
    if item.version_id != assessment.version_id:
        raise ValueError("the item belongs to another version of the standard")
    result = db.session.scalars(
        select(AssessmentResult).where(
            AssessmentResult.assessment_id == assessment.id, AssessmentResult.item_id == item.id
        )
    ).first()
    if result is None:
        result = AssessmentResult(assessment=assessment, item=item)
        db.session.add(result)
    result.judgement = judgement
    if evidence:
        result.evidence = evidence
    result.judged_by_id = getattr(by, "id", None)
    db.session.flush()
    return result
