"""Read side of plans and cultivation tasks: scoped lists with progress, and the enterprise-page section."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from flask import url_for
from flask_login import current_user
from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.core.permissions import Permission, has_permission
from crm.core.scope import scoped_by_enterprise
from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.plans.models import CultivationTask, Plan, PlanStatus, PlanTemplate, TaskStatus
from crm.plans.services import OPEN_PLAN_STATUSES, Progress, progress_of


def plan_list(filters: Mapping[str, Any], user: Any = None) -> Select:
    """Plans in scope: ``status`` (a PlanStatus value, or "open"), ``q`` (enterprise name), ``overdue`` ("1")."""
    stmt = select(Plan).options(
        selectinload(Plan.enterprise),
        selectinload(Plan.commerce_officer),
        selectinload(Plan.customs_officer),
    )
    stmt = scoped_by_enterprise(stmt, Plan.enterprise_id, user)
    status = (filters.get("status") or "").strip()
    if status == "open":
        stmt = stmt.where(Plan.status.in_([PlanStatus.DRAFT, PlanStatus.ACTIVE]))
    elif status in {s.value for s in PlanStatus}:
        stmt = stmt.where(Plan.status == PlanStatus(status))
    q = (filters.get("q") or "").strip()
    if q:  # the enterprises are joined for the search only
        stmt = stmt.join(Enterprise, Enterprise.id == Plan.enterprise_id).where(Enterprise.name.like(f"%{q}%"))
    if filters.get("overdue"):
        stmt = stmt.where(Plan.id.in_(select(CultivationTask.plan_id).where(overdue_condition())))
    if filters.get("mine") and user is not None:
        stmt = stmt.where(or_(Plan.commerce_officer_id == user.id, Plan.customs_officer_id == user.id))
    return stmt.order_by(Plan.target_application_on.asc().nulls_last(), Plan.id.desc())


def overdue_condition(today: date | None = None):
    today = today or local_today()
    return and_(CultivationTask.status != TaskStatus.DONE, CultivationTask.due_on < today)


def task_list(filters: Mapping[str, Any], user: Any = None) -> Select:
    """Tasks in scope: ``status``, ``overdue`` ("1"), ``mine`` ("1": owned by the user), ``open`` ("1")."""
    stmt = select(CultivationTask).options(
        selectinload(CultivationTask.plan).selectinload(Plan.enterprise),
        selectinload(CultivationTask.owner),
        selectinload(CultivationTask.owner_contact),
        selectinload(CultivationTask.items),
    )
    stmt = scoped_by_enterprise(stmt, CultivationTask.enterprise_id, user)
    status = (filters.get("status") or "").strip()
    if status in {s.value for s in TaskStatus}:
        stmt = stmt.where(CultivationTask.status == TaskStatus(status))
    if filters.get("open"):
        stmt = stmt.where(CultivationTask.status != TaskStatus.DONE)
    if filters.get("overdue"):
        stmt = stmt.where(overdue_condition())
    if filters.get("mine") and user is not None:
        stmt = stmt.where(CultivationTask.owner_id == user.id)
    if filters.get("plan_id"):
        stmt = stmt.where(CultivationTask.plan_id == int(filters["plan_id"]))
    return stmt.order_by(CultivationTask.due_on.asc().nulls_last(), CultivationTask.id)


def plan_tasks(plan: Plan) -> list[CultivationTask]:
    return list(
        db.session.scalars(
            select(CultivationTask)
            .where(CultivationTask.plan_id == plan.id)
            .options(
                selectinload(CultivationTask.owner),
                selectinload(CultivationTask.owner_contact),
                selectinload(CultivationTask.items),
            )
            .order_by(CultivationTask.due_on.asc().nulls_last(), CultivationTask.id)
        )
    )


def scoped_plan(plan_id: int, user: Any = None) -> Plan | None:
    return db.session.scalars(
        scoped_by_enterprise(select(Plan).where(Plan.id == plan_id), Plan.enterprise_id, user)
    ).first()


def scoped_task(task_id: int, user: Any = None) -> CultivationTask | None:
    stmt = select(CultivationTask).where(CultivationTask.id == task_id)
    return db.session.scalars(scoped_by_enterprise(stmt, CultivationTask.enterprise_id, user)).first()


def enterprise_plans(enterprise_id: int) -> list[Plan]:
    return list(
        db.session.scalars(select(Plan).where(Plan.enterprise_id == enterprise_id).order_by(Plan.id.desc()).limit(50))
    )


def active_templates() -> list[PlanTemplate]:
    return list(
        db.session.scalars(select(PlanTemplate).where(PlanTemplate.is_active.is_(True)).order_by(PlanTemplate.name))
    )


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise has plans."""
    return select(Plan.id).where(Plan.enterprise_id == Enterprise.id).exists()


@cache
def _plans_statement() -> Select:
    """The section's plans query, built once per process (the enterprise id is bound when it runs)."""
    return select(Plan).where(Plan.enterprise_id == bindparam("enterprise_id"))


