"""Standard versions and assessments. They flush; the caller commits.

Every change to an assessment ends in ``refresh``: the pass rule is evaluated once (``rules.evaluate``), its
outcome, total and bonus are stored on the assessment, and the enterprise's readiness is set again from its
latest non-draft assessment. Deleting an assessment does the same for the enterprise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from crm.core.files import DOCUMENTS, StoredFile, delete_stored, save_upload
from crm.core.jobs import enqueue
from crm.core.models import utcnow
from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise, TargetTier
from crm.extensions import db
from crm.standards.models import (
    Assessment,
    AssessmentKind,
    AssessmentResult,
    Judgement,
    StandardItem,
    StandardVersion,
)
from crm.standards.rules import Entry, Evaluation, compute_financials, evaluate

ATTACHMENT_OWNER = "assessment_result"
#: Attachments of a judgement: PDF, images and Office files up to this size.
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024


class AssessmentError(ValueError):
    """A change that cannot be made; the message is shown to the user."""


# --- versions ---------------------------------------------------------------------------------------------


def current_version(tier: TargetTier | str, on: date | None = None) -> StandardVersion | None:
    """The standard version in force for a tier on a date: the latest effective one."""
    on = on or local_today()
    return db.session.scalars(
        select(StandardVersion)
        .where(StandardVersion.tier == TargetTier(tier))
        .where((StandardVersion.effective_on.is_(None)) | (StandardVersion.effective_on <= on))
        .order_by(StandardVersion.effective_on.desc().nulls_last(), StandardVersion.id.desc())
    ).first()


def version_by_code(code: str) -> StandardVersion | None:
    return db.session.scalars(select(StandardVersion).where(StandardVersion.code == code)).first()


def set_verified(version: StandardVersion, verified: bool, *, by: Any = None) -> None:
    """Mark a version as checked (or no longer checked) against the official text."""
    version.is_verified = verified
    version.verified_at = utcnow() if verified else None
    version.verified_by_id = getattr(by, "id", None) if verified else None
    db.session.flush()


def update_rules(version: StandardVersion, rules: Mapping[str, Any]) -> None:
    """Replace a version's pass-rule settings (validated like an import) and re-evaluate its assessments."""
    from crm.standards.catalog import CatalogError, _validate_rules

    errors: list[str] = []
    codes = {c.code for c in version.categories}
    computed = {i.computed_from: i.number for i in version.items if i.computed_from}
    clean = _validate_rules(dict(rules), codes, computed, errors)
    if errors:
        raise CatalogError(errors)
    version.rules = clean
    db.session.flush()
    enqueue_reevaluation(version)


def enqueue_reevaluation(version: StandardVersion) -> None:
    """Evaluate the version's assessments again once the current transaction commits."""
    enqueue("standards.reevaluate_version", version.id)


def reevaluate_version(version_id: int, batch: int = 500) -> int:
    """Evaluate every assessment made under a version again (after its rules changed); returns how many."""
    done = 0
    last_id = 0
    while True:
        assessments = db.session.scalars(
            select(Assessment)
            .where(Assessment.version_id == version_id, Assessment.id > last_id)
            .order_by(Assessment.id)
            .limit(batch)
            .options(selectinload(Assessment.results).selectinload(AssessmentResult.item))
        ).all()
        if not assessments:
            return done
        for assessment in assessments:
            refresh(assessment)
            last_id = assessment.id
            done += 1


# --- assessments ------------------------------------------------------------------------------------------


def item_applies(item: StandardItem, enterprise: Enterprise) -> bool:
    """An item applies to every enterprise unless it names business types; an enterprise whose business types
    are unknown is assessed on every item."""
    if not item.business_types or not enterprise.business_types:
        return True
    wanted = {t.id for t in item.business_types}
    return any(t.id in wanted for t in enterprise.business_types)


def applicable_items(version: StandardVersion, enterprise: Enterprise) -> list[StandardItem]:
    items = db.session.scalars(
        select(StandardItem)
        .where(StandardItem.version_id == version.id)
        .order_by(StandardItem.number)
        .options(selectinload(StandardItem.business_types))
    ).all()
    return [item for item in items if item_applies(item, enterprise)]


def create_assessment(
    enterprise: Enterprise,
    *,
    version: StandardVersion,
    kind: AssessmentKind | str,
    assessed_on: date | None = None,
    by: Any = None,
    is_draft: bool = True,
    note: str = "",
) -> Assessment:
    """Start an assessment with a 待评估 row for each item that applies to the enterprise."""
    assessment = Assessment(
        enterprise_id=enterprise.id,
        version_id=version.id,
        kind=AssessmentKind(kind),
        assessed_on=assessed_on or local_today(),
        is_draft=is_draft,
        assessor_id=getattr(by, "id", None),
        note=note,
    )
    db.session.add(assessment)
    db.session.flush()
    for item in applicable_items(version, enterprise):
        db.session.add(AssessmentResult(assessment=assessment, item=item, judgement=Judgement.PENDING))
    db.session.flush()
    refresh(assessment)
    return assessment


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
    return create_assessment(enterprise, version=version, kind=AssessmentKind.OFFICER, by=by, is_draft=True)


