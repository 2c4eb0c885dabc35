"""Hand-built data for the report tests: three enterprises in scope of a Fuzhou+Quanzhou manager, with known
stage histories, tasks, visits, a certification and an attendee, and one Xiamen enterprise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pytest

from crm.core.timeutil import local_tz
from crm.enterprises.models import TargetTier
from crm.events.models import Event, EventKind, EventStatus, Invitation, Registration
from crm.extensions import db
from crm.pipeline.models import Certification, CertificationOutcome, StageChange
from crm.plans.models import CultivationTask, Plan, TaskStatus
from crm.reference.models import KeyCategory
from crm.visits.models import Visit, VisitStatus

PERIOD = {"from": "2026-01-01", "to": "2026-06-30"}


def at(day: str, hour: int = 10) -> datetime:
    """A local (Asia/Shanghai) time as the aware datetime the models store."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=local_tz())


@dataclass
class World:
    fuzhou_a: Any
    fuzhou_b: Any
    quanzhou: Any
    xiamen: Any
    commerce: Any
    customs: Any


def _moves(enterprise, *moves: tuple[str | None, str, str]) -> None:
    """Moves in the order they happened, each with the time of the one before (as the service records them)."""
    entered = None
    for from_stage, to_stage, day in moves:
        db.session.add(
            StageChange(
                enterprise_id=enterprise.id,
                from_stage=from_stage,
                to_stage=to_stage,
                changed_at=at(day),
                from_stage_entered_at=entered,
            )
        )
        entered = at(day)


@pytest.fixture
def world(make_enterprise, make_user) -> World:
    commerce = make_user("bureau", areas=["350100"], display_name="商务张三")
    customs = make_user("customs", offices=["xm-quanzhou"], display_name="海关李四")
    categories = {c.code: c for c in db.session.scalars(db.select(KeyCategory))}
    fuzhou_a = make_enterprise(area="350100", office="fz-mawei", stage="cultivating", commerce_officer_id=commerce.id)
    fuzhou_b = make_enterprise(area="350100", office="fz-mawei", stage="withdrawn", target_tier=TargetTier.AEO)
    quanzhou = make_enterprise(area="350500", office="xm-quanzhou", stage="certified", customs_officer_id=customs.id)
    xiamen = make_enterprise(area="350200", office="xm-dongdu", stage="pooled", name="厦门区外测试有限公司")
    fuzhou_a.categories = [categories["high_tech"]]
    fuzhou_b.categories = [categories["high_tech"], categories["emerging"]]
    quanzhou.categories = [categories["emerging"]]
    _moves(
        fuzhou_a,
        (None, "candidate", "2026-01-05"),
        ("candidate", "pooled", "2026-01-15"),
        ("pooled", "cultivating", "2026-02-14"),
    )
    _moves(fuzhou_b, (None, "candidate", "2026-01-10"), ("candidate", "withdrawn", "2026-01-30"))
    _moves(
        quanzhou,
        (None, "candidate", "2026-02-01"),
        ("candidate", "pooled", "2026-02-05"),
        ("pooled", "certified", "2026-03-01"),
    )
    _moves(xiamen, (None, "candidate", "2026-01-02"), ("candidate", "pooled", "2026-01-12"))
    db.session.add(
        Certification(
            enterprise_id=quanzhou.id,
            outcome=CertificationOutcome.CERTIFIED,
            decided_on=date(2026, 3, 1),
            certificate_no="AEOCN-QZ-0001",
            tier=TargetTier.AEO_ADVANCED,
            cycle_start_on=date(2026, 3, 1),
        )
    )
    plan = Plan(enterprise_id=fuzhou_a.id)
    db.session.add(plan)
    db.session.flush()
    db.session.add_all(
        [
            CultivationTask(
                plan_id=plan.id,
                enterprise_id=fuzhou_a.id,
                title="完善内控制度",
                status=TaskStatus.DONE,
                due_on=date(2026, 2, 20),
                completed_on=date(2026, 2, 18),
            ),
            CultivationTask(plan_id=plan.id, enterprise_id=fuzhou_a.id, title="财务审计", due_on=date(2026, 3, 1)),
        ]
    )
    for enterprise, day, status in (
        (fuzhou_a, "2026-03-10", VisitStatus.DONE),
        (fuzhou_a, "2026-04-10", VisitStatus.PLANNED),
        (quanzhou, "2026-02-20", VisitStatus.DONE),
        (xiamen, "2026-02-20", VisitStatus.DONE),
    ):
        db.session.add(Visit(enterprise_id=enterprise.id, starts_at=at(day), status=status, officer_id=commerce.id))
    event = Event(
        title="AEO标准解读",
        kind=EventKind.STANDARD_INTERPRETATION,
        status=EventStatus.FINISHED,
        starts_at=at("2026-03-20", 9),
        ends_at=at("2026-03-20", 12),
    )
    db.session.add(event)
    db.session.flush()
    for n, enterprise in enumerate((fuzhou_a, quanzhou, xiamen)):
        invitation = Invitation(event_id=event.id, enterprise_id=enterprise.id, token_hash=f"{n:064d}")
        db.session.add(invitation)
        db.session.flush()
        db.session.add(
            Registration(
                event_id=event.id,
                invitation_id=invitation.id,
                enterprise_id=enterprise.id,
                name=f"学员{n}",
                mobile=f"1380000000{n}",
                checked_in_at=at("2026-03-20", 9),
            )
        )
    db.session.commit()
    return World(fuzhou_a, fuzhou_b, quanzhou, xiamen, commerce, customs)


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def bureau_fq(make_user):
    """A bureau user of Fuzhou and Quanzhou: everything but the Xiamen enterprise."""
    return make_user("bureau", areas=["350100", "350500"])
