"""After certification: certificate, re-verification, yearly obligations, credit events, coordinator, benefits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.enterprises.models import CreditStatus, CreditStatusChange
from crm.extensions import db
from crm.pipeline import services
from crm.pipeline.models import BenefitRecord, Certification, ComplianceYear, LockoutCause
from crm.reference.models import SupportMeasure

TODAY = date(2026, 6, 1)


@pytest.fixture
def certified(in_stage):
    enterprise = in_stage("certified", credit_status=CreditStatus.AEO_ADVANCED)
    db.session.add(
        Certification(
            enterprise_id=enterprise.id,
            decided_on=date(2024, 3, 1),
            certificate_no="厦关企认〔2024〕8号",
            tier="aeo_advanced",
            cycle_start_on=date(2024, 3, 1),
        )
    )
    db.session.commit()
    return enterprise


def measure(number: int) -> SupportMeasure:
    return db.session.scalars(select(SupportMeasure).where(SupportMeasure.number == number)).one()


def test_extension_only_for_an_accepted_application(in_stage):
    enterprise = in_stage("in_certification")
    with pytest.raises(services.PipelineError) as caught:
        services.record_extension(enterprise, on=TODAY, today=TODAY)
    assert "extended_on" in caught.value.fields
    db.session.add(Certification(enterprise_id=enterprise.id, accepted_on=date(2026, 3, 10)))
    db.session.flush()
    cert = services.record_extension(enterprise, on=date(2026, 5, 20), note="延长30日", today=TODAY)
    assert cert.is_extended and cert.decision_due_on == date(2026, 7, 8)
    with pytest.raises(services.PipelineError):
        services.record_extension(enterprise, on=date(2026, 5, 21), today=TODAY)  # already recorded


def test_certificate_details_are_corrected(certified, owners):
    commerce, _customs = owners
    cert = services.update_certificate(
        certified,
        certificate_no="厦关企认〔2024〕9号",
        tier="aeo",
        decided_on=date(2024, 3, 2),
        office_id=None,
        by=commerce,
        today=TODAY,
    )
    assert (cert.certificate_no, cert.tier, cert.cycle_start_on) == ("厦关企认〔2024〕9号", "aeo", date(2024, 3, 2))
    assert certified.credit_status == CreditStatus.AEO
    with pytest.raises(services.PipelineError) as caught:
        services.update_certificate(
            certified, certificate_no=" ", tier="aeo", decided_on=date(2027, 1, 1), office_id=None, today=TODAY
        )
    assert set(caught.value.fields) == {"certificate_no", "decided_on"}


def test_a_passed_reverification_restarts_the_cycle(certified):
    cert = services.record_reverification(certified, on=date(2026, 5, 10), today=TODAY)
    assert cert.last_reverified_on == date(2026, 5, 10) and cert.cycle_start_on == date(2026, 5, 10)
    from crm.pipeline.queries import reverification_due_on

    assert reverification_due_on(cert) == date(2031, 5, 10)
    with pytest.raises(services.PipelineError):
        services.record_reverification(certified, on=date(2026, 1, 1), today=TODAY)  # before the cycle began


def test_yearly_internal_audit_and_report_are_recorded_per_year(certified, owners):
    commerce, _customs = owners
    row = services.record_compliance_year(
        certified,
        year=2026,
        internal_audit_done=False,
        report_submitted=True,
        report_submitted_on=date(2026, 5, 28),
        by=commerce,
        today=TODAY,
    )
    assert (row.year, row.report_submitted, row.internal_audit_done) == (2026, True, False)
    again = services.record_compliance_year(
        certified,
        year=2026,
        internal_audit_done=True,
        internal_audit_on=date(2026, 5, 30),
        report_submitted=True,
        today=TODAY,
    )
    assert again.id == row.id and again.internal_audit_done
    assert db.session.scalars(select(ComplianceYear).where(ComplianceYear.enterprise_id == certified.id)).all() == [row]
    with pytest.raises(services.PipelineError) as caught:
        services.record_compliance_year(
            certified,
            year=2027,
            internal_audit_done=False,
            internal_audit_on=date(2026, 1, 1),
            report_submitted=False,
            today=TODAY,
        )
    assert set(caught.value.fields) == {"year", "internal_audit_on"}


def test_a_downgrade_suspends_incentives_and_locks_out(certified, owners):
    commerce, _customs = owners
    event = services.record_credit_event(
        certified,
        status="discredited",
        effective_on=date(2026, 5, 15),
        source="海关企业信用状况认定决定书",
        by=commerce,
        today=TODAY,
    )
    assert event.status == CreditStatus.DISCREDITED and event.recorded_by_id == commerce.id
    assert certified.credit_status == CreditStatus.DISCREDITED and certified.incentives_suspended
    cert = db.session.get(Certification, certified.id)
    assert cert.reapply_on == date(2027, 5, 15) and cert.lockout_cause == LockoutCause.DOWNGRADED
    assert services.incentives_suspended_since(certified) == date(2026, 5, 15)
    # Restoration lifts the suspension; the year of lock-out runs again from the upgrade.
    services.record_credit_event(
        certified, status="regular", effective_on=date(2026, 5, 30), source="信用修复决定", today=TODAY
    )
    assert certified.credit_status == CreditStatus.REGULAR and not certified.incentives_suspended
    assert cert.reapply_on == date(2027, 5, 30) and cert.lockout_cause == LockoutCause.UPGRADED


def test_an_older_credit_event_is_history_only(certified):
    services.record_credit_event(
        certified, status="discredited", effective_on=date(2026, 5, 1), source="A", today=TODAY
    )
    services.record_credit_event(certified, status="regular", effective_on=date(2026, 5, 20), source="B", today=TODAY)
    services.record_credit_event(
        certified, status="severely_discredited", effective_on=date(2025, 1, 1), source="C", today=TODAY
    )
    assert certified.credit_status == CreditStatus.REGULAR and not certified.incentives_suspended
    count = db.session.scalars(select(CreditStatusChange).where(CreditStatusChange.enterprise_id == certified.id)).all()
    assert len(count) == 3


def test_a_credit_event_needs_a_source_and_a_past_date(certified):
    with pytest.raises(services.PipelineError) as caught:
        services.record_credit_event(certified, status="discredited", effective_on=date(2026, 7, 1), today=TODAY)
    assert set(caught.value.fields) == {"source", "effective_on"}
    assert certified.credit_status == CreditStatus.AEO_ADVANCED


def test_benefits_are_recorded_with_a_note_or_a_figure(certified, owners):
    commerce, _customs = owners
    record = services.record_benefit(
        certified,
        measure_id=measure(8).id,
        used_on=date(2026, 4, 2),
        figure=Decimal("2"),
        unit="个工作日",
        note="出口退税办理",
        by=commerce,
        today=TODAY,
    )
    assert (record.figure, record.unit, record.recorded_by_id) == (Decimal("2"), "个工作日", commerce.id)
    with pytest.raises(services.PipelineError) as caught:
        services.record_benefit(certified, measure_id=measure(8).id, used_on=date(2026, 4, 2), today=TODAY)
    assert set(caught.value.fields) == {"note"}
    with pytest.raises(services.PipelineError) as caught:
        services.record_benefit(certified, measure_id=measure(2).id, used_on=date(2026, 4, 2), note="x", today=TODAY)
    assert set(caught.value.fields) == {"measure_id"}  # measures 1-3 are cultivation, not benefits
    services.delete_benefit(record)
    assert db.session.scalars(select(BenefitRecord)).all() == []


def test_no_benefit_is_recorded_while_incentives_are_suspended(certified):
    services.record_credit_event(
        certified, status="discredited", effective_on=date(2026, 5, 1), source="A", today=TODAY
    )
    with pytest.raises(services.PipelineError) as caught:
        services.record_benefit(
            certified, measure_id=measure(5).id, used_on=date(2026, 5, 10), note="查验", today=TODAY
        )
    assert "used_on" in caught.value.fields
    earlier = services.record_benefit(
        certified, measure_id=measure(5).id, used_on=date(2026, 4, 10), note="查验率下降", today=TODAY
    )
    assert earlier.id is not None


def test_the_coordinator_is_a_customs_officer_covering_the_enterprise(certified, owners, make_user):
    commerce, customs = owners
    services.assign_coordinator(certified, customs)
    assert certified.coordinator_id == customs.id
    district = make_user("customs", offices=["xiamen"])
    services.assign_coordinator(certified, district)
    assert certified.coordinator_id == district.id
    for wrong in (commerce, make_user("customs", offices=["fz-mawei"])):
        with pytest.raises(services.PipelineError):
            services.assign_coordinator(certified, wrong)
    services.assign_coordinator(certified, None)
    assert certified.coordinator_id is None