def _record(result: AssessmentResult, judgement: Judgement, evidence: str | None, by: Any) -> bool:
    """Change one result; returns whether anything changed."""
    judgement = Judgement(judgement)
    changed = result.judgement != judgement or (evidence is not None and evidence != result.evidence)
    if not changed and result.id is not None:
        return False
    result.judgement = judgement
    if evidence is not None:
        result.evidence = evidence
    result.judged_by_id = getattr(by, "id", None)
    result.judged_at = utcnow()
    return True


def set_judgement(
    assessment: Assessment, item: StandardItem, judgement: Judgement, *, evidence: str = "", by: Any = None
) -> AssessmentResult:
    """Record (or change) the judgement of one item in an assessment (an empty evidence keeps the old note)."""
    if item.version_id != assessment.version_id:
        raise ValueError("the item belongs to another version of the standard")
    if item.is_bonus and Judgement(judgement) is Judgement.BASIC:
        raise AssessmentError(_("A bonus item is either met or not: it cannot be judged 基本达标."))
    result = db.session.scalars(
        select(AssessmentResult).where(
            AssessmentResult.assessment_id == assessment.id, AssessmentResult.item_id == item.id
        )
    ).first()
    if result is None:
        result = AssessmentResult(assessment=assessment, item=item)
        db.session.add(result)
    _record(result, judgement, evidence or None, by)
    db.session.flush()
    refresh(assessment)
    return result


def record_judgements(
    assessment: Assessment,
    changes: Mapping[int, tuple[Judgement, str | None]],
    *,
    by: Any = None,
) -> int:
    """Record many judgements at once, keyed by item number: {number: (judgement, evidence or None)}.

    Unknown numbers and 基本达标 on a bonus item raise AssessmentError before anything changes.
    Returns how many results changed.
    """
    items = {
        i.number: i
        for i in db.session.scalars(select(StandardItem).where(StandardItem.version_id == assessment.version_id))
    }
    errors = []
    for number, (judgement, _evidence) in changes.items():
        item = items.get(number)
        if item is None:
            errors.append(_("The standard has no item %(n)s.", n=number))
        elif item.is_bonus and Judgement(judgement) is Judgement.BASIC:
            errors.append(_("Item %(n)s is a bonus item: it is either met or not.", n=number))
    if errors:
        raise AssessmentError(" ".join(errors))
    results = {r.item_id: r for r in assessment.results}
    changed = 0
    for number, (judgement, evidence) in changes.items():
        item = items[number]
        result = results.get(item.id)
        if result is None:
            result = AssessmentResult(assessment=assessment, item=item)
            db.session.add(result)
            results[item.id] = result
        changed += _record(result, judgement, evidence, by)
    db.session.flush()
    refresh(assessment)
    return changed


@dataclass(frozen=True)
class ItemShape:
    """What the pass rule needs of a standard item: number, category code, bonus flag, the business types it names."""

    id: int
    number: int
    category: str
    is_bonus: bool
    business_type_ids: frozenset[int]


def version_layout(version_id: int) -> list[ItemShape]:
    """A standard version's items in number order, kept per process (``crm.reference.cache``)."""
    from crm.reference.cache import cached
    from crm.standards.models import StandardCategory

    def load() -> list[ItemShape]:
        categories = dict(
            db.session.execute(
                select(StandardCategory.id, StandardCategory.code).where(StandardCategory.version_id == version_id)
            ).all()
        )
        items = db.session.scalars(
            select(StandardItem)
            .where(StandardItem.version_id == version_id)
            .order_by(StandardItem.number)
            .options(selectinload(StandardItem.business_types), selectinload(StandardItem.clause))
        ).all()
        return [
            ItemShape(
                item.id,
                item.number,
                categories.get(item.clause.category_id, ""),
                item.is_bonus,
                frozenset(t.id for t in item.business_types),
            )
            for item in items
        ]

    return cached(("standards", "layout", version_id), load)


