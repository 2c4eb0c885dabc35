"""Read side of 1+N cohorts: which cohorts a user sees, the cohort page's member rows and roll-up, the
"priority" flag (members of a cohort whose lead is already AEO), and the enterprise list's cohort filters.

Scope: a cohort is visible when its lead or at least one member lies in the viewer's jurisdiction; the page
lists only the members in scope and computes its roll-up over them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, bindparam, case, exists, func, or_, select, true
from sqlalchemy.orm import aliased, selectinload

from crm.cohorts.models import Cohort, CohortActivity, CohortKind, CohortMember
from crm.core.scope import enterprise_in_scope, scope_of
from crm.core.timeutil import local_date, local_today
from crm.enterprises.models import CreditStatus, Enterprise
from crm.extensions import db

#: A cohort whose lead holds one of these statuses gives its members priority (measure 2 of the notice).
AEO_STATUSES = (CreditStatus.AEO_ADVANCED, CreditStatus.AEO)
CERTIFIED_STAGE = "certified"


# --- visibility ----------------------------------------------------------------------------------------------


def visible_condition(user: Any = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Cohort``: its lead or one of its members is in the user's scope."""
    scope = scope_of(user)
    if scope.unrestricted:
        return true()
    # Correlated lookups by primary key (a few rows per cohort) rather than ``IN (every id in scope)`` under the
    # OR, which read the whole scope (tens of thousands of ids) on every page with a cohort filter.
    return or_(
        enterprise_in_scope(Cohort.lead_enterprise_id, user),
        exists().where(CohortMember.cohort_id == Cohort.id, enterprise_in_scope(CohortMember.enterprise_id, user)),
    )


def cohort_list(filters: Mapping[str, str], user: Any = None) -> Select:
    """Visible cohorts, newest first; filters: ``q`` (name), ``kind``, ``enterprise`` (id of lead or member)."""
    stmt = select(Cohort).where(visible_condition(user)).options(selectinload(Cohort.lead))
    q = (filters.get("q") or "").strip()
    if q:
        stmt = stmt.where(Cohort.name.contains(q, autoescape=True))
    kind = (filters.get("kind") or "").strip()
    if kind in {k.value for k in CohortKind}:
        stmt = stmt.where(Cohort.kind == CohortKind(kind))
    enterprise = (filters.get("enterprise") or "").strip()
    if enterprise.isdigit():
        stmt = stmt.where(
            or_(Cohort.id.in_(cohort_ids_of(int(enterprise))), Cohort.lead_enterprise_id == int(enterprise))
        )
    return stmt.order_by(Cohort.created_at.desc(), Cohort.id.desc())


def cohort_ids_of(enterprise_id: int) -> Select:
    return select(CohortMember.cohort_id).where(CohortMember.enterprise_id == enterprise_id)


def scoped_cohort(cohort_id: int, user: Any = None) -> Cohort | None:
    return db.session.scalars(select(Cohort).where(Cohort.id == cohort_id, visible_condition(user))).first()


def visible_cohorts(user: Any = None) -> list[Cohort]:
    return list(db.session.scalars(select(Cohort).where(visible_condition(user)).order_by(Cohort.name, Cohort.id)))


def members_in_scope(cohort: Cohort, user: Any = None) -> list[CohortMember]:
    stmt = (
        select(CohortMember)
        .join(Enterprise, Enterprise.id == CohortMember.enterprise_id)
        .where(CohortMember.cohort_id == cohort.id, scope_of(user).enterprise_filter())
        .options(selectinload(CohortMember.enterprise))
        .order_by(Enterprise.name, CohortMember.id)
    )
    return list(db.session.scalars(stmt))


def member_count(cohort_id: int) -> int:
    return db.session.scalar(select(func.count()).where(CohortMember.cohort_id == cohort_id)) or 0


