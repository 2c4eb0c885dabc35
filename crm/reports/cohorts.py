"""Cohorts (1+N groups) in reports, when the cohorts package is installed.

A cohort's enterprises are its lead (the "1") and its members (the "N"). An enterprise may belong to several
cohorts; grouped by cohort it counts once in each of its cohorts (and once in the totals).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, or_, select, union

try:  # the cohorts package is built in parallel; reports offer cohorts once it is there
    from crm.cohorts.models import Cohort, CohortMember
except ImportError:  # pragma: no cover - depends on the branch
    Cohort = CohortMember = None  # type: ignore[assignment,misc]

from crm.core.security import MAX_URL_INTEGER
from crm.enterprises.models import Enterprise
from crm.extensions import db

AVAILABLE = Cohort is not None


def parse_cohort(value: str) -> int:
    if not AVAILABLE or not value.isdigit() or not 1 <= int(value) <= MAX_URL_INTEGER:
        raise ValueError(_("Unknown cohort."))
    if db.session.get(Cohort, int(value)) is None:
        raise ValueError(_("Unknown cohort."))
    return int(value)


def cohort_condition(cohort_id: int) -> ColumnElement[bool]:
    """The enterprises of a cohort: its lead and its members."""
    if not AVAILABLE:
        return false()
    members = select(CohortMember.enterprise_id).where(CohortMember.cohort_id == cohort_id)
    lead = select(Cohort.lead_enterprise_id).where(Cohort.id == cohort_id)
    return or_(Enterprise.id.in_(members), Enterprise.id.in_(lead))


def cohort_choices() -> list[tuple[str, str]]:
    """The cohorts the current user sees (lead or a member in their scope)."""
    if not AVAILABLE:
        return []
    from crm.cohorts.queries import visible_condition

    stmt = select(Cohort).where(visible_condition()).order_by(Cohort.name, Cohort.id)
    return [(str(c.id), c.name) for c in db.session.scalars(stmt)]


def membership() -> Any:
    """(enterprise_id, key) pairs of cohort membership (lead and members), for the cohort grouping."""
    return union(
        select(Cohort.lead_enterprise_id.label("enterprise_id"), Cohort.id.label("key")),
        select(CohortMember.enterprise_id.label("enterprise_id"), CohortMember.cohort_id.label("key")),
    ).subquery()


def labels(keys: list[Any]) -> dict[Any, str]:
    if not AVAILABLE or not keys:
        return {}
    return {c.id: c.name for c in db.session.scalars(select(Cohort).where(Cohort.id.in_(keys)))}
