"""Fixtures for visits: a small standard version, plans, visits and the form data a phone would send."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from crm.core.timeutil import local_today
from crm.enterprises.models import Contact, ContactRole, TargetTier
from crm.extensions import db
from crm.plans.models import Plan, PlanStatus
from crm.standards.models import StandardCategory, StandardClause, StandardItem, StandardVersion
from crm.standards.services import current_version
from crm.visits.models import VisitKind, VisitStatus
from crm.visits.services import VisitData, create_visit, local_datetime


@pytest.fixture
def standard() -> SimpleNamespace:
    """The advanced standard in force (the seeded 2026 standard; a small one when the seed data has none)."""
    version = current_version(TargetTier.AEO_ADVANCED)
    if version is None:
        version = StandardVersion(
            code="test-advanced",
            title="测试高级认证企业标准",
            tier=TargetTier.AEO_ADVANCED,
            effective_on=date(2020, 1, 1),
            rules={},
        )
        internal = StandardCategory(version=version, code="internal_control", name_zh="内部控制")
        security = StandardCategory(version=version, code="trade_security", name_zh="贸易安全")
        clause1 = StandardClause(category=internal, number=1, title_zh="关企沟通联络机制")
        clause2 = StandardClause(category=security, number=2, title_zh="场所安全")
        for number, clause, title in (
            (1, clause1, "建立关企沟通联络机制"),
            (2, clause1, "单证管理制度"),
            (3, clause2, "仓库监控覆盖"),
            (4, clause2, "人员进出管理"),
        ):
            StandardItem(version=version, clause=clause, number=number, title_zh=title)
        db.session.add(version)
        db.session.commit()
    items = list(version.items)
    return SimpleNamespace(version=version, items=items, by_number={i.number: i for i in items})


@pytest.fixture
def make_plan() -> Callable[..., Plan]:
    def factory(enterprise, status: PlanStatus = PlanStatus.ACTIVE) -> Plan:
        plan = Plan(enterprise_id=enterprise.id, status=status, goal="一企一策", started_on=local_today())
        db.session.add(plan)
        db.session.commit()
        return plan

    return factory


@pytest.fixture
def make_contact() -> Callable[..., Contact]:
    def factory(enterprise, name: str = "王关务", role: ContactRole = ContactRole.CUSTOMS_LEAD) -> Contact:
        contact = Contact(enterprise_id=enterprise.id, name=name, role=role)
        db.session.add(contact)
        db.session.commit()
        db.session.refresh(enterprise)
        return contact

    return factory


@pytest.fixture
def officer(make_user):
    """A customs officer of 马尾海关 (Fuzhou), where ``make_enterprise()`` puts enterprises by default."""
    return make_user("customs", offices=["fz-mawei"], display_name="林海关")


@pytest.fixture
def make_visit() -> Callable[..., Any]:
    """``make_visit(enterprise, officer, day=..., at=..., status=...)`` through the service, committed."""

    def factory(
        enterprise,
        user,
        *,
        day: date | None = None,
        at: time = time(10, 0),
        status: VisitStatus = VisitStatus.DONE,
        kind: VisitKind = VisitKind.ONSITE,
        participants=(),
        **values,
    ):
        day = day or local_today() - timedelta(days=1)
        data = VisitData(
            status=status,
            kind=kind,
            starts_at=local_datetime(day, at),
            officer=user,
            participants=[user, *participants],
            **values,
        )
        visit = create_visit(enterprise, data, by=user).visit
        db.session.commit()
        return visit

    return factory


def form_data(**overrides: Any) -> dict[str, Any]:
    """What the visit form posts for a visit that took place yesterday at 10:00, led by ``officer_id``."""
    day = local_today() - timedelta(days=1)
    data: dict[str, Any] = {
        "status": "done",
        "kind": "onsite",
        "visit_date": day.isoformat(),
        "visit_time": "10:00",
        "duration_minutes": "90",
        "location": "福州市马尾区",
        "attendee_names": "关务经理 王女士，财务总监 陈先生",
        "free_topics": "AEO互认\n内部审计",
        "summary": "查看单证管理流程。",
        "requests": "希望安排培训。",
        "findings-0-item_id": "",
        "findings-0-description": "",
        "findings-0-judgement": "",
        "follow_ups-0-title": "",
        "follow_ups-0-item_id": "",
        "follow_ups-0-owner": "",
        "follow_ups-0-due_on": "",
        "next_visit_on": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def checked_status(page: str) -> str | None:
    """The value of the status radio button checked in a rendered visit form."""
    for tag in re.findall(r'<input[^>]*name="status"[^>]*>', page):
        if re.search(r"\bchecked\b", tag):
            return re.search(r'value="([^"]+)"', tag).group(1)
    return None