def member_counts(cohort_ids: Iterable[int], user: Any = None) -> dict[int, tuple[int, int]]:
    """{cohort id: (members in scope, all members)} in one query."""
    ids = list(cohort_ids)
    if not ids:
        return {}
    scope_filter = scope_of(user).enterprise_filter()
    rows = db.session.execute(
        select(CohortMember.cohort_id, func.sum(case((scope_filter, 1), else_=0)), func.count())
        .join(Enterprise, Enterprise.id == CohortMember.enterprise_id)
        .where(CohortMember.cohort_id.in_(ids))
        .group_by(CohortMember.cohort_id)
    ).all()
    counts = dict.fromkeys(ids, (0, 0))
    counts.update({cohort_id: (int(seen or 0), int(total)) for cohort_id, seen, total in rows})
    return counts


# --- the cohort page -----------------------------------------------------------------------------------------


@dataclass
class MemberRow:
    member: CohortMember
    enterprise: Enterprise
    stage_name: str
    open_tasks: int = 0
    overdue_tasks: int = 0
    last_visit_on: date | None = None


@dataclass
class WeakItem:
    item: Any
    #: Members whose latest assessment judges the item 不达标.
    failing: int
    #: Members whose latest assessment judges it 基本达标.
    basic: int


@dataclass
class Rollup:
    members: int = 0
    per_stage: list[tuple[str, str, int]] = field(default_factory=list)
    ready: int = 0
    certified: int = 0
    assessed: int = 0
    weakest: list[WeakItem] = field(default_factory=list)

    @property
    def ready_percent(self) -> int:
        return round(100 * self.ready / self.members) if self.members else 0

    @property
    def certified_percent(self) -> int:
        return round(100 * self.certified / self.members) if self.members else 0


def _stage_names() -> dict[str, Any]:
    from crm.pipeline.models import Stage

    return {s.code: s for s in db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code))}


def task_counts(enterprise_ids: list[int], today: date) -> dict[int, tuple[int, int]]:
    """{enterprise id: (open tasks, overdue tasks)} of the enterprises' open plans."""
    from crm.plans.models import CultivationTask, Plan, TaskStatus
    from crm.plans.services import OPEN_PLAN_STATUSES

    if not enterprise_ids:
        return {}
    rows = db.session.execute(
        select(
            CultivationTask.enterprise_id,
            func.count(CultivationTask.id),
            func.sum(case((CultivationTask.due_on < today, 1), else_=0)),
        )
        .join(Plan, Plan.id == CultivationTask.plan_id)
        .where(
            CultivationTask.enterprise_id.in_(enterprise_ids),
            CultivationTask.status != TaskStatus.DONE,
            Plan.status.in_(OPEN_PLAN_STATUSES),
        )
        .group_by(CultivationTask.enterprise_id)
    ).all()
    return {enterprise_id: (int(total), int(overdue or 0)) for enterprise_id, total, overdue in rows}


def last_visits(enterprise_ids: list[int]) -> dict[int, date]:
    from crm.visits.models import Visit, VisitStatus

    if not enterprise_ids:
        return {}
    rows = db.session.execute(
        select(Visit.enterprise_id, func.max(Visit.starts_at))
        .where(Visit.enterprise_id.in_(enterprise_ids), Visit.status == VisitStatus.DONE)
        .group_by(Visit.enterprise_id)
    ).all()
    return {enterprise_id: local_date(moment) for enterprise_id, moment in rows if moment is not None}


def member_rows(members: list[CohortMember], today: date | None = None) -> list[MemberRow]:
    today = today or local_today()
    ids = [m.enterprise_id for m in members]
    stages = _stage_names()
    tasks = task_counts(ids, today)
    visits = last_visits(ids)
    rows = []
    for member in members:
        enterprise = member.enterprise
        stage = stages.get(enterprise.stage)
        open_tasks, overdue = tasks.get(enterprise.id, (0, 0))
        rows.append(
            MemberRow(
                member=member,
                enterprise=enterprise,
                stage_name=stage.display_name if stage is not None else enterprise.stage,
                open_tasks=open_tasks,
                overdue_tasks=overdue,
                last_visit_on=visits.get(enterprise.id),
            )
        )
    return rows


def is_certified(enterprise: Enterprise) -> bool:
    return enterprise.stage == CERTIFIED_STAGE or enterprise.credit_status in AEO_STATUSES


