"""Plan and cultivation-task operations. They flush; the caller commits.

An enterprise has at most one open plan (draft or active), and at most one active plan (a database index
guards the latter too). Tasks that came from a template keep their link to the template task: moving the
plan's target date (or start date) moves the due dates of the unfinished ones anchored to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, select

from crm.core.timeutil import local_today
from crm.enterprises.models import Contact, Enterprise, TargetTier
from crm.extensions import db
from crm.plans.models import (
    CultivationTask,
    OffsetAnchor,
    Plan,
    PlanStatus,
    PlanTemplate,
    PlanTemplateTask,
    TaskStatus,
    cultivation_task_items,
)
from crm.standards.models import AssessmentResult, Judgement, StandardItem, StandardVersion

OPEN_PLAN_STATUSES = (PlanStatus.DRAFT, PlanStatus.ACTIVE)
#: Tasks created from gaps fall due this many days before the target application date.
GAP_LEAD_DAYS = 30


class PlanError(ValueError):
    """A change that cannot be made; the message is shown to the user."""


# --- plans ------------------------------------------------------------------------------------------------


def active_plan(enterprise_id: int) -> Plan | None:
    """The enterprise's active 一企一策 plan, if it has one."""
    return db.session.scalars(
        select(Plan).where(Plan.enterprise_id == enterprise_id, Plan.status == PlanStatus.ACTIVE)
    ).first()


def open_plan(enterprise_id: int) -> Plan | None:
    """The enterprise's current plan: the active one, else its draft."""
    return db.session.scalars(
        select(Plan)
        .where(Plan.enterprise_id == enterprise_id, Plan.status.in_(OPEN_PLAN_STATUSES))
        .order_by(case((Plan.status == PlanStatus.ACTIVE, 0), else_=1), Plan.id.desc())
    ).first()


def _check_people(enterprise: Enterprise, commerce_officer: Any, customs_officer: Any, contact: Any) -> None:
    from crm.core.permissions import Role
    from crm.core.scope import build_scope

    errors = []
    for user, role, message in (
        (commerce_officer, Role.BUREAU, _("The responsible commerce staff must be a commerce-bureau user.")),
        (customs_officer, Role.CUSTOMS, _("The responsible customs officer must be a customs user.")),
    ):
        if user is None:
            continue
        if Role(user.role) is not role or not user.is_active:
            errors.append(message)
        elif not build_scope(user).contains(enterprise):
            errors.append(_("%(name)s cannot see this enterprise (outside their jurisdiction).", name=user))
    if contact is not None and contact.enterprise_id != enterprise.id:
        errors.append(_("The contact must be one of the enterprise's contacts."))
    if errors:
        raise PlanError(" ".join(errors))


def create_plan(
    enterprise: Enterprise,
    *,
    goal: str = "",
    target_tier: TargetTier | str | None = None,
    target_application_on: date | None = None,
    started_on: date | None = None,
    status: PlanStatus | str = PlanStatus.ACTIVE,
    commerce_officer: Any = None,
    customs_officer: Any = None,
    contact: Contact | None = None,
    measures: str = "",
    template: PlanTemplate | None = None,
    by: Any = None,
) -> Plan:
    """Start the enterprise's 一企一策 plan (optionally from a template); refused while another plan is open."""
    status = PlanStatus(status)
    if status not in OPEN_PLAN_STATUSES:
        raise PlanError(_("A new plan starts as a draft or in force."))
    if open_plan(enterprise.id) is not None:
        raise PlanError(_("The enterprise already has an open plan; complete or abandon it first."))
    if target_application_on and started_on and target_application_on < started_on:
        raise PlanError(_("The target application date cannot be before the start date."))
    _check_people(enterprise, commerce_officer, customs_officer, contact)
    plan = Plan(
        enterprise_id=enterprise.id,
        status=status,
        goal=goal.strip(),
        target_tier=TargetTier(target_tier) if target_tier else enterprise.target_tier,
        target_application_on=target_application_on,
        started_on=started_on or local_today(),
        commerce_officer_id=getattr(commerce_officer, "id", None),
        customs_officer_id=getattr(customs_officer, "id", None),
        contact_id=getattr(contact, "id", None),
        measures=measures.strip(),
        template_id=getattr(template, "id", None),
        created_by_id=getattr(by, "id", None),
        updated_by_id=getattr(by, "id", None),
    )
    db.session.add(plan)
    db.session.flush()
    if template is not None:
        apply_template(plan, template)
    return plan


