"""The pipeline's reminder watchers: certification decision, re-verification, audited report, internal audit.

Each rule fires on its local (Asia/Shanghai) day, to the enterprise's people, once per watched date.
"""

from __future__ import annotations

from datetime import UTC, date

import pytest

from crm.extensions import db
from crm.pipeline.models import Certification, ComplianceYear
from crm.pipeline.services import record_extension
from tests.notifications.conftest import at, reminders_of, sweep


@pytest.fixture
def coordinator(make_user):
    return make_user("customs", offices=["xiamen"])


def test_decision_due_in_14_days_reaches_the_customs_officer(in_stage, owners):
    _commerce, customs = owners
    enterprise = in_stage("in_certification")
    db.session.add(
        Certification(enterprise_id=enterprise.id, accepted_on=date(2026, 5, 15), decision_due_on=date(2026, 8, 13))
    )
    db.session.commit()
    before, after = at(2026, 7, 29, 23, 59), at(2026, 7, 30, 0, 1)
    assert before.astimezone(UTC).date() == after.astimezone(UTC).date()  # only the local day tells them apart
    sweep(before, "certification_decision_14d")
    assert reminders_of("certification_decision_14d") == []
    sweep(after, "certification_decision_14d")
    [reminder] = reminders_of("certification_decision_14d")
    assert (reminder.user_id, reminder.record_id, reminder.due_on) == (customs.id, enterprise.id, date(2026, 8, 13))
    sweep(at(2026, 7, 30, 15), "certification_decision_14d")
    assert len(reminders_of("certification_decision_14d")) == 1  # once
    # The extension moves the deadline: a new reminder 14 days before the new date.
    record_extension(enterprise, on=date(2026, 8, 1), today=date(2026, 8, 1))
    db.session.commit()
    sweep(at(2026, 8, 29, 8), "certification_decision_14d")
    assert [r.due_on for r in reminders_of("certification_decision_14d")] == [date(2026, 8, 13), date(2026, 9, 12)]


def test_a_decided_application_is_not_reminded(in_stage):
    enterprise = in_stage("certified")
    db.session.add(Certification(enterprise_id=enterprise.id, decision_due_on=date(2026, 8, 13)))
    db.session.commit()
    sweep(at(2026, 7, 30, 8), "certification_decision_14d")
    assert reminders_of("certification_decision_14d") == []


def test_reverification_90_and_30_days_before_reach_coordinator_and_officer(in_stage, owners, coordinator):
    _commerce, customs = owners
    enterprise = in_stage("certified", coordinator_id=coordinator.id)
    db.session.add(
        Certification(
            enterprise_id=enterprise.id,
            decided_on=date(2021, 6, 10),
            cycle_start_on=date(2021, 6, 10),
            certificate_no="厦关企认〔2021〕7号",
        )
    )
    db.session.commit()
    sweep(at(2026, 3, 11, 8), "reverification_90d")
    assert reminders_of("reverification_90d") == []
    sweep(at(2026, 3, 12, 8), "reverification_90d", "reverification_30d")
    assert {r.user_id for r in reminders_of("reverification_90d")} == {coordinator.id, customs.id}
    assert {r.due_on for r in reminders_of("reverification_90d")} == {date(2026, 6, 10)}
    assert reminders_of("reverification_30d") == []
    sweep(at(2026, 5, 11, 8), "reverification_30d")
    assert {r.user_id for r in reminders_of("reverification_30d")} == {coordinator.id, customs.id}


def test_audited_report_reminder_on_31_may_unless_recorded(in_stage, owners):
    _commerce, customs = owners
    owing = in_stage("certified")
    done = in_stage("certified")
    certified_late = in_stage("certified")
    for enterprise, decided in (
        (owing, date(2025, 1, 8)),
        (done, date(2025, 1, 8)),
        (certified_late, date(2026, 7, 2)),
    ):
        db.session.add(Certification(enterprise_id=enterprise.id, decided_on=decided))
    db.session.add(ComplianceYear(enterprise_id=done.id, year=2026, report_submitted=True))
    db.session.commit()
    sweep(at(2026, 5, 30, 8), "audited_report_due")
    assert reminders_of("audited_report_due") == []
    sweep(at(2026, 5, 31, 8), "audited_report_due")
    [reminder] = reminders_of("audited_report_due")
    assert (reminder.record_id, reminder.user_id, reminder.due_on) == (owing.id, customs.id, date(2026, 6, 30))


def test_internal_audit_a_year_after_the_last_one(in_stage, owners):
    _commerce, customs = owners
    audited = in_stage("certified")
    never_audited = in_stage("certified")
    recent = in_stage("certified")
    for enterprise in (audited, never_audited, recent):
        db.session.add(Certification(enterprise_id=enterprise.id, decided_on=date(2025, 3, 10)))
    db.session.add(
        ComplianceYear(
            enterprise_id=audited.id, year=2024, internal_audit_done=True, internal_audit_on=date(2024, 11, 1)
        )
    )
    db.session.add(
        ComplianceYear(
            enterprise_id=audited.id, year=2025, internal_audit_done=True, internal_audit_on=date(2025, 3, 10)
        )
    )
    db.session.add(
        ComplianceYear(enterprise_id=recent.id, year=2025, internal_audit_done=True, internal_audit_on=date(2025, 9, 1))
    )
    db.session.commit()
    sweep(at(2026, 3, 10, 8), "internal_audit_missing")
    reminded = {r.record_id for r in reminders_of("internal_audit_missing")}
    assert reminded == {audited.id, never_audited.id}
    assert {r.due_on for r in reminders_of("internal_audit_missing")} == {date(2026, 3, 10)}
    assert {r.user_id for r in reminders_of("internal_audit_missing")} == {customs.id}