def weakest_items(enterprise_ids: list[int], limit: int = 5) -> tuple[list[WeakItem], int]:
    """The standard items most members fail, judged on each member's latest non-draft assessment.

    Returns the items (most 不达标 first, then most 基本达标) and the number of members with an assessment.
    """
    from crm.standards.models import AssessmentResult, Judgement, StandardItem
    from crm.standards.services import latest_assessment

    assessment_ids = []
    for enterprise_id in enterprise_ids:
        latest = latest_assessment(enterprise_id)
        if latest is not None:
            assessment_ids.append(latest.id)
    if not assessment_ids:
        return [], 0
    failing = func.sum(case((AssessmentResult.judgement == Judgement.FAIL, 1), else_=0))
    basic = func.sum(case((AssessmentResult.judgement == Judgement.BASIC, 1), else_=0))
    rows = db.session.execute(
        select(AssessmentResult.item_id, failing, basic)
        .where(
            AssessmentResult.assessment_id.in_(assessment_ids),
            AssessmentResult.judgement.in_((Judgement.FAIL, Judgement.BASIC)),
        )
        .group_by(AssessmentResult.item_id)
        .order_by(failing.desc(), basic.desc(), AssessmentResult.item_id)
        .limit(limit)
    ).all()
    items = {i.id: i for i in db.session.scalars(select(StandardItem).where(StandardItem.id.in_([r[0] for r in rows])))}
    return [WeakItem(items[item_id], int(f or 0), int(b or 0)) for item_id, f, b in rows], len(assessment_ids)


def rollup(enterprises: list[Enterprise]) -> Rollup:
    """Members per stage, shares ready (latest assessment passes) and certified, and the weakest items."""
    stages = _stage_names()
    counted = Counter(e.stage for e in enterprises)
    per_stage = [(code, stage.display_name, counted[code]) for code, stage in stages.items() if counted[code]]
    weakest, assessed = weakest_items([e.id for e in enterprises])
    return Rollup(
        members=len(enterprises),
        per_stage=per_stage,
        ready=sum(1 for e in enterprises if e.readiness_outcome == "pass"),
        certified=sum(1 for e in enterprises if is_certified(e)),
        assessed=assessed,
        weakest=weakest,
    )


@dataclass
class CohortPage:
    cohort: Cohort
    lead_visible: bool
    rows: list[MemberRow]
    hidden_members: int
    rollup: Rollup
    activities: list[tuple[CohortActivity, str]]
    lead_is_aeo: bool


def cohort_page(cohort: Cohort, user: Any = None, today: date | None = None) -> CohortPage:
    members = members_in_scope(cohort, user)
    scope = scope_of(user)
    stages = _stage_names()
    return CohortPage(
        cohort=cohort,
        lead_visible=scope.contains(cohort.lead),
        rows=member_rows(members, today),
        hidden_members=member_count(cohort.id) - len(members),
        rollup=rollup([m.enterprise for m in members]),
        activities=[(a, describe(a, stages)) for a in activities(cohort)],
        lead_is_aeo=cohort.lead.credit_status in AEO_STATUSES,
    )


def activities(cohort: Cohort, limit: int = 100) -> list[CohortActivity]:
    return list(
        db.session.scalars(
            select(CohortActivity)
            .where(CohortActivity.cohort_id == cohort.id)
            .options(selectinload(CohortActivity.actor))
            .order_by(CohortActivity.occurred_at.desc(), CohortActivity.id.desc())
            .limit(limit)
        )
    )


# --- priority ------------------------------------------------------------------------------------------------


@cache
def _lead_alias() -> Any:
    """The cohort's lead in ``priority_condition``: one alias for the process, made on first use (after every
    model is mapped). A fresh ``aliased()`` per call costs about a millisecond of CPU the first time its columns
    are used, and the board asks on every view."""
    return aliased(Enterprise, name="cohort_lead")