def update_plan(plan: Plan, *, by: Any = None, **changes: Any) -> Plan:
    """Change a plan's fields; moving the target (or start) date moves the unfinished template tasks with it.

    Accepted keys: goal, target_tier, target_application_on, started_on, status, commerce_officer,
    customs_officer, contact, measures.
    """
    enterprise = db.session.get(Enterprise, plan.enterprise_id)
    people = {key: changes[key] for key in ("commerce_officer", "customs_officer", "contact") if key in changes}
    if people:
        _check_people(
            enterprise,
            people.get("commerce_officer"),
            people.get("customs_officer"),
            people.get("contact"),
        )
    if "status" in changes:
        new_status = PlanStatus(changes["status"])
        if new_status in OPEN_PLAN_STATUSES and plan.status not in OPEN_PLAN_STATUSES:
            other = open_plan(plan.enterprise_id)
            if other is not None and other.id != plan.id:
                raise PlanError(_("The enterprise already has an open plan; complete or abandon it first."))
        if new_status is PlanStatus.ACTIVE:
            other = active_plan(plan.enterprise_id)
            if other is not None and other.id != plan.id:
                raise PlanError(_("The enterprise already has an active plan."))
        plan.status = new_status
    old_target, old_start = plan.target_application_on, plan.started_on
    for key in ("goal", "measures"):
        if key in changes:
            plan.__setattr__(key, (changes[key] or "").strip())
    if changes.get("target_tier"):
        plan.target_tier = TargetTier(changes["target_tier"])
    if "target_application_on" in changes:
        plan.target_application_on = changes["target_application_on"]
    if changes.get("started_on"):
        plan.started_on = changes["started_on"]
    if plan.target_application_on and plan.started_on and plan.target_application_on < plan.started_on:
        raise PlanError(_("The target application date cannot be before the start date."))
    if "commerce_officer" in changes:
        plan.commerce_officer_id = getattr(changes["commerce_officer"], "id", None)
    if "customs_officer" in changes:
        plan.customs_officer_id = getattr(changes["customs_officer"], "id", None)
    if "contact" in changes:
        plan.contact_id = getattr(changes["contact"], "id", None)
    plan.updated_by_id = getattr(by, "id", None)
    db.session.flush()
    if plan.target_application_on != old_target:
        shift_anchored_tasks(plan, OffsetAnchor.TARGET, old_target, plan.target_application_on)
    if plan.started_on != old_start:
        shift_anchored_tasks(plan, OffsetAnchor.START, old_start, plan.started_on)
    return plan


def anchored_due_on(plan: Plan, template_task: PlanTemplateTask) -> date | None:
    """A template task's date in a plan: start + offset, or target − offset."""
    if template_task.anchor is OffsetAnchor.TARGET:
        anchor = plan.target_application_on
        return anchor - timedelta(days=template_task.offset_days) if anchor else None
    anchor = plan.started_on
    return anchor + timedelta(days=template_task.offset_days) if anchor else None


def shift_anchored_tasks(plan: Plan, anchor: OffsetAnchor, old: date | None, new: date | None) -> int:
    """Move the unfinished template tasks anchored to ``anchor`` after that date moved from ``old`` to ``new``.

    A dated task moves by the same number of days (so a hand-adjusted date keeps its adjustment); an undated
    one gets the template's date. Finished tasks keep their dates. Returns how many tasks moved.
    """
    if new is None:
        return 0
    tasks = db.session.scalars(
        select(CultivationTask)
        .join(PlanTemplateTask, CultivationTask.template_task_id == PlanTemplateTask.id)
        .where(
            CultivationTask.plan_id == plan.id,
            CultivationTask.status != TaskStatus.DONE,
            PlanTemplateTask.anchor == anchor,
        )
    ).all()
    moved = 0
    for task in tasks:
        if task.due_on is not None and old is not None:
            due = task.due_on + (new - old)
        else:
            due = anchored_due_on(plan, task.template_task)
        if due != task.due_on:
            task.due_on = due
            moved += 1
    db.session.flush()
    return moved


def plan_version(plan: Plan) -> StandardVersion | None:
    """The standard version the plan's tasks refer to: that of the latest assessment, else the one in force."""
    from crm.standards.services import current_version, latest_assessment

    latest = latest_assessment(plan.enterprise_id, include_drafts=True)
    if latest is not None:
        return latest.version
    return current_version(plan.target_tier)