def entries_for(assessment: Assessment) -> list[Entry]:
    """The judged (or still pending) applicable items of an assessment, as the pass rule sees them."""
    by_item = dict(
        db.session.execute(
            select(AssessmentResult.item_id, AssessmentResult.judgement).where(
                AssessmentResult.assessment_id == assessment.id
            )
        ).all()
    )
    enterprise = db.session.get(Enterprise, assessment.enterprise_id)
    types = {t.id for t in enterprise.business_types}
    layout = version_layout(assessment.version_id)
    entries = []
    for item in layout:  # item_applies(), on the shape
        if not item.business_type_ids or not types or item.business_type_ids & types:
            judgement = by_item.pop(item.id, Judgement.PENDING)
            entries.append(Entry(item.number, item.category, judgement, item.is_bonus))
    shapes = {item.id: item for item in layout}
    for item_id, judgement in by_item.items():  # judged although the enterprise's business types no longer name it
        item = shapes.get(item_id)
        if item is None:  # an item of another version: read it as before
            row = db.session.get(StandardItem, item_id)
            categories = {c.id: c.code for c in row.version.categories}
            item = ItemShape(row.id, row.number, categories.get(row.clause.category_id, ""), row.is_bonus, frozenset())
        entries.append(Entry(item.number, item.category, judgement, item.is_bonus))
    return entries


def evaluate_assessment(assessment: Assessment) -> Evaluation:
    return evaluate(assessment.version.rules, entries_for(assessment))


def refresh(assessment: Assessment) -> Evaluation:
    """Evaluate the pass rule, store its outcome, total and bonus, and keep the enterprise's readiness in step."""
    evaluation = evaluate_assessment(assessment)
    assessment.outcome = evaluation.outcome
    assessment.total = evaluation.total
    assessment.bonus = evaluation.bonus
    db.session.flush()
    sync_readiness(assessment.enterprise_id)
    return evaluation


def update_assessment(
    assessment: Assessment,
    *,
    assessed_on: date | None = None,
    kind: AssessmentKind | str | None = None,
    note: str | None = None,
    is_draft: bool | None = None,
) -> None:
    if assessed_on is not None:
        assessment.assessed_on = assessed_on
    if kind is not None:
        assessment.kind = AssessmentKind(kind)
    if note is not None:
        assessment.note = note
    if is_draft is not None:
        assessment.is_draft = is_draft
    db.session.flush()
    refresh(assessment)


def latest_assessment(
    enterprise_id: int, *, kind: AssessmentKind | str | None = None, include_drafts: bool = False
) -> Assessment | None:
    """The enterprise's latest assessment by date (then by id): non-draft unless asked, of any kind unless given."""
    stmt = select(Assessment).where(Assessment.enterprise_id == enterprise_id)
    if not include_drafts:
        stmt = stmt.where(Assessment.is_draft.is_(False))
    if kind is not None:
        stmt = stmt.where(Assessment.kind == AssessmentKind(kind))
    return db.session.scalars(stmt.order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)).first()


def sync_readiness(enterprise_id: int) -> None:
    """Set the enterprise's readiness to the outcome and total of its latest non-draft assessment (any kind)."""
    enterprise = db.session.get(Enterprise, enterprise_id)
    if enterprise is None:
        return
    latest = latest_assessment(enterprise_id)
    outcome = latest.outcome.value if latest is not None and latest.outcome is not None else None
    total = latest.total if latest is not None else None
    if enterprise.readiness_outcome != outcome or enterprise.readiness_total != total:
        enterprise.readiness_outcome = outcome
        enterprise.readiness_total = total
        db.session.flush()


def reassess_latest(enterprise_id: int) -> None:
    """Evaluate the latest assessment again after the enterprise's business types changed: which items apply
    depends on them, so its stored outcome, the readiness badge and the gaps on the enterprise page stay in step."""
    latest = latest_assessment(enterprise_id)
    if latest is not None:
        refresh(latest)


def delete_assessment(assessment: Assessment) -> None:
    """Delete an assessment, its results and their attachments; the enterprise's readiness follows."""
    enterprise_id = assessment.enterprise_id
    for stored in attachments_of(assessment):
        delete_stored(stored)
    db.session.delete(assessment)
    db.session.flush()
    sync_readiness(enterprise_id)


# --- financial items --------------------------------------------------------------------------------------


def save_financials(
    assessment: Assessment, financials: Mapping[str, Any], *, apply: bool = False, by: Any = None
) -> dict[str, Any]:
    """Keep the entered statement figures; with ``apply``, judge the computed items (12-14) from them.

    Returns the computed judgements keyed by ``computed_from``.
    """
    assessment.financials = {
        "is_production": bool(financials.get("is_production")),
        "audit_opinion": financials.get("audit_opinion") or None,
        "year": financials.get("year"),
        "lines": {k: (None if v is None else str(v)) for k, v in (financials.get("lines") or {}).items()},
    }
    computed = compute_financials(assessment.version.rules, assessment.financials)
    if apply:
        items = db.session.scalars(
            select(StandardItem).where(
                StandardItem.version_id == assessment.version_id, StandardItem.computed_from.isnot(None)
            )
        ).all()
        changes = {}
        for item in items:
            result = computed.get(item.computed_from)
            if result is None or result.judgement is Judgement.PENDING:
                continue
            changes[item.number] = (result.judgement, financial_evidence(result))
        if changes:
            record_judgements(assessment, changes, by=by)
    db.session.flush()
    return computed