def priority_condition() -> ColumnElement[bool]:
    """A WHERE clause on ``Enterprise``: a member of a cohort whose lead is 高级认证企业 or 认证企业."""
    lead = _lead_alias()
    return Enterprise.id.in_(
        select(CohortMember.enterprise_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .join(lead, lead.id == Cohort.lead_enterprise_id)
        .where(lead.credit_status.in_(AEO_STATUSES))
    )


def priority_ids(enterprise_ids: Iterable[int]) -> set[int]:
    """Which of these enterprises carry the priority flag: one query, or none while the set of flagged
    enterprises (members of cohorts whose lead is certified: a few hundred) is kept for the data version."""
    from crm.enterprises.counts_cache import cached_per_version, data_version

    ids = list(enterprise_ids)
    if not ids:
        return set()
    if data_version() is not None:
        flagged = cached_per_version("cohort-priority-ids", _all_priority_ids)
        return flagged.intersection(ids)
    return set(db.session.scalars(select(Enterprise.id).where(Enterprise.id.in_(ids), priority_condition())))


def _all_priority_ids() -> frozenset[int]:
    return frozenset(db.session.scalars(select(Enterprise.id).where(priority_condition())))


def is_priority(enterprise_id: int) -> bool:
    return bool(priority_ids([enterprise_id]))


# --- the enterprise list's and board's filters (crm.enterprises.listing.LIST_FILTERS) -----------------------


TRUE_VALUES = ("1", "true", "on", "yes")


def list_priority_condition(value: str, ref: Any) -> ColumnElement[bool] | None:
    return priority_condition() if value in TRUE_VALUES else None


def list_cohort_condition(value: str, ref: Any) -> ColumnElement[bool] | None:
    """The cohort's lead and members (a cohort the user cannot see matches nothing)."""
    if not value.isdigit() or len(value) > 12:
        return None
    cohort_id = int(value)
    visible = select(Cohort.id).where(Cohort.id == cohort_id, visible_condition(getattr(ref, "user", None)))
    return or_(
        Enterprise.id.in_(
            select(CohortMember.enterprise_id).where(
                CohortMember.cohort_id == cohort_id, CohortMember.cohort_id.in_(visible)
            )
        ),
        Enterprise.id.in_(select(Cohort.lead_enterprise_id).where(Cohort.id.in_(visible))),
    )


def list_cohort_options(ref: Any) -> list[tuple[str, str]]:
    return [(str(c.id), c.name) for c in visible_cohorts(getattr(ref, "user", None))]


def board_conditions(filters: Mapping[str, str], user: Any = None) -> list[ColumnElement[bool]]:
    """The cohort filters of the pipeline board (the same values as on the enterprise list)."""
    from crm.enterprises.listing import ListReference

    ref = ListReference(user)
    clauses = []
    cohort = (filters.get("cohort") or "").strip()
    if cohort:
        clause = list_cohort_condition(cohort, ref)
        if clause is not None:
            clauses.append(clause)
    if (filters.get("cohort_priority") or "").strip() in TRUE_VALUES:
        clauses.append(priority_condition())
    return clauses


# --- the enterprise page's section ---------------------------------------------------------------------------


@dataclass
class EnterpriseCohort:
    cohort: Cohort
    #: "lead", or the member's relation label.
    role: str
    is_lead: bool
    lead_visible: bool


@cache
def _section_statement() -> Select:
    """One query: the cohorts an enterprise leads or belongs to, each with its lead and the membership (if any);
    built once per process (the enterprise id is bound when it runs)."""
    membership = aliased(CohortMember)
    enterprise_id = bindparam("enterprise_id")
    return (
        select(Cohort, membership)
        .outerjoin(membership, (membership.cohort_id == Cohort.id) & (membership.enterprise_id == enterprise_id))
        .where(or_(Cohort.lead_enterprise_id == enterprise_id, membership.id.isnot(None)))
        .options(selectinload(Cohort.lead))
    )


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise leads or belongs to a
    cohort."""
    return or_(
        select(Cohort.id).where(Cohort.lead_enterprise_id == Enterprise.id).exists(),
        select(CohortMember.id).where(CohortMember.enterprise_id == Enterprise.id).exists(),
    )


def enterprise_section_context(enterprise: Enterprise, *, has_records: bool = True) -> dict[str, Any]:
    """What ``templates/cohorts/_enterprise_section.html`` needs, under the one key ``cohorts_section``
    (``has_records=False``: the caller knows the enterprise is in no cohort, no query)."""
    from flask_login import current_user

    from crm.core.permissions import Permission, has_permission

    scope = scope_of()
    rows = db.session.execute(_section_statement(), {"enterprise_id": enterprise.id}).all() if has_records else []
    led = sorted(
        {c.id: c for c, _m in rows if c.lead_enterprise_id == enterprise.id}.values(), key=lambda c: (c.name, c.id)
    )
    entries: list[EnterpriseCohort] = [EnterpriseCohort(c, _("Lead enterprise"), True, True) for c in led]
    memberships = sorted(((m, c) for c, m in rows if m is not None), key=lambda pair: pair[0].id)
    entries.extend(EnterpriseCohort(c, m.relation.label, False, scope.contains(c.lead)) for m, c in memberships)
    return {
        "cohorts_section": {
            "entries": entries,
            "is_priority": any(not e.is_lead and e.cohort.lead.credit_status in AEO_STATUSES for e in entries),
            "can_edit": has_permission(current_user, Permission.EDIT),
        }
    }


def find_enterprise(text: str, user: Any = None) -> Enterprise | None:
    """An enterprise in the user's scope by 统一社会信用代码 or 海关注册编码 (as typed, full-width accepted)."""
    from crm.enterprises.identifiers import normalise_uscc, to_half_width

    raw = to_half_width(text or "").strip()
    if not raw:
        return None
    code = normalise_uscc(raw)
    stmt = select(Enterprise).where(
        or_(Enterprise.uscc == code, Enterprise.customs_code == code), scope_of(user).enterprise_filter()
    )
    return db.session.scalars(stmt.limit(1)).first()


def scoped_enterprise(enterprise_id: int, user: Any = None) -> Enterprise | None:
    return db.session.scalars(
        select(Enterprise).where(Enterprise.id == enterprise_id, scope_of(user).enterprise_filter())
    ).first()


def describe(activity: CohortActivity, stages: Mapping[str, Any] | None = None) -> str:
    """A timeline entry in the reader's language, from its kind and data (counts and names of things, never of
    enterprises: a reader may not see every member)."""
    from datetime import datetime

    from crm.cohorts.models import ActivityKind, MemberRelation
    from crm.core.filters import format_datetime

    data = activity.data or {}
    n = len(data.get("enterprise_ids") or [])
    kind = activity.kind
    if kind == ActivityKind.CREATED:
        return _("Cohort created.")
    if kind == ActivityKind.MEMBERS_ADDED:
        try:
            relation = MemberRelation(data.get("relation")).label
        except ValueError:
            relation = ""
        return _("%(n)s members added (%(relation)s).", n=n, relation=relation)
    if kind == ActivityKind.MEMBER_REMOVED:
        return _("%(n)s members removed.", n=n)
    if kind == ActivityKind.JOINT_VISIT:
        try:
            when = format_datetime(datetime.fromisoformat(data.get("starts_at") or ""))
        except (TypeError, ValueError):
            when = ""
        return _("Joint visit on %(when)s planned for %(n)s members.", when=when, n=n)
    if kind == ActivityKind.TRAINING:
        return _("%(n)s members invited to “%(event)s”.", n=n, event=data.get("event_title") or "")
    if kind == ActivityKind.PLAN_TEMPLATE:
        return _("Plan template “%(name)s” applied to %(n)s members.", name=data.get("template_name") or "", n=n)
    if kind == ActivityKind.TRANSITION:
        stage = (stages or {}).get(data.get("to"))
        return _(
            "Move to “%(stage)s”: %(moved)s moved, %(refused)s not moved.",
            stage=stage.display_name if stage is not None else data.get("to") or "",
            moved=len(data.get("moved") or []),
            refused=len(data.get("refused") or {}),
        )
    return str(kind)