def items_by_number(version: StandardVersion | None, numbers: Iterable[int]) -> tuple[list[StandardItem], list[int]]:
    """The items of a version with these numbers, and the numbers it does not have."""
    numbers = sorted({int(n) for n in numbers})
    if not numbers:
        return [], []
    if version is None:
        return [], numbers
    items = db.session.scalars(
        select(StandardItem)
        .where(StandardItem.version_id == version.id, StandardItem.number.in_(numbers))
        .order_by(StandardItem.number)
    ).all()
    found = {i.number for i in items}
    return list(items), [n for n in numbers if n not in found]


def apply_template(plan: Plan, template: PlanTemplate) -> list[CultivationTask]:
    """Add the template's tasks to the plan, dated from the plan's start and target dates."""
    version = plan_version(plan)
    tasks = []
    for template_task in template.tasks:
        items, _missing = items_by_number(version, template_task.item_numbers or [])
        task = create_task(
            plan,
            title=template_task.title,
            items=items,
            due_on=anchored_due_on(plan, template_task),
            description=template_task.description,
            source_kind="template",
            source_id=template.id,
        )
        task.template_task_id = template_task.id
        tasks.append(task)
    plan.template_id = template.id
    db.session.flush()
    return tasks


# --- tasks ------------------------------------------------------------------------------------------------


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
    title = (title or "").strip()
    if not title:
        raise PlanError(_("A task needs a title."))
    if owner is not None and owner_contact is not None:
        raise PlanError(_("A task has one owner: a user or a contact of the enterprise, not both."))
    if owner_contact is not None and owner_contact.enterprise_id != plan.enterprise_id:
        raise PlanError(_("The owner must be one of the enterprise's contacts."))
    task = CultivationTask(
        plan=plan,
        enterprise_id=plan.enterprise_id,
        title=title[:300],
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


def update_task(task: CultivationTask, **changes: Any) -> CultivationTask:
    """Change a task. Accepted keys: title, description, items, owner, owner_contact, due_on, status,
    completion_note, completed_on. Reaching 完成 records the completion date; leaving it clears it."""
    if "title" in changes:
        title = (changes["title"] or "").strip()
        if not title:
            raise PlanError(_("A task needs a title."))
        task.title = title[:300]
    if "description" in changes:
        task.description = changes["description"] or ""
    if "items" in changes:
        task.items = list(changes["items"])
    if "owner" in changes or "owner_contact" in changes:
        owner = changes.get("owner")
        contact = changes.get("owner_contact")
        if owner is not None and contact is not None:
            raise PlanError(_("A task has one owner: a user or a contact of the enterprise, not both."))
        if contact is not None and contact.enterprise_id != task.enterprise_id:
            raise PlanError(_("The owner must be one of the enterprise's contacts."))
        task.owner_id = getattr(owner, "id", None)
        task.owner_contact_id = getattr(contact, "id", None)
    if "due_on" in changes:
        task.due_on = changes["due_on"]
    if "completion_note" in changes:
        task.completion_note = changes["completion_note"] or ""
    if "status" in changes and changes["status"] is not None:
        status = TaskStatus(changes["status"])
        if status is TaskStatus.DONE:
            if task.status is not TaskStatus.DONE or changes.get("completed_on"):
                complete_task(task, note=changes.get("completion_note") or "", on=changes.get("completed_on"))
        else:
            task.status = status
            task.completed_on = None
    elif changes.get("completed_on") and task.status is TaskStatus.DONE:
        task.completed_on = changes["completed_on"]
    db.session.flush()
    return task


def delete_task(task: CultivationTask) -> None:
    db.session.delete(task)
    db.session.flush()


def is_overdue(task: CultivationTask, today: date | None = None) -> bool:
    return task.status is not TaskStatus.DONE and task.due_on is not None and task.due_on < (today or local_today())


def create_tasks_from_gaps(plan: Plan, *, by: Any = None) -> list[CultivationTask]:
    """One task per 不达标 or 基本达标 item of the enterprise's latest assessment, skipping items that already
    have an open task on any of the enterprise's plans. Returns the new tasks (none when there is no gap)."""
    from crm.standards.services import latest_assessment

    assessment = latest_assessment(plan.enterprise_id)
    if assessment is None:
        raise PlanError(_("The enterprise has no assessment yet: record one first."))
    gaps = db.session.execute(
        select(AssessmentResult, StandardItem)
        .join(StandardItem, AssessmentResult.item_id == StandardItem.id)
        .where(
            AssessmentResult.assessment_id == assessment.id,
            AssessmentResult.judgement.in_([Judgement.FAIL, Judgement.BASIC]),
            StandardItem.is_bonus.is_(False),  # a missed bonus is no gap
        )
        .order_by(StandardItem.number)
    ).all()
    covered = set(
        db.session.scalars(
            select(cultivation_task_items.c.item_id)
            .join(CultivationTask, CultivationTask.id == cultivation_task_items.c.task_id)
            .where(CultivationTask.enterprise_id == plan.enterprise_id, CultivationTask.status != TaskStatus.DONE)
        )
    )
    due_on = None
    if plan.target_application_on:
        due_on = max(plan.target_application_on - timedelta(days=GAP_LEAD_DAYS), local_today())
        due_on = min(due_on, plan.target_application_on)
    contact = db.session.get(Contact, plan.contact_id) if plan.contact_id else None
    created = []
    for result, item in gaps:
        if item.id in covered:
            continue
        description = _(
            "Judged %(judgement)s in the %(kind)s of %(day)s.",
            judgement=result.judgement.label,
            kind=assessment.kind.label,
            day=assessment.assessed_on.isoformat(),
        )
        if result.evidence:
            description += "\n" + result.evidence
        if item.guidance:
            description += "\n" + item.guidance
        task = create_task(
            plan,
            title=_("Rectify item %(n)s: %(title)s", n=item.number, title=item.title_zh),
            items=[item],
            owner_contact=contact,
            due_on=due_on,
            description=description,
            source_kind="assessment",
            source_id=assessment.id,
        )
        covered.add(item.id)
        created.append(task)
    return created


# --- progress ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    overdue: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def progress_of(plan_ids: Iterable[int], today: date | None = None) -> dict[int, Progress]:
    """Done / all and overdue counts of several plans in one aggregate query."""
    plan_ids = list(plan_ids)
    if not plan_ids:
        return {}
    today = today or local_today()
    rows = db.session.execute(
        select(
            CultivationTask.plan_id,
            func.count(CultivationTask.id),
            func.sum(case((CultivationTask.status == TaskStatus.DONE, 1), else_=0)),
            func.sum(
                case(
                    (and_(CultivationTask.status != TaskStatus.DONE, CultivationTask.due_on < today), 1),
                    else_=0,
                )
            ),
        )
        .where(CultivationTask.plan_id.in_(plan_ids))
        .group_by(CultivationTask.plan_id)
    ).all()
    result = {plan_id: Progress(0, 0, 0) for plan_id in plan_ids}
    for plan_id, total, done, overdue in rows:
        result[plan_id] = Progress(int(done or 0), int(total or 0), int(overdue or 0))
    return result


def progress(plan: Plan, today: date | None = None) -> Progress:
    return progress_of([plan.id], today)[plan.id]


def has_open_task_for(enterprise_id: int, item_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CultivationTask.id == cultivation_task_items.c.task_id,
                    cultivation_task_items.c.item_id == item_id,
                    CultivationTask.enterprise_id == enterprise_id,
                    CultivationTask.status != TaskStatus.DONE,
                )
            )
        )
    )


# --- templates --------------------------------------------------------------------------------------------


def save_template_task(
    template: PlanTemplate,
    task: PlanTemplateTask | None = None,
    *,
    title: str,
    anchor: OffsetAnchor | str,
    offset_days: int,
    description: str = "",
    item_numbers: Iterable[int] = (),
    sort_order: int | None = None,
) -> PlanTemplateTask:
    if task is None:
        if sort_order is None:
            sort_order = max((t.sort_order for t in template.tasks), default=0) + 10
        task = PlanTemplateTask(template_id=template.id)
    task.title = title.strip()[:300]
    task.anchor = OffsetAnchor(anchor)
    task.offset_days = int(offset_days)
    task.description = description
    task.item_numbers = sorted({int(n) for n in item_numbers})
    if sort_order is not None:
        task.sort_order = sort_order
    if task.id is None:
        db.session.add(task)
    db.session.flush()
    db.session.expire(template, ["tasks"])
    return task
