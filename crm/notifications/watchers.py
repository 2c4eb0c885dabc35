"""The watchers whose records exist today: cultivation tasks, stage SLAs, and plans' target application dates.

Each follows the contract of ``crm/notifications/__init__.py``: read-only, records of the sweep's window only,
recipients resolved from ``rule.recipients``, and scope left to the sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.core.timeutil import local_date, local_midnight
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.notifications.models import ReminderRule
from crm.notifications.reminders import Due, Recipient, Sweep, in_batches, record_path, user_recipient
from crm.notifications.templating import Localized
from crm.pipeline.models import Stage, StageKind
from crm.plans.models import CultivationTask, Plan, PlanStatus, TaskStatus

#: The stage an enterprise reaches by filing its application; it and every later stage count as "applied".
APPLIED_STAGE = "applied"


def enterprise_recipient(enterprise: Enterprise, code: str) -> Recipient | None:
    """The enterprise's commerce staff, customs officer or 企业协调员 for a recipient code."""
    user = {
        "commerce_officer": enterprise.commerce_officer,
        "customs_officer": enterprise.customs_officer,
        "coordinator": enterprise.coordinator,
    }.get(code)
    return user_recipient(user, code)


def _enterprise_people() -> tuple:
    """Loader options for the people ``enterprise_recipient`` reads (built on use: mappers configure lazily)."""
    return (
        selectinload(Enterprise.commerce_officer),
        selectinload(Enterprise.customs_officer),
        selectinload(Enterprise.coordinator),
    )


def _stage_name(stage: Stage | None) -> Localized | str:
    return Localized(stage.name_zh, stage.name_en) if stage is not None else ""


def cultivation_tasks(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Open cultivation tasks of plans in force, by due date (due in N days, due today, overdue)."""
    first, last = sweep.anchor_range(rule)
    stmt = (
        select(CultivationTask)
        .join(Plan, Plan.id == CultivationTask.plan_id)
        .where(
            CultivationTask.status != TaskStatus.DONE,
            CultivationTask.due_on >= first,
            CultivationTask.due_on <= last,
            Plan.status == PlanStatus.ACTIVE,
        )
        .options(
            selectinload(CultivationTask.owner).selectinload(User.manager),
            selectinload(CultivationTask.owner_contact),
            selectinload(CultivationTask.plan).selectinload(Plan.enterprise).options(*_enterprise_people()),
        )
    )
    for task in in_batches(stmt, CultivationTask.id):
        enterprise = task.plan.enterprise
        recipients: list[Recipient | None] = []
        for code in rule.recipients or {}:
            if code == "owner":
                if task.owner is not None:
                    recipients.append(user_recipient(task.owner, code))
                elif task.owner_contact is not None and task.owner_contact.email:
                    contact = task.owner_contact
                    recipients.append(Recipient(role=code, email=contact.email, name=contact.name))
            elif code == "owner_manager":
                recipients.append(user_recipient(task.owner.manager if task.owner is not None else None, code))
            else:
                recipients.append(enterprise_recipient(enterprise, code))
        owner: Any = task.owner or task.owner_contact
        yield Due(
            record=task,
            due_on=task.due_on,
            recipients=[r for r in recipients if r is not None],
            enterprise=enterprise,
            url=record_path("plans.plan_detail", plan_id=task.plan_id),
            context={"task": task.title, "owner": str(owner) if owner else "", "plan_goal": task.plan.goal},
        )


def stale_enterprises(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Enterprises past their stage's SLA; the watched date is the first day past it.

    Matches ``crm.pipeline.queries.stale_condition``: stale once more than ``sla_days`` local days in the stage,
    i.e. from local day (day entered + sla_days + 1). One range query per stage on (stage, stage_entered_at).
    """
    first, last = sweep.anchor_range(rule)
    stages = db.session.scalars(
        select(Stage).where(Stage.sla_days.isnot(None)).order_by(Stage.sort_order, Stage.code)
    ).all()
    for stage in stages:
        lead = timedelta(days=stage.sla_days + 1)
        stmt = (
            select(Enterprise)
            .where(
                Enterprise.stage == stage.code,
                Enterprise.stage_entered_at >= local_midnight(first - lead),
                Enterprise.stage_entered_at < local_midnight(last - lead + timedelta(days=1)),
            )
            .options(*_enterprise_people())
        )
        for enterprise in in_batches(stmt, Enterprise.id):
            entered_on = local_date(enterprise.stage_entered_at)
            yield Due(
                record=enterprise,
                due_on=entered_on + lead,
                recipients=[r for code in rule.recipients or {} if (r := enterprise_recipient(enterprise, code))],
                enterprise=enterprise,
                url=record_path("enterprises.detail", enterprise_id=enterprise.id),
                context={
                    "stage": _stage_name(stage),
                    "sla_days": stage.sla_days,
                    "days_in_stage": (sweep.today - entered_on).days,
                    "entered_on": entered_on,
                },
            )


def plan_targets_missed(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Plans in force whose target application date has passed while the enterprise has not applied.

    "Not applied" = the enterprise is in an open stage ordered before ``applied`` (stages are data: an
    administrator may reorder them, so the order is read, not assumed).
    """
    first, last = sweep.anchor_range(rule)
    applied_order = select(Stage.sort_order).where(Stage.code == APPLIED_STAGE).scalar_subquery()
    stmt = (
        select(Plan)
        .join(Enterprise, Enterprise.id == Plan.enterprise_id)
        .join(Stage, Stage.code == Enterprise.stage)
        .where(
            Plan.status == PlanStatus.ACTIVE,
            Plan.target_application_on >= first,
            Plan.target_application_on <= last,
            Stage.kind == StageKind.OPEN,
            Stage.sort_order < applied_order,
        )
        .options(
            selectinload(Plan.commerce_officer),
            selectinload(Plan.customs_officer),
            selectinload(Plan.enterprise).options(*_enterprise_people()),
        )
    )
    for plan in in_batches(stmt, Plan.id):
        enterprise = plan.enterprise
        recipients = []
        for code in rule.recipients or {}:
            # The plan's own officers first; the enterprise's when the plan names none.
            user = {"commerce_officer": plan.commerce_officer, "customs_officer": plan.customs_officer}.get(code)
            recipient = user_recipient(user, code) or enterprise_recipient(enterprise, code)
            if recipient is not None:
                recipients.append(recipient)
        yield Due(
            record=plan,
            due_on=plan.target_application_on,
            recipients=recipients,
            enterprise=enterprise,
            url=record_path("enterprises.detail", enterprise_id=enterprise.id),
            context={"stage": _stage_name(enterprise.stage_ref), "plan_goal": plan.goal},
        )