def enterprise_section_context(enterprise: Enterprise, *, has_records: bool = True) -> dict[str, Any]:
    """What ``templates/plans/_enterprise_section.html`` needs, under the one key ``plans_section``.

    One query for the enterprise's plans (the open one, and whether earlier ones exist), and with an open plan
    its progress and open tasks; names come from the per-process cache. The caller has already checked the scope.
    ``has_records=False``: the caller knows the enterprise has no plan (no query).
    """
    from crm.reference.cache import user_names

    plans = db.session.scalars(_plans_statement(), {"enterprise_id": enterprise.id}).all() if has_records else []
    plan = min(
        (p for p in plans if p.status in OPEN_PLAN_STATUSES),
        key=lambda p: (p.status != PlanStatus.ACTIVE, -p.id),
        default=None,
    )
    today = local_today()
    overdue: list[CultivationTask] = []
    upcoming: list[CultivationTask] = []
    plan_progress = None
    if plan is not None:
        plan_progress, open_tasks = _progress_and_open_tasks(plan.id, today)
        overdue = [t for t in open_tasks if t.due_on is not None and t.due_on < today]
        upcoming = [t for t in open_tasks if not (t.due_on is not None and t.due_on < today)][:5]
    return {
        "plans_section": {
            "enterprise": enterprise,
            "plan": plan,
            "progress": plan_progress,
            "overdue": overdue,
            "upcoming": upcoming,
            "has_past_plans": any(p.status in (PlanStatus.COMPLETED, PlanStatus.ABANDONED) for p in plans),
            "today": today,
            "can_edit": has_permission(current_user, Permission.EDIT),
            "plan_url": url_for("plans.enterprise_plan", enterprise_id=enterprise.id),
            "new_url": url_for("plans.new_plan", enterprise_id=enterprise.id),
            "user_names": user_names(),
        }
    }


#: How many of the open plan's open tasks the enterprise page reads (the soonest due first).
SECTION_OPEN_TASKS = 50


@cache
def _section_tasks_statement() -> Select:
    """``_progress_and_open_tasks``' query, built once per process (the values are bound when it runs): the plan's
    open tasks, the soonest due first, each with the plan's counts (window sums over all its tasks), and one row
    more (its first task) when none is open, so the counts come whatever the tasks' states."""
    is_open = CultivationTask.status != TaskStatus.DONE
    ranked = (
        select(
            CultivationTask.id.label("id"),
            func.count(CultivationTask.id).over().label("total"),
            func.sum(case((CultivationTask.status == TaskStatus.DONE, 1), else_=0)).over().label("done"),
            func.sum(case((and_(is_open, CultivationTask.due_on < bindparam("today")), 1), else_=0))
            .over()
            .label("overdue"),
            func.row_number()
            .over(
                partition_by=case((is_open, 1), else_=0),
                order_by=(CultivationTask.due_on.asc().nulls_last(), CultivationTask.id),
            )
            .label("open_position"),
            func.row_number().over(order_by=CultivationTask.id).label("position"),
        )
        .where(CultivationTask.plan_id == bindparam("plan_id"))
        .subquery()
    )
    return (
        select(CultivationTask, ranked.c.total, ranked.c.done, ranked.c.overdue, ranked.c.open_position)
        .join(ranked, ranked.c.id == CultivationTask.id)
        .options(joinedload(CultivationTask.owner_contact))
        .where(or_(and_(is_open, ranked.c.open_position <= SECTION_OPEN_TASKS), ranked.c.position == 1))
    )


def _progress_and_open_tasks(plan_id: int, today: date) -> tuple[Progress, list[CultivationTask]]:
    """The plan's ``progress`` and its first ``SECTION_OPEN_TASKS`` open tasks (the soonest due first), in one
    query instead of two."""
    rows = db.session.execute(_section_tasks_statement(), {"plan_id": plan_id, "today": today}).unique().all()
    if not rows:
        return Progress(0, 0, 0), []
    first = rows[0]
    counts = Progress(int(first.done or 0), int(first.total or 0), int(first.overdue or 0))
    open_rows = sorted(
        (row for row in rows if row[0].status != TaskStatus.DONE and row.open_position <= SECTION_OPEN_TASKS),
        key=lambda row: row.open_position,
    )
    return counts, [row[0] for row in open_rows]


def task_timeline_answer(enterprise: Enterprise, context: dict[str, Any], wanted: int) -> list[Any] | None:
    """The task entries of the enterprise's timeline when the section shows it has no plan at all (tasks belong
    to plans): none. Otherwise None, and the timeline asks its provider."""
    section = context["plans_section"]
    return [] if section["plan"] is None and not section["has_past_plans"] else None


__all__ = [
    "active_templates",
    "enterprise_plans",
    "enterprise_section_context",
    "overdue_condition",
    "plan_list",
    "plan_tasks",
    "progress_of",
    "scoped_plan",
    "scoped_task",
    "task_list",
]
