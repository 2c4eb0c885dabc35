"""Reminder watchers for the certification deadlines (the contract is in ``crm/notifications/__init__.py``).

Each reads only: one range query on an indexed date column (or an aggregate of the yearly records), the
people to remind loaded with ``selectinload``, scope left to the sweep. The record of every reminder is the
enterprise; its ``due_on`` is the watched date, so a moved date (an extension, a new re-verification) is a new
reminder.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.notifications.models import ReminderRule
from crm.notifications.reminders import Due, Sweep, record_path
from crm.notifications.watchers import enterprise_recipient
from crm.pipeline import deadlines, queries
from crm.pipeline.models import Certification, ComplianceYear

BATCH = 500


def _people() -> tuple:
    """Loader options for the people ``enterprise_recipient`` reads."""
    return (
        selectinload(Enterprise.commerce_officer),
        selectinload(Enterprise.customs_officer),
        selectinload(Enterprise.coordinator),
    )


def _rows(stmt: Select) -> Iterator[Any]:
    """Rows of ``stmt`` (its first entity an Enterprise) in keyset pages of enterprise ids."""
    last_id = None
    while True:
        page = stmt.order_by(Enterprise.id).limit(BATCH)
        if last_id is not None:
            page = page.where(Enterprise.id > last_id)
        rows = db.session.execute(page).all()
        yield from rows
        if len(rows) < BATCH:
            return
        last_id = rows[-1][0].id


def _with_certification(*conditions: Any) -> Select:
    return (
        select(Enterprise, Certification)
        .join(Certification, Certification.enterprise_id == Enterprise.id)
        .where(*conditions)
        .options(*_people())
    )


def _due(rule: ReminderRule, enterprise: Enterprise, due_on: date, context: dict[str, Any]) -> Due:
    return Due(
        record=enterprise,
        due_on=due_on,
        recipients=[r for code in rule.recipients or {} if (r := enterprise_recipient(enterprise, code))],
        enterprise=enterprise,
        url=record_path("enterprises.detail", enterprise_id=enterprise.id),
        context=context,
    )


def certification_decisions(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """In certification without a decision, by the date the decision is due (acceptance + 90 or 120 days)."""
    first, last = sweep.anchor_range(rule)
    for enterprise, cert in _rows(_with_certification(queries.decision_due_condition(first, last))):
        yield _due(
            rule,
            enterprise,
            cert.decision_due_on,
            {"accepted_on": cert.accepted_on or "", "decision_due_on": cert.decision_due_on},
        )


def reverifications(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Certified, by re-verification due date (the cycle's start plus the configured number of years)."""
    first, last = sweep.anchor_range(rule)
    years = queries.reverification_cycle_years()
    stmt = _with_certification(queries.reverification_due_condition(first, last, cycle_years=years))
    for enterprise, cert in _rows(stmt):
        yield _due(
            rule,
            enterprise,
            deadlines.reverification_due(cert.cycle_start_on, years),
            {"certified_on": cert.decided_on or "", "certificate_no": cert.certificate_no or ""},
        )


def audited_reports(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Certified enterprises that owe the audited report due 30 June and have none recorded.

    The watched date is 30 June of the year the report is due; ``year`` in the texts is the year it covers.
    """
    first, last = sweep.anchor_range(rule)
    for due_year in range(first.year, last.year + 1):
        due_on = deadlines.report_due(due_year)
        if not first <= due_on <= last:
            continue
        stmt = select(Enterprise).where(queries.report_missing_condition(due_year)).options(*_people())
        for (enterprise,) in _rows(stmt):
            yield _due(rule, enterprise, due_on, {"year": due_year - 1})


def internal_audits(rule: ReminderRule, sweep: Sweep) -> Iterator[Due]:
    """Certified enterprises whose last recorded internal audit (or certification, when none) is a year old."""
    first, last = sweep.anchor_range(rule)
    # due_on = last audit + 1 year, within [first, last]: the last audit within the same window a year earlier.
    low = deadlines.earliest_start_due_on_or_after(first, 1)
    high = deadlines.latest_start_due_on_or_before(last, 1)
    audits = (
        select(ComplianceYear.enterprise_id, func.max(ComplianceYear.internal_audit_on).label("last_audit_on"))
        .where(ComplianceYear.internal_audit_done.is_(True), ComplianceYear.internal_audit_on.isnot(None))
        .group_by(ComplianceYear.enterprise_id)
        .subquery()
    )
    last_audit_on = func.coalesce(audits.c.last_audit_on, Certification.decided_on)
    stmt = (
        select(Enterprise, last_audit_on.label("last_audit_on"))
        .join(Certification, Certification.enterprise_id == Enterprise.id)
        .outerjoin(audits, audits.c.enterprise_id == Enterprise.id)
        .where(Enterprise.stage == queries.CERTIFIED, last_audit_on.between(low, high))
        .options(*_people())
    )
    for enterprise, audited_on in _rows(stmt):
        yield _due(rule, enterprise, deadlines.add_years(audited_on, 1), {"last_audit_on": audited_on})
