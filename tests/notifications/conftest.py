"""Helpers for reminder tests: instants in Asia/Shanghai, tasks on plans in force, events with attendees, and
running a sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.core import jobs
from crm.events.models import (
    Event,
    EventKind,
    EventStatus,
    Invitation,
    InvitationSource,
    Registration,
    RegistrationStatus,
)
from crm.events.tokens import new_token
from crm.extensions import db
from crm.notifications.models import Notification, OutboxMessage, Reminder, ReminderRule
from crm.notifications.reminders import run_sweep
from crm.plans.models import Plan, PlanStatus
from crm.plans.services import create_task
from crm.reference.models import RecommendingUnit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An instant given in Asia/Shanghai local time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def sweep(now: datetime, *rule_codes: str) -> dict[str, Any]:
    """Run the sweep as the job does: one commit, then the queued delivery runs (in-process)."""
    report = run_sweep(now, rule_codes=rule_codes or None)
    db.session.commit()
    jobs.dispatch_ready()
    return report


def reminders_of(rule_code: str) -> list[Reminder]:
    return list(
        db.session.scalars(
            select(Reminder).join(ReminderRule).where(ReminderRule.code == rule_code).order_by(Reminder.id)
        )
    )


def recipients_of(rule_code: str) -> set[int | str]:
    return {r.user_id or r.to_address for r in reminders_of(rule_code)}


def outbox_of(user: Any) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user.id)))


def notifications_of(user: Any) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


def unit(code: str) -> RecommendingUnit:
    return db.session.scalars(select(RecommendingUnit).where(RecommendingUnit.code == code)).one()


def make_event(starts_at: datetime, *, created_by: Any = None, status: EventStatus = EventStatus.PUBLISHED) -> Event:
    event = Event(
        title="高级认证标准解读会",
        kind=EventKind.STANDARD_INTERPRETATION,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=3),
        venue="泉州市商务局多功能厅",
        created_by_id=getattr(created_by, "id", None),
    )
    event.organisers = [unit("commerce-350500")]
    db.session.add(event)
    db.session.commit()
    return event


def register(event: Event, enterprise: Any, *people: tuple[str, str], status=RegistrationStatus.REGISTERED) -> None:
    """Register (name, email) attendees of an enterprise."""
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.event_id == event.id, Invitation.enterprise_id == enterprise.id)
    ).one_or_none()
    if invitation is None:
        invitation = Invitation(
            event_id=event.id, enterprise_id=enterprise.id, token_hash=new_token()[1], source=InvitationSource.SINGLE
        )
        db.session.add(invitation)
        db.session.flush()
    for n, (name, email) in enumerate(people):
        db.session.add(
            Registration(
                event_id=event.id,
                invitation_id=invitation.id,
                enterprise_id=enterprise.id,
                name=name,
                mobile=f"1380000{n:04d}",
                email=email,
                status=status,
            )
        )
    db.session.commit()


@pytest.fixture
def make_task(make_enterprise) -> Callable[..., Any]:
    """``make_task(owner=user, due_on=date(...))``: an open task on a plan in force of a new enterprise."""

    def factory(
        *,
        due_on: date,
        owner: Any = None,
        owner_contact: Any = None,
        enterprise: Any = None,
        plan_status: PlanStatus = PlanStatus.ACTIVE,
        title: str = "完善单证管理内部控制制度",
    ):
        enterprise = enterprise or make_enterprise(stage="cultivating")
        plan = Plan(enterprise_id=enterprise.id, status=plan_status, goal="年内申请高级认证")
        db.session.add(plan)
        db.session.flush()
        task = create_task(plan, title=title, owner=owner, owner_contact=owner_contact, due_on=due_on)
        db.session.commit()
        return task

    return factory
