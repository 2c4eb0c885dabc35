"""Plan and cultivation-task operations. They flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select

from crm.core.timeutil import local_today
from crm.extensions import db
from crm.plans.models import CultivationTask, Plan, PlanStatus, TaskStatus


def active_plan(enterprise_id: int) -> Plan | None:
    """The enterprise's active 一企一策 plan, if it has one."""
    return db.session.scalars(
        select(Plan).where(Plan.enterprise_id == enterprise_id, Plan.status == PlanStatus.ACTIVE)
    ).first()


def create_task(
    plan: Plan,
    *,
    title: str,
    items: Iterable[Any] = (),
    owner: Any = None,
    owner_contact: Any = None,
    due_on: date | None = None,
    description: str = "",
    source_kind: str | None = None,
    source_id: int | None = None,
) -> CultivationTask:
    """Add a cultivation task to a plan (from the plan page, a visit, an event or the API)."""
    task = CultivationTask(
        plan=plan,
        enterprise_id=plan.enterprise_id,
        title=title.strip(),
        description=description,
        owner_id=getattr(owner, "id", None),
        owner_contact_id=getattr(owner_contact, "id", None),
        due_on=due_on,
        status=TaskStatus.TODO,
        source_kind=source_kind,
        source_id=source_id,
    )
    task.items = list(items)
    db.session.add(task)
    db.session.flush()
    return task


def complete_task(task: CultivationTask, *, note: str = "", on: date | None = None) -> None:
    """Mark a task done with its completion note and date (today in the CRM's time zone by default)."""
    task.status = TaskStatus.DONE
    task.completed_on = on or local_today()
    if note:
        task.completion_note = note
