"""Pipeline operations: the one transition service every entry point uses, and the records that follow
certification. They flush; the caller commits.

Every move goes through ``transition`` (the form, the board, bulk moves through ``move_many``, the import and
the API). ``plan_transition`` evaluates the same guards without changing anything, so a screen can ask for
the inputs a move needs before trying it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.core.filters import format_date
from crm.core.models import json_value, utcnow
from crm.core.permissions import Permission, Role, has_permission
from crm.core.scope import build_scope, scoped_enterprises
from crm.core.timeutil import local_date, local_today
from crm.enterprises.models import CreditStatus, CreditStatusChange, Enterprise, TargetTier
from crm.extensions import db
from crm.pipeline import deadlines
from crm.pipeline.models import (
    BenefitRecord,
    Certification,
    CertificationOutcome,
    ComplianceYear,
    LockoutCause,
    Stage,
    StageChange,
    StageKind,
    TransitionReason,
)
from crm.reference.models import CustomsOffice, SupportMeasure
from crm.reference.services import load_yaml, upsert

CANDIDATE = "candidate"
POOLED = "pooled"
CULTIVATING = "cultivating"
READY = "ready"
APPLIED = "applied"
IN_CERTIFICATION = "in_certification"
CERTIFIED = "certified"
NOT_PASSED = "not_passed"
WITHDRAWN = "withdrawn"

FIRST_STAGE = CANDIDATE
#: Stages that need a reason from the admin-editable list.
REASON_STAGES = (WITHDRAWN, NOT_PASSED)
#: Stages from which a move to ``not_passed`` makes sense: a pending application, or a certificate at re-verification.
CAN_FAIL_FROM = (APPLIED, IN_CERTIFICATION, CERTIFIED)
#: Leaving these for ``withdrawn`` withdraws an application or gives up the status: a one-year lock-out.
LOCKOUT_ON_WITHDRAWAL_FROM = (APPLIED, IN_CERTIFICATION, CERTIFIED)
#: Where each application stage keeps its date.
DATE_OF_STAGE = {APPLIED: "applied_on", IN_CERTIFICATION: "accepted_on"}
#: The inputs a move may ask for, in the order a form shows them.
INPUT_FIELDS = (
    "applied_on",
    "accepted_on",
    "decided_on",
    "certificate_no",
    "tier",
    "reason",
    "comment",
    "override_reason",
)
#: Benefit records cover the notice's measures 4 to 24 (1-3 are cultivation itself).
BENEFIT_MEASURES = range(4, 25)
MAX_BULK = 500
CERTIFICATE_NO_MAX = 60

DATA_DIR = Path(__file__).resolve().parent / "data"


# --- reference data -----------------------------------------------------------------------------------


def seed_stages(update: bool = False) -> int:
    created = 0
    for entry in load_yaml(DATA_DIR / "stages.yaml"):
        values = {
            "name_zh": entry["name_zh"],
            "name_en": entry["name_en"],
            "sort_order": entry["sort_order"],
            "sla_days": entry.get("sla_days"),
            "kind": StageKind(entry["kind"]),
        }
        _row, new = upsert(Stage, entry["code"], values, update=update)
        created += new
    db.session.flush()
    return created


def seed_transition_reasons(update: bool = False) -> int:
    created = 0
    for order, entry in enumerate(load_yaml(DATA_DIR / "reasons.yaml"), start=1):
        values = {
            "name_zh": entry["name_zh"],
            "name_en": entry.get("name_en", ""),
            "sort_order": order * 10,
            "stage_code": entry["stage"],
        }
        _row, new = upsert(TransitionReason, entry["code"], values, update=update)
        created += new
    db.session.flush()
    return created


def ordered_stages() -> list[Stage]:
    return list(db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code)))


def reasons_for(stage_code: str, *, include_inactive: bool = False) -> list[TransitionReason]:
    stmt = select(TransitionReason).where(TransitionReason.stage_code == stage_code)
    if not include_inactive:
        stmt = stmt.where(TransitionReason.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(TransitionReason.sort_order, TransitionReason.code)))


def reorder_stage(stage: Stage, direction: int) -> None:
    """Swap a stage with its neighbour (``direction`` -1 up, +1 down) and renumber the order in tens."""
    stages = ordered_stages()
    index = next(i for i, s in enumerate(stages) if s.code == stage.code)
    other = index + direction
    if 0 <= other < len(stages):
        stages[index], stages[other] = stages[other], stages[index]
    for position, row in enumerate(stages, start=1):
        row.sort_order = position * 10
    db.session.flush()


# --- entry into the pipeline ---------------------------------------------------------------------------


def enter_first_stage(enterprise: Any, *, by: Any = None, comment: str = "") -> StageChange:
    """Put a new enterprise into the first stage and record that entry in its stage history."""
    now = utcnow()
    enterprise.stage = FIRST_STAGE
    enterprise.stage_entered_at = now
    change = StageChange(
        enterprise=enterprise,
        from_stage=None,
        to_stage=FIRST_STAGE,
        changed_at=now,
        changed_by_id=getattr(by, "id", None),
        comment=comment,
    )
    db.session.add(change)
    return change


# --- transitions ---------------------------------------------------------------------------------------


@dataclass
class TransitionRequest:
    """What a user asks for: the target stage and whatever the guards need."""

    to: str
    comment: str = ""
    override_reason: str = ""
    applied_on: date | None = None
    accepted_on: date | None = None
    decided_on: date | None = None
    certificate_no: str = ""
    tier: str | None = None
    #: The code of a ``TransitionReason`` of the target stage.
    reason: str | None = None

    def __post_init__(self) -> None:
        self.to = (self.to or "").strip()
        self.comment = (self.comment or "").strip()
        self.override_reason = (self.override_reason or "").strip()
        self.certificate_no = (self.certificate_no or "").strip()
        self.tier = (self.tier or "").strip() or None
        self.reason = (self.reason or "").strip() or None


class TransitionBlocked(Exception):  # noqa: N818 (mirrors the API error code "transition_blocked")
    """A move the guards refuse; ``failures`` maps each missing or failing condition to its messages."""

    def __init__(self, plan: TransitionPlan):
        self.plan = plan
        self.failures = plan.failures
        self.inputs = list(plan.inputs)
        self.needs_dialog = plan.needs_dialog
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return " ".join(message for messages in self.failures.values() for message in messages)


@dataclass
class TransitionPlan:
    """The outcome of checking a move: what it needs, what fails, and what it would record."""

    enterprise: Enterprise
    source: Stage | None
    target: Stage | None
    backward: bool = False
    failures: dict[str, list[str]] = field(default_factory=dict)
    #: The inputs this move asks for (given or not), in form order.
    inputs: list[str] = field(default_factory=list)
    #: Conditions that failed but that a manager's written override lifts.
    overridable: dict[str, str] = field(default_factory=dict)
    #: Conditions lifted by the override given with the request.
    overrides: list[str] = field(default_factory=list)
    #: The application stages whose date this move records (``applied``, ``in_certification``).
    dates_recorded: list[str] = field(default_factory=list)
    reason: TransitionReason | None = None
    tier: TargetTier | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, key: str, message: str) -> None:
        self.failures.setdefault(key, []).append(str(message))

    def ask(self, name: str) -> None:
        if name not in self.inputs:
            self.inputs.append(name)

    @property
    def needs_dialog(self) -> bool:
        """Whether asking the user for inputs could let the move through (the board's dialog)."""
        if self.ok:
            return False
        fixable = set(self.inputs)
        if "override_reason" in fixable:
            fixable |= set(self.overridable)
        return all(key in fixable for key in self.failures)


def can_override(user: Any) -> bool:
    """Overrides are a provincial manager's decision (administrators hold every permission too)."""
    return has_permission(user, Permission.OVERRIDE)


def latest_officer_assessment(enterprise_id: int):
    """The latest non-draft officer pre-assessment of an enterprise, or None (the standards' own rule)."""
    from crm.standards.models import AssessmentKind
    from crm.standards.services import latest_assessment

    return latest_assessment(enterprise_id, kind=AssessmentKind.OFFICER)


def previous_change_at(enterprise_id: int, at: datetime) -> datetime | None:
    """When the enterprise last changed stage up to ``at``: a new change's ``from_stage_entered_at`` (what a window
    ``lag(changed_at)`` over the history ordered by time and id gives the change recorded last)."""
    return db.session.scalar(
        select(func.max(StageChange.changed_at)).where(
            StageChange.enterprise_id == enterprise_id, StageChange.changed_at <= at
        )
    )


def entering_change(enterprise: Enterprise) -> StageChange | None:
    """The history row that brought the enterprise into its current stage."""
    return db.session.scalars(
        select(StageChange)
        .where(StageChange.enterprise_id == enterprise.id, StageChange.to_stage == enterprise.stage)
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
        .limit(1)
    ).first()


def certification_of(enterprise: Enterprise | int) -> Certification | None:
    enterprise_id = enterprise if isinstance(enterprise, int) else enterprise.id
    return db.session.get(Certification, enterprise_id)


def _certification_for_update(enterprise: Enterprise) -> Certification:
    cert = certification_of(enterprise)
    if cert is None:
        cert = Certification(enterprise_id=enterprise.id, extension_note="")
        db.session.add(cert)
    return cert


def plan_transition(
    enterprise: Enterprise,
    request: TransitionRequest,
    *,
    by: Any,
    today: date | None = None,
    stages: dict[str, Stage] | None = None,
) -> TransitionPlan:
    """Check a move against every guard of the pipeline without changing anything."""
    today = today or local_today()
    stages = stages if stages is not None else {s.code: s for s in ordered_stages()}
    source = stages.get(enterprise.stage)
    target = stages.get(request.to)
    plan = TransitionPlan(enterprise=enterprise, source=source, target=target)
    if target is None:
        plan.fail("to", _("There is no stage %(code)s.", code=request.to or "—"))
        return plan
    if source is None:  # a stage removed behind the data's back: let the move repair it
        source = target
    if target.code == source.code:
        plan.fail("to", _("The enterprise is already in this stage."))
        return plan

    if request.override_reason and not can_override(by):
        plan.fail("override_reason", _("Only a provincial manager may override a guard."))

    reopening = source.kind != StageKind.OPEN and target.kind == StageKind.OPEN
    plan.backward = target.sort_order < source.sort_order or reopening
    if plan.backward:
        plan.ask("comment")
        if not request.comment:
            plan.fail("comment", _("Moving an enterprise back needs a comment saying why."))

    cert = certification_of(enterprise)
    forward_into_progress = not plan.backward and target.kind != StageKind.LOST
    if forward_into_progress:
        path = [
            s
            for s in stages.values()
            if s.kind == StageKind.OPEN and source.sort_order <= s.sort_order < target.sort_order
        ]
        for stage in path:
            _check_exit(plan, stage, target, request, cert)
        if target.code == READY:
            _check_assessment(plan, source)
    if forward_into_progress or reopening:
        _check_application_dates(plan, source, target, request, cert, stages, today, reopening=reopening)

    if target.code == CERTIFIED:
        _check_certified(plan, request, cert, today)
    elif target.code == NOT_PASSED:
        if source.code not in CAN_FAIL_FROM:
            plan.fail(
                "to",
                _("Only an enterprise that applied, or a certified one at re-verification, can fail certification."),
            )
        _check_decision_date(plan, request, cert if source.code == IN_CERTIFICATION else None, today)
    if target.code in REASON_STAGES:
        _check_reason(plan, request, target)

    if plan.overridable:
        if request.override_reason and can_override(by):
            plan.overrides = list(plan.overridable)
        else:
            for key, message in plan.overridable.items():
                plan.fail(key, message)
            if can_override(by):
                plan.ask("override_reason")
    elif request.override_reason and can_override(by):
        plan.ask("override_reason")
    plan.inputs.sort(key=INPUT_FIELDS.index)
    return plan


def _check_exit(plan: TransitionPlan, stage: Stage, target: Stage, request: TransitionRequest, cert) -> None:
    """What leaving ``stage`` forward needs (the "leaving it needs" column of the domain's stage table)."""
    enterprise = plan.enterprise
    if stage.code == CANDIDATE and target.code != POOLED:
        plan.fail("to", _("A candidate is screened first: accept it into the pool or decline it."))
    elif stage.code == POOLED:
        if not enterprise.commerce_officer_id:
            plan.fail("commerce_officer", _("Assign the commerce staff member who follows the enterprise first."))
        if not enterprise.customs_officer_id:
            plan.fail("customs_officer", _("Assign the customs officer who follows the enterprise first."))
    elif stage.code == CULTIVATING:
        from crm.plans.services import active_plan

        if enterprise.id is None or active_plan(enterprise.id) is None:
            plan.fail("active_plan", _("The enterprise needs an active cultivation plan (一企一策) first."))
    elif stage.code == READY:
        _check_assessment(plan, plan.source)


def _check_assessment(plan: TransitionPlan, source: Stage | None) -> None:
    """``ready``: the latest officer pre-assessment passes, or a manager overrides with a written reason."""
    if "assessment" in plan.overridable:
        return
    from crm.standards.models import AssessmentOutcome

    assessment = latest_officer_assessment(plan.enterprise.id) if plan.enterprise.id else None
    if assessment is not None and assessment.outcome == AssessmentOutcome.PASS:
        return
    if source is not None and source.code == READY:
        entered = entering_change(plan.enterprise)
        if entered is not None and "assessment" in ((entered.data or {}).get("overrides") or []):
            return  # the manager's override that let it into ``ready`` still stands
    if assessment is None:
        message = _("There is no completed officer pre-assessment.")
    else:
        message = _(
            "The latest officer pre-assessment (%(date)s) does not pass.", date=format_date(assessment.assessed_on)
        )
    plan.overridable["assessment"] = message


def _check_application_dates(
    plan: TransitionPlan,
    source: Stage,
    target: Stage,
    request: TransitionRequest,
    cert: Certification | None,
    stages: dict[str, Stage],
    today: date,
    *,
    reopening: bool,
) -> None:
    """The application date and the acceptance date, for each application stage the move enters or crosses."""
    known: dict[str, date | None] = {}
    for code, name in DATE_OF_STAGE.items():
        stage = stages.get(code)
        if stage is None or stage.sort_order > target.sort_order or target.kind == StageKind.LOST:
            continue
        already_there = not reopening and stage.sort_order <= source.sort_order
        given = getattr(request, name)
        if already_there:
            # Passed or current: the date recorded on the way in stands. When the current stage has none (data
            # from before the CRM), leaving it asks for the date.
            recorded = getattr(cert, name) if cert else None
            known[name] = recorded or given
            if recorded is None and stage.code == source.code:
                plan.ask(name)
                if given is None:
                    plan.fail(name, _required_date_message(name))
                elif given > today:
                    plan.fail(name, _("This date cannot be in the future."))
            continue
        plan.ask(name)
        plan.dates_recorded.append(code)
        known[name] = given
        if given is None:
            plan.fail(name, _required_date_message(name))
        elif given > today:
            plan.fail(name, _("This date cannot be in the future."))
    applied_on, accepted_on = known.get("applied_on"), known.get("accepted_on")
    if applied_on and accepted_on and accepted_on < applied_on:
        plan.fail("accepted_on", _("Customs cannot accept an application before it was filed."))
    if APPLIED in plan.dates_recorded:
        enterprise = plan.enterprise
        if enterprise.credit_status.is_discredited:
            plan.fail("credit_status", _("A discredited enterprise cannot apply for certification."))
        if cert is not None and cert.reapply_on and applied_on and applied_on < cert.reapply_on:
            plan.overridable["reapply_on"] = _(
                "The enterprise may not apply again before %(date)s.", date=format_date(cert.reapply_on)
            )


def _required_date_message(name: str) -> str:
    return {
        "applied_on": _("Enter the date the application was filed."),
        "accepted_on": _("Enter the date customs accepted the application."),
    }[name]


def _check_decision_date(plan: TransitionPlan, request: TransitionRequest, cert: Certification | None, today: date):
    plan.ask("decided_on")
    if request.decided_on is None:
        plan.fail("decided_on", _("Enter the date of the customs decision."))
        return
    if request.decided_on > today:
        plan.fail("decided_on", _("This date cannot be in the future."))
    accepted_on = request.accepted_on or (cert.accepted_on if cert else None)
    if accepted_on and request.decided_on < accepted_on:
        plan.fail("decided_on", _("The decision cannot come before customs accepted the application."))


def _check_certified(plan: TransitionPlan, request: TransitionRequest, cert: Certification | None, today: date):
    source_code = plan.source.code if plan.source else None
    _check_decision_date(plan, request, cert if source_code == IN_CERTIFICATION else None, today)
    plan.ask("certificate_no")
    plan.ask("tier")
    if not request.certificate_no:
        plan.fail("certificate_no", _("Enter the certificate or decision number."))
    elif len(request.certificate_no) > CERTIFICATE_NO_MAX:
        plan.fail("certificate_no", _("At most %(n)s characters.", n=CERTIFICATE_NO_MAX))
    try:
        plan.tier = TargetTier(request.tier) if request.tier else None
    except ValueError:
        plan.tier = None
    if plan.tier is None:
        plan.fail("tier", _("Choose the tier the enterprise was certified at."))
    if plan.enterprise.credit_status.is_discredited:
        plan.fail("credit_status", _("A discredited enterprise cannot be certified."))


def _check_reason(plan: TransitionPlan, request: TransitionRequest, target: Stage) -> None:
    plan.ask("reason")
    if not request.reason:
        plan.fail("reason", _("Choose a reason from the list."))
        return
    reason = db.session.scalars(
        select(TransitionReason).where(
            TransitionReason.code == request.reason,
            TransitionReason.stage_code == target.code,
            TransitionReason.is_active.is_(True),
        )
    ).first()
    if reason is None:
        plan.fail("reason", _("Choose a reason from the list."))
    plan.reason = reason


def transition(
    enterprise: Enterprise,
    request: TransitionRequest,
    *,
    by: Any,
    now: datetime | None = None,
    stages: dict[str, Stage] | None = None,
) -> StageChange:
    """Move an enterprise to another stage if every guard allows it; record the history row and the dates.

    Raises ``TransitionBlocked`` with the failing conditions, having changed nothing.
    """
    now = now or utcnow()
    today = local_date(now)
    plan = plan_transition(enterprise, request, by=by, today=today, stages=stages)
    if not plan.ok:
        raise TransitionBlocked(plan)
    return _apply(plan, request, by=by, now=now, today=today)


def _apply(plan: TransitionPlan, request: TransitionRequest, *, by: Any, now: datetime, today: date) -> StageChange:
    enterprise, source, target = plan.enterprise, plan.source, plan.target
    assert target is not None
    source_code = source.code if source else None
    data: dict[str, Any] = {}
    cert: Certification | None = certification_of(enterprise)

    if APPLIED in plan.dates_recorded:
        cert = _certification_for_update(enterprise)
        # A new application: the previous one's acceptance and decision belong to the stage history now.
        cert.applied_on = request.applied_on
        cert.accepted_on = None
        cert.extended_on = None
        cert.extension_note = ""
        cert.decision_due_on = None
        cert.decided_on = None
        cert.outcome = None
        cert.reason_id = None
        data["applied_on"] = request.applied_on
    elif request.applied_on and "applied_on" in plan.inputs:
        cert = _certification_for_update(enterprise)
        cert.applied_on = request.applied_on
        data["applied_on"] = request.applied_on
    if IN_CERTIFICATION in plan.dates_recorded or (request.accepted_on and "accepted_on" in plan.inputs):
        cert = _certification_for_update(enterprise)
        cert.accepted_on = request.accepted_on
        cert.decision_due_on = deadlines.decision_due(request.accepted_on, cert.extended_on is not None)
        data["accepted_on"] = request.accepted_on

    if target.code == CERTIFIED:
        cert = _certification_for_update(enterprise)
        cert.decided_on = request.decided_on
        cert.outcome = CertificationOutcome.CERTIFIED
        cert.reason_id = None
        cert.certificate_no = request.certificate_no
        cert.tier = plan.tier
        cert.office_id = cert.office_id or _district_office_id(enterprise)
        cert.cycle_start_on = request.decided_on
        cert.last_reverified_on = None
        data.update(decided_on=request.decided_on, certificate_no=request.certificate_no, tier=plan.tier)
        status = CreditStatus(plan.tier.value)
        if enterprise.credit_status != status:
            _add_credit_change(enterprise, status, request.decided_on, request.certificate_no, request.comment, by)
    elif target.code == NOT_PASSED:
        cert = _certification_for_update(enterprise)
        cert.decided_on = request.decided_on
        cert.outcome = CertificationOutcome.NOT_PASSED
        cert.reason_id = plan.reason.id if plan.reason else None
        _extend_lockout(cert, deadlines.reapply_after(request.decided_on), LockoutCause.NOT_PASSED)
        data["decided_on"] = request.decided_on
    elif target.code == WITHDRAWN and source_code in LOCKOUT_ON_WITHDRAWAL_FROM:
        cert = _certification_for_update(enterprise)
        cert.outcome = CertificationOutcome.WITHDRAWN
        cert.reason_id = plan.reason.id if plan.reason else None
        _extend_lockout(cert, deadlines.reapply_after(today), LockoutCause.WITHDRAWN)

    if source_code == CERTIFIED and target.code != CERTIFIED and enterprise.credit_status.is_aeo:
        # Leaving ``certified`` ends the AEO status (a failed re-verification, giving it up, or a correction).
        note = plan.reason.name_zh if plan.reason else request.comment
        _add_credit_change(enterprise, CreditStatus.REGULAR, request.decided_on or today, "", note, by)

    if plan.reason is not None:
        data["reason"] = plan.reason.code
    if source_code == CANDIDATE and target.code in (POOLED, WITHDRAWN):
        data["screening"] = "accepted" if target.code == POOLED else "declined"
    if plan.overrides:
        data["overrides"] = plan.overrides

    enterprise.stage = target.code
    enterprise.stage_entered_at = now
    if by is not None and getattr(by, "id", None):
        enterprise.updated_by_id = by.id
    change = StageChange(
        enterprise_id=enterprise.id,
        from_stage=source_code,
        to_stage=target.code,
        changed_at=now,
        from_stage_entered_at=previous_change_at(enterprise.id, now),
        changed_by_id=getattr(by, "id", None),
        comment=request.comment,
        override_reason=request.override_reason or None,
        data=json_value(data) if data else None,
    )
    db.session.add(change)
    db.session.flush()
    return change


def _district_office_id(enterprise: Enterprise) -> int | None:
    office = enterprise.office
    if office is None:
        return None
    return office.parent_id or office.id


def _extend_lockout(cert: Certification, until: date, cause: LockoutCause) -> None:
    if cert.reapply_on is None or until >= cert.reapply_on:
        cert.reapply_on = until
        cert.lockout_cause = cause


def _add_credit_change(
    enterprise: Enterprise, status: CreditStatus, effective_on: date, source: str, note: str, by: Any
) -> CreditStatusChange:
    change = CreditStatusChange(
        enterprise_id=enterprise.id,
        status=status,
        effective_on=effective_on,
        source=(source or "")[:200],
        note=note or "",
        recorded_by_id=getattr(by, "id", None),
    )
    db.session.add(change)
    enterprise.credit_status = status
    return change


def lock_enterprise(enterprise_id: int) -> None:
    """Hold the enterprise's row until commit, so two moves of one enterprise cannot interleave (PostgreSQL).

    Call it before loading the enterprise, so the guards see the committed state."""
    db.session.execute(select(Enterprise.id).where(Enterprise.id == enterprise_id).with_for_update())


def parse_transition_input(data: Any) -> tuple[TransitionRequest, dict[str, list[str]]]:
    """A ``TransitionRequest`` from a JSON body or a form (strings), with the fields that could not be read."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("applied_on", "accepted_on", "decided_on"):
        raw = data.get(name)
        if raw in (None, ""):
            values[name] = None
            continue
        try:
            values[name] = date.fromisoformat(str(raw).strip())
        except ValueError:
            values[name] = None
            errors[name] = [_("Use a date in the form YYYY-MM-DD.")]
    for name in ("to", "comment", "override_reason", "certificate_no", "tier", "reason"):
        raw = data.get(name)
        if raw is not None and not isinstance(raw, str):
            errors[name] = [_("Send this field as text.")]
            raw = None
        values[name] = raw or ""
    return TransitionRequest(**values), errors


@dataclass
class BulkMoveResult:
    moved: list[Enterprise] = field(default_factory=list)
    #: (enterprise id, enterprise or None when missing or outside the scope, {condition: [messages]})
    refused: list[tuple[int, Enterprise | None, dict[str, list[str]]]] = field(default_factory=list)


def move_many(
    enterprise_ids: Iterable[int], request: TransitionRequest, *, by: Any, now: datetime | None = None
) -> BulkMoveResult:
    """Run the same move for many enterprises; each is judged on its own. Ids outside the user's scope count as
    not found. Nothing is committed; a refused enterprise is left unchanged."""
    now = now or utcnow()
    ids = list(dict.fromkeys(int(i) for i in enterprise_ids))
    if len(ids) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} enterprises at once")
    stages = {s.code: s for s in ordered_stages()}
    stmt = scoped_enterprises(select(Enterprise), user=by).where(Enterprise.id.in_(ids)).order_by(Enterprise.id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Enterprise)
    found = {e.id: e for e in db.session.scalars(stmt)}
    result = BulkMoveResult()
    for enterprise_id in ids:
        enterprise = found.get(enterprise_id)
        if enterprise is None:
            result.refused.append((enterprise_id, None, {"enterprise": [_("Not found.")]}))
            continue
        try:
            transition(enterprise, request, by=by, now=now, stages=stages)
        except TransitionBlocked as blocked:
            result.refused.append((enterprise_id, enterprise, blocked.failures))
        else:
            result.moved.append(enterprise)
    return result


# --- after certification ------------------------------------------------------------------------------


class PipelineError(ValueError):
    """Bad input for a follow-up record; ``fields`` maps each field to its messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__(" ".join(m for ms in fields.values() for m in ms))


def _not_future(day: date | None, name: str, errors: dict[str, list[str]], today: date) -> None:
    if day is not None and day > today:
        errors.setdefault(name, []).append(_("This date cannot be in the future."))


def record_extension(enterprise: Enterprise, *, on: date, note: str = "", today: date | None = None) -> Certification:
    """Record customs' 30-day extension of the decision deadline (120 days from acceptance instead of 90)."""
    today = today or local_today()
    cert = certification_of(enterprise)
    errors: dict[str, list[str]] = {}
    if enterprise.stage != IN_CERTIFICATION or cert is None or cert.accepted_on is None:
        errors["extended_on"] = [_("Only an application customs has accepted can have its deadline extended.")]
    elif cert.extended_on is not None:
        errors["extended_on"] = [_("The extension is already recorded.")]
    elif on < cert.accepted_on:
        errors["extended_on"] = [_("The extension cannot come before customs accepted the application.")]
    _not_future(on, "extended_on", errors, today)
    if errors:
        raise PipelineError(errors)
    assert cert is not None
    cert.extended_on = on
    cert.extension_note = (note or "").strip()
    cert.decision_due_on = deadlines.decision_due(cert.accepted_on, extended=True)
    db.session.flush()
    return cert


def update_certificate(
    enterprise: Enterprise,
    *,
    certificate_no: str,
    tier: TargetTier | str,
    decided_on: date,
    office_id: int | None,
    by: Any = None,
    today: date | None = None,
) -> Certification:
    """Correct the certificate details of a certified enterprise (number, tier, decision date, office)."""
    today = today or local_today()
    cert = certification_of(enterprise)
    errors: dict[str, list[str]] = {}
    if enterprise.stage != CERTIFIED or cert is None:
        raise PipelineError({"certificate_no": [_("Only a certified enterprise has a certificate.")]})
    certificate_no = (certificate_no or "").strip()
    if not certificate_no:
        errors["certificate_no"] = [_("Enter the certificate or decision number.")]
    elif len(certificate_no) > CERTIFICATE_NO_MAX:
        errors["certificate_no"] = [_("At most %(n)s characters.", n=CERTIFICATE_NO_MAX)]
    _not_future(decided_on, "decided_on", errors, today)
    if office_id is not None and db.session.get(CustomsOffice, office_id) is None:
        errors["office_id"] = [_("Choose a customs office from the list.")]
    if errors:
        raise PipelineError(errors)
    tier = TargetTier(tier)
    if cert.last_reverified_on is None:
        cert.cycle_start_on = decided_on
    cert.certificate_no, cert.decided_on, cert.office_id = certificate_no, decided_on, office_id
    if cert.tier != tier:
        cert.tier = tier
        if enterprise.credit_status.is_aeo:
            _add_credit_change(enterprise, CreditStatus(tier.value), decided_on, certificate_no, "", by)
    db.session.flush()
    return cert


def record_reverification(
    enterprise: Enterprise, *, on: date, note: str = "", by: Any = None, today: date | None = None
) -> Certification:
    """A passed re-verification (复核): the next one is due a cycle after it. A failure is a move to ``not_passed``."""
    today = today or local_today()
    cert = certification_of(enterprise)
    errors: dict[str, list[str]] = {}
    if enterprise.stage != CERTIFIED or cert is None or cert.cycle_start_on is None:
        raise PipelineError({"reverified_on": [_("Only a certified enterprise is re-verified.")]})
    if on < cert.cycle_start_on:
        errors["reverified_on"] = [_("The re-verification cannot come before the current cycle began.")]
    _not_future(on, "reverified_on", errors, today)
    if errors:
        raise PipelineError(errors)
    cert.last_reverified_on = on
    cert.cycle_start_on = on
    db.session.flush()
    return cert


def record_compliance_year(
    enterprise: Enterprise,
    *,
    year: int,
    internal_audit_done: bool,
    internal_audit_on: date | None = None,
    report_submitted: bool,
    report_submitted_on: date | None = None,
    note: str = "",
    by: Any = None,
    today: date | None = None,
) -> ComplianceYear:
    """Record, for one year, whether the internal audit was done and the audited report sent by 30 June."""
    today = today or local_today()
    errors: dict[str, list[str]] = {}
    if year < 2000 or year > today.year:
        errors["year"] = [_("Enter a year between 2000 and this year.")]
    if internal_audit_done and internal_audit_on is None:
        # The yearly reminder counts a year from the last audit: its date is needed.
        errors["internal_audit_on"] = [_("Enter the date the internal audit was completed.")]
    for name, done, day in (
        ("internal_audit_on", internal_audit_done, internal_audit_on),
        ("report_submitted_on", report_submitted, report_submitted_on),
    ):
        _not_future(day, name, errors, today)
        if day is not None and not done:
            errors.setdefault(name, []).append(_("A date is only kept when the box is ticked."))
    if errors:
        raise PipelineError(errors)
    row = db.session.scalars(
        select(ComplianceYear).where(ComplianceYear.enterprise_id == enterprise.id, ComplianceYear.year == year)
    ).first()
    if row is None:
        row = ComplianceYear(enterprise_id=enterprise.id, year=year)
        db.session.add(row)
    row.internal_audit_done = internal_audit_done
    row.internal_audit_on = internal_audit_on
    row.report_submitted = report_submitted
    row.report_submitted_on = report_submitted_on
    row.note = (note or "").strip()
    row.recorded_by_id = getattr(by, "id", None)
    db.session.flush()
    return row


#: Severity of each credit tier: a move to a higher number is a downgrade.
CREDIT_RANK = {
    CreditStatus.AEO_ADVANCED: 0,
    CreditStatus.AEO: 1,
    CreditStatus.REGULAR: 2,
    CreditStatus.DISCREDITED: 3,
    CreditStatus.SEVERELY_DISCREDITED: 4,
}


def record_credit_event(
    enterprise: Enterprise,
    *,
    status: CreditStatus | str,
    effective_on: date,
    source: str = "",
    note: str = "",
    by: Any = None,
    today: date | None = None,
) -> CreditStatusChange:
    """A credit event (downgrade to 失信 or 严重失信, restoration, ...) with its date and source.

    The latest event sets the enterprise's status. A downgrade to a discredited tier suspends the notice's
    incentives (measure 22) and, like any downgrade, bars a new application for a year; so does the
    restoration of a discredited enterprise (the year runs from the upgrade).
    """
    today = today or local_today()
    status = CreditStatus(status)
    errors: dict[str, list[str]] = {}
    _not_future(effective_on, "effective_on", errors, today)
    source = (source or "").strip()
    if not source:
        errors["source"] = [_("Say where the information comes from (a customs notice, 信用中国 ...).")]
    elif len(source) > 200:
        errors["source"] = [_("At most %(n)s characters.", n=200)]
    if errors:
        raise PipelineError(errors)
    latest = db.session.scalar(
        select(func.max(CreditStatusChange.effective_on)).where(CreditStatusChange.enterprise_id == enterprise.id)
    )
    previous = CreditStatus(enterprise.credit_status)
    change = CreditStatusChange(
        enterprise_id=enterprise.id,
        status=status,
        effective_on=effective_on,
        source=source,
        note=(note or "").strip(),
        recorded_by_id=getattr(by, "id", None),
    )
    db.session.add(change)
    if latest is None or effective_on >= latest:
        enterprise.credit_status = status
        downgrade = CREDIT_RANK[status] > CREDIT_RANK[previous]
        if status.is_discredited:
            enterprise.incentives_suspended = True
        elif previous.is_discredited:
            enterprise.incentives_suspended = False
        if downgrade and (previous.is_aeo or status.is_discredited):
            _extend_lockout(
                _certification_for_update(enterprise), deadlines.reapply_after(effective_on), LockoutCause.DOWNGRADED
            )
        elif previous.is_discredited and not status.is_discredited:
            _extend_lockout(
                _certification_for_update(enterprise), deadlines.reapply_after(effective_on), LockoutCause.UPGRADED
            )
    db.session.flush()
    return change


def incentives_suspended_since(enterprise: Enterprise) -> date | None:
    """The date of the downgrade that suspended the enterprise's incentives, if they are suspended."""
    if not enterprise.incentives_suspended:
        return None
    return db.session.scalar(
        select(func.max(CreditStatusChange.effective_on)).where(
            CreditStatusChange.enterprise_id == enterprise.id,
            CreditStatusChange.status.in_([CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED]),
        )
    )


def assign_coordinator(enterprise: Enterprise, coordinator: Any | None) -> None:
    """Assign the customs 企业协调员 (a customs officer whose offices cover the enterprise), or clear it."""
    if coordinator is None:
        enterprise.coordinator_id = None
        db.session.flush()
        return
    if (
        Role(coordinator.role) != Role.CUSTOMS
        or not coordinator.is_active
        or not build_scope(coordinator).contains(enterprise)
    ):
        raise PipelineError(
            {"coordinator_id": [_("Choose an active customs officer whose offices cover this enterprise.")]}
        )
    enterprise.coordinator_id = coordinator.id
    db.session.flush()


def benefit_measures() -> list[SupportMeasure]:
    """The notice's measures an enterprise can record a benefit under (4 to 24, active)."""
    return list(
        db.session.scalars(
            select(SupportMeasure)
            .where(
                SupportMeasure.number.between(BENEFIT_MEASURES.start, BENEFIT_MEASURES.stop - 1),
                SupportMeasure.is_active.is_(True),
            )
            .order_by(SupportMeasure.number)
        )
    )


def record_benefit(
    enterprise: Enterprise,
    *,
    measure_id: int,
    used_on: date,
    figure: Decimal | None = None,
    unit: str = "",
    note: str = "",
    by: Any = None,
    today: date | None = None,
) -> BenefitRecord:
    """Record that the enterprise used one of the notice's measures, with a note or a figure."""
    today = today or local_today()
    errors: dict[str, list[str]] = {}
    measure = db.session.get(SupportMeasure, measure_id) if measure_id else None
    if measure is None or measure.number not in BENEFIT_MEASURES:
        errors["measure_id"] = [_("Choose one of the notice's measures 4 to 24.")]
    _not_future(used_on, "used_on", errors, today)
    note, unit = (note or "").strip(), (unit or "").strip()
    if figure is None and not note:
        errors["note"] = [_("Give a note or a figure that shows the benefit.")]
    if figure is not None and figure < 0:
        errors["figure"] = [_("The figure cannot be negative.")]
    if unit and figure is None:
        errors.setdefault("figure", []).append(_("A unit needs a figure."))
    suspended_since = incentives_suspended_since(enterprise)
    if enterprise.incentives_suspended and (suspended_since is None or used_on >= suspended_since):
        errors.setdefault("used_on", []).append(
            _("The enterprise's incentives are suspended since its credit downgrade (measure 22).")
        )
    if errors:
        raise PipelineError(errors)
    record = BenefitRecord(
        enterprise_id=enterprise.id,
        measure_id=measure_id,
        used_on=used_on,
        figure=figure,
        unit=unit[:30],
        note=note,
        recorded_by_id=getattr(by, "id", None),
    )
    db.session.add(record)
    db.session.flush()
    return record


def delete_benefit(record: BenefitRecord) -> None:
    db.session.delete(record)
    db.session.flush()
