"""Fixtures for the pipeline tests: owners, plans, assessments and enterprises placed in a stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from crm.enterprises.models import TargetTier
from crm.extensions import db
from crm.pipeline.models import Certification
from crm.plans.models import Plan, PlanStatus
from crm.standards.models import Assessment, AssessmentKind, AssessmentOutcome, StandardVersion

#: 2026-03-01 16:30 UTC is 2026-03-02 00:30 in Shanghai.
ENTERED = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)


@pytest.fixture
def owners(make_user) -> tuple[Any, Any]:
    """A Quanzhou commerce-bureau user and a customs officer of 泉州海关."""
    return make_user("bureau", areas=["350500"]), make_user("customs", offices=["xm-quanzhou"])


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def in_stage(make_enterprise, owners) -> Callable[..., Any]:
    """``in_stage("ready", owned=True)``: a Quanzhou enterprise in a stage (owners assigned unless owned=False)."""
    commerce, customs = owners

    def factory(stage: str, *, owned: bool = True, **values):
        if owned:
            values.setdefault("commerce_officer_id", commerce.id)
            values.setdefault("customs_officer_id", customs.id)
        values.setdefault("stage_entered_at", ENTERED)
        return make_enterprise(area="350500", office="xm-quanzhou", stage=stage, **values)

    return factory


@pytest.fixture
def activate_plan() -> Callable[[Any], Plan]:
    def factory(enterprise) -> Plan:
        plan = Plan(enterprise_id=enterprise.id, status=PlanStatus.ACTIVE, goal="通过高级认证")
        db.session.add(plan)
        db.session.commit()
        return plan

    return factory


@pytest.fixture
def assess() -> Callable[..., Assessment]:
    """``assess(enterprise, "pass")``: a completed officer pre-assessment with that outcome."""

    def factory(enterprise, outcome: str = "pass", *, on: date = date(2026, 2, 20), draft: bool = False):
        version = db.session.scalars(db.select(StandardVersion).where(StandardVersion.code == "test-2026")).first()
        if version is None:
            version = StandardVersion(code="test-2026", title="测试标准", tier=TargetTier.AEO_ADVANCED, rules={})
            db.session.add(version)
            db.session.flush()
        assessment = Assessment(
            enterprise_id=enterprise.id,
            version_id=version.id,
            kind=AssessmentKind.OFFICER,
            assessed_on=on,
            is_draft=draft,
            outcome=AssessmentOutcome(outcome),
            total=97 if outcome == "pass" else 90,
        )
        db.session.add(assessment)
        db.session.commit()
        return assessment

    return factory


@pytest.fixture
def certification_of() -> Callable[[Any], Certification | None]:
    def factory(enterprise) -> Certification | None:
        return db.session.get(Certification, enterprise.id)

    return factory