def financial_evidence(result: Any) -> str:
    """A one-paragraph note of how a computed judgement was reached, kept as the item's evidence."""
    if result.group == "audit_opinion":
        return _("Computed from the audit opinion entered with the financial figures.")
    parts = []
    for ratio in result.ratios:
        value = (
            "—" if ratio.value is None else (f"{ratio.value * 100:.2f}%" if ratio.is_percent else f"{ratio.value:.2f}")
        )
        threshold = f"{ratio.threshold * 100:g}%" if ratio.is_percent else f"{ratio.threshold:g}"
        parts.append(f"{ratio.code} {value} {ratio.op} {threshold}: {'✓' if ratio.met else '✗'}")
    return _("Computed from the financial figures: %(met)s ratios met.", met=result.met) + " " + "; ".join(parts)


# --- comparison -------------------------------------------------------------------------------------------

_RANK = {Judgement.PASS: 2, Judgement.BASIC: 1, Judgement.FAIL: 0}


@dataclass(frozen=True)
class ComparedItem:
    number: int
    title: str
    before: Judgement | None
    after: Judgement | None
    #: "improved", "regressed", "changed" (to or from 不适用 / 待评估, or missing) or "same".
    change: str


@dataclass
class Comparison:
    earlier: Assessment
    later: Assessment
    items: list[ComparedItem]

    @property
    def improved(self) -> list[ComparedItem]:
        return [i for i in self.items if i.change == "improved"]

    @property
    def regressed(self) -> list[ComparedItem]:
        return [i for i in self.items if i.change == "regressed"]

    @property
    def changed(self) -> list[ComparedItem]:
        return [i for i in self.items if i.change == "changed"]

    @property
    def total_change(self) -> int | None:
        if self.earlier.total is None or self.later.total is None:
            return None
        return self.later.total - self.earlier.total


def compare_assessments(first: Assessment, second: Assessment) -> Comparison:
    """Compare two assessments item by item (matched by item number), the earlier one first."""
    earlier, later = sorted((first, second), key=lambda a: (a.assessed_on, a.id))
    results = db.session.scalars(
        select(AssessmentResult)
        .where(AssessmentResult.assessment_id.in_([earlier.id, later.id]))
        .options(selectinload(AssessmentResult.item))
    ).all()
    before = {r.item.number: r for r in results if r.assessment_id == earlier.id}
    after = {r.item.number: r for r in results if r.assessment_id == later.id}
    items = []
    for number in sorted(set(before) | set(after)):
        b, a = before.get(number), after.get(number)
        bj, aj = (b.judgement if b else None), (a.judgement if a else None)
        if bj == aj:
            change = "same"
        elif bj in _RANK and aj in _RANK:
            change = "improved" if _RANK[aj] > _RANK[bj] else "regressed"
        else:
            change = "changed"
        title = (a or b).item.display_title
        items.append(ComparedItem(number, title, bj, aj, change))
    return Comparison(earlier, later, items)


# --- attachments ------------------------------------------------------------------------------------------


def add_attachment(result: AssessmentResult, upload: FileStorage, *, by: Any = None) -> StoredFile:
    """Store a PDF, image or Office file as evidence of a judgement (raises UploadError when refused)."""
    return save_upload(
        upload,
        owner_type=ATTACHMENT_OWNER,
        owner_id=result.id,
        enterprise_id=result.assessment.enterprise_id,
        allowed=DOCUMENTS,
        max_bytes=ATTACHMENT_MAX_BYTES,
        uploaded_by=by,
    )


def attachments_of(assessment: Assessment, item_ids: Iterable[int] | None = None) -> list[StoredFile]:
    result_ids = select(AssessmentResult.id).where(AssessmentResult.assessment_id == assessment.id)
    if item_ids is not None:
        result_ids = result_ids.where(AssessmentResult.item_id.in_(list(item_ids)))
    return list(
        db.session.scalars(
            select(StoredFile)
            .where(StoredFile.owner_type == ATTACHMENT_OWNER, StoredFile.owner_id.in_(result_ids))
            .order_by(StoredFile.id)
        )
    )


def remove_attachment(stored: StoredFile) -> None:
    delete_stored(stored)
