"""Fixtures for training events: a small standard, events, invitations with their link tokens."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.core.models import utcnow
from crm.enterprises.models import TargetTier
from crm.events.models import Event, EventKind, EventStatus, Invitation, InvitationSource
from crm.events.tokens import new_token
from crm.extensions import db
from crm.reference.models import RecommendingUnit
from crm.standards.models import StandardCategory, StandardClause, StandardItem, StandardVersion


def unit(code: str) -> RecommendingUnit:
    return db.session.scalars(select(RecommendingUnit).where(RecommendingUnit.code == code)).one()


@pytest.fixture
def standard_items() -> list[StandardItem]:
    """Three items of a test standard version (the real catalog is seeded elsewhere)."""
    version = StandardVersion(
        code="test-2026", title="测试标准", tier=TargetTier.AEO_ADVANCED, effective_on=date(2026, 1, 1)
    )
    category = StandardCategory(version=version, code="internal_control", name_zh="内部控制", sort_order=1)
    clause = StandardClause(category=category, number=1, title_zh="内部控制制度")
    items = [
        StandardItem(version=version, clause=clause, number=n, title_zh=title)
        for n, title in ((1, "关务负责人"), (2, "进出口单证控制"), (3, "信息系统控制"))
    ]
    db.session.add_all([version, category, clause, *items])
    db.session.commit()
    return items


@pytest.fixture
def make_event():
    """``make_event(organisers=("commerce-350500",), starts_in=timedelta(days=7), capacity=None, ...)``."""

    def factory(
        *,
        title: str = "高级认证标准解读会",
        kind: EventKind = EventKind.STANDARD_INTERPRETATION,
        organisers: tuple[str, ...] = ("commerce-350500",),
        status: EventStatus = EventStatus.PUBLISHED,
        starts_in: timedelta = timedelta(days=7),
        hours: float = 3,
        capacity: int | None = None,
        seats_per_enterprise: int | None = None,
        topics=(),
        created_by=None,
        venue: str = "泉州市商务局多功能厅",
    ) -> Event:
        starts_at = utcnow().replace(microsecond=0) + starts_in
        event = Event(
            title=title,
            kind=kind,
            status=status,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
            venue=venue,
            capacity=capacity,
            seats_per_enterprise=seats_per_enterprise,
            created_by_id=getattr(created_by, "id", None),
        )
        event.organisers = [unit(code) for code in organisers]
        event.topics = list(topics)
        db.session.add(event)
        db.session.commit()
        return event

    return factory


@pytest.fixture
def invite():
    """``invitation, token = invite(event, enterprise, email="...")``: an invitation with a known link token."""

    def factory(event: Event, enterprise, *, email: str = "") -> tuple[Invitation, str]:
        token, token_hash = new_token()
        invitation = Invitation(
            event=event,
            enterprise_id=enterprise.id,
            token_hash=token_hash,
            source=InvitationSource.SINGLE,
            email=email,
        )
        invitation.enterprise = enterprise
        db.session.add(invitation)
        db.session.commit()
        return invitation, token

    return factory
