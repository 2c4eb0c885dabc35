"""Fixtures for the dashboard tests: stage history, visits, tasks and attendance built by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm.dashboard.queries import DashboardFilter
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.reference.models import Area, CustomsOffice
from tests.notifications.conftest import make_task  # noqa: F401

#: The year the hand-built figures fall into; filters cover it whole.
YEAR = 2026


def utc(year: int, month: int, day: int, hour: int = 4) -> datetime:
    """Noon in Shanghai by default (04:00 UTC), far from any local day boundary."""
    return datetime(year, month, day, hour, tzinfo=UTC)


def area_id(code: str) -> int:
    return db.session.scalars(select(Area.id).where(Area.code == code)).one()


def office_id(code: str) -> int:
    return db.session.scalars(select(CustomsOffice.id).where(CustomsOffice.code == code)).one()


@pytest.fixture
def history() -> Callable[..., StageChange]:
    """``history(enterprise, None, "candidate", at)``: one stage change, as the pipeline records it."""

    def factory(enterprise: Any, from_stage: str | None, to_stage: str, at: datetime) -> StageChange:
        change = StageChange(enterprise_id=enterprise.id, from_stage=from_stage, to_stage=to_stage, changed_at=at)
        db.session.add(change)
        db.session.commit()
        return change

    return factory


@pytest.fixture
def year_filter() -> Callable[..., DashboardFilter]:
    """``year_filter(user=None, area=None, office=None)``: the whole of YEAR (unrestricted without a user)."""

    def factory(user: Any = None, *, area: str | None = None, office: str | None = None, **values) -> DashboardFilter:
        values.setdefault("start", date(YEAR, 1, 1))
        values.setdefault("end", date(YEAR, 12, 31))
        return DashboardFilter(
            user=user,
            area_id=area_id(area) if area else None,
            office_id=office_id(office) if office else None,
            **values,
        )

    return factory
