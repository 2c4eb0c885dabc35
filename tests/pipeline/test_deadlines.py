"""Certification deadlines and their queries, reasoned about in Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from crm.core.settings import set_setting
from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline import deadlines, queries
from crm.pipeline.models import Certification, ComplianceYear
from crm.pipeline.services import TransitionRequest, record_extension, transition


def ids(condition) -> set[int]:
    return set(db.session.scalars(select(Enterprise.id).where(condition)))


def test_add_years_keeps_the_day_and_maps_29_february():
    assert deadlines.add_years(date(2026, 3, 2), 5) == date(2031, 3, 2)
    assert deadlines.add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert deadlines.add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert deadlines.decision_due(date(2026, 5, 15)) == date(2026, 8, 13)
    assert deadlines.decision_due(date(2026, 5, 15), extended=True) == date(2026, 9, 12)
    assert deadlines.reapply_after(date(2026, 5, 20)) == date(2027, 5, 20)


def test_the_acceptance_date_is_the_local_day_of_the_move(in_stage, owners):
    """A move at 16:30 UTC on 12 May is on 13 May in Shanghai: dates default to the local day."""
    commerce, _customs = owners
    enterprise = in_stage("applied")
    db.session.add(Certification(enterprise_id=enterprise.id, applied_on=date(2026, 5, 1)))
    late_evening_utc = datetime(2026, 5, 12, 16, 30, tzinfo=UTC)
    assert local_today(late_evening_utc) == date(2026, 5, 13)
    request = TransitionRequest(to="in_certification", accepted_on=date(2026, 5, 13))
    transition(enterprise, request, by=commerce, now=late_evening_utc)  # not "in the future" in Shanghai
    assert db.session.get(Certification, enterprise.id).decision_due_on == date(2026, 8, 11)


def test_decision_due_between_and_the_extension(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    cert = Certification(enterprise_id=enterprise.id, applied_on=date(2026, 5, 1), accepted_on=date(2026, 5, 15))
    cert.decision_due_on = deadlines.decision_due(cert.accepted_on)
    db.session.add(cert)
    db.session.flush()
    # Due on 13 August: in the window 30 July - 13 August, not in 14 - 31 August.
    assert enterprise.id in ids(queries.decision_due_condition(date(2026, 7, 30), date(2026, 8, 13)))
    assert enterprise.id not in ids(queries.decision_due_condition(date(2026, 8, 14), date(2026, 8, 31)))
    assert enterprise.id in ids(queries.decision_overdue_condition(date(2026, 8, 14)))
    assert enterprise.id not in ids(queries.decision_overdue_condition(date(2026, 8, 13)))
    record_extension(enterprise, on=date(2026, 8, 1), note="海关延期通知", today=date(2026, 8, 2))
    assert cert.decision_due_on == date(2026, 9, 12)
    assert enterprise.id in ids(queries.decision_due_condition(date(2026, 9, 1), date(2026, 9, 12)))
    assert enterprise.id not in ids(queries.decision_overdue_condition(date(2026, 8, 14)))
    with_user = db.session.execute(queries.decision_due_between(date(2026, 9, 1), date(2026, 9, 30), user=commerce))
    assert [(e.id, c.decision_due_on) for e, c in with_user] == [(enterprise.id, date(2026, 9, 12))]


def test_decision_queries_are_scoped(in_stage, make_user):
    enterprise = in_stage("in_certification")
    db.session.add(Certification(enterprise_id=enterprise.id, decision_due_on=date(2026, 8, 13)))
    db.session.flush()
    fuzhou = make_user("bureau", areas=["350100"])
    rows = db.session.execute(queries.decision_due_between(date(2026, 8, 1), date(2026, 8, 31), user=fuzhou)).all()
    assert rows == []


def test_a_decided_application_is_no_longer_due(in_stage):
    enterprise = in_stage("in_certification")
    db.session.add(
        Certification(enterprise_id=enterprise.id, decision_due_on=date(2026, 8, 13), decided_on=date(2026, 7, 1))
    )
    db.session.flush()
    assert enterprise.id not in ids(queries.decision_due_condition(date(2026, 8, 1), date(2026, 8, 31)))


def test_reverification_due_follows_the_configured_cycle(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("certified")
    db.session.add(
        Certification(enterprise_id=enterprise.id, decided_on=date(2021, 6, 10), cycle_start_on=date(2021, 6, 10))
    )
    db.session.flush()
    assert enterprise.id in ids(queries.reverification_due_condition(date(2026, 6, 1), date(2026, 6, 10)))
    assert enterprise.id not in ids(queries.reverification_due_condition(date(2026, 6, 11), date(2026, 9, 1)))
    set_setting("reverification_cycle_years", 3)
    assert enterprise.id in ids(queries.reverification_due_condition(date(2024, 6, 10), date(2024, 6, 10)))
    assert enterprise.id in ids(queries.reverification_overdue_condition(date(2024, 6, 11)))
    cert = db.session.get(Certification, enterprise.id)
    assert queries.reverification_due_on(cert) == date(2024, 6, 10)
    rows = db.session.execute(queries.reverification_due_between(date(2024, 6, 1), date(2024, 6, 30), user=commerce))
    assert [e.id for e, _c in rows] == [enterprise.id]


def test_reverification_window_over_29_february(in_stage):
    leap = in_stage("certified")
    db.session.add(Certification(enterprise_id=leap.id, cycle_start_on=date(2024, 2, 29)))
    db.session.flush()
    # Certified on 29 February 2024: due on 28 February 2029 (5 years, no 29 February).
    assert leap.id in ids(queries.reverification_due_condition(date(2029, 2, 28), date(2029, 2, 28)))
    assert leap.id not in ids(queries.reverification_due_condition(date(2029, 3, 1), date(2029, 3, 31)))
    assert leap.id not in ids(queries.reverification_due_condition(date(2029, 2, 1), date(2029, 2, 27)))
    assert deadlines.earliest_start_due_on_or_after(date(2028, 2, 29), 5) == date(2023, 3, 1)
    assert deadlines.latest_start_due_on_or_before(date(2029, 2, 28), 5) == date(2024, 2, 29)


def test_reapply_lockout_is_shown_and_filterable(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    transition(
        enterprise,
        TransitionRequest(to="not_passed", decided_on=date(2026, 5, 20), reason="compliance_failed"),
        by=commerce,
        now=datetime(2026, 5, 21, 2, tzinfo=UTC),
    )
    assert enterprise.id in ids(queries.reapply_locked_condition(date(2027, 5, 19)))
    assert enterprise.id not in ids(queries.reapply_locked_condition(date(2027, 5, 20)))
    rows = db.session.execute(queries.reapply_allowed_between(date(2027, 5, 1), date(2027, 5, 31), user=commerce))
    assert [(e.id, c.reapply_on) for e, c in rows] == [(enterprise.id, date(2027, 5, 20))]


def test_yearly_report_and_internal_audit_missing(in_stage, owners):
    commerce, _customs = owners
    done = in_stage("certified")
    missing = in_stage("certified")
    not_certified = in_stage("cultivating")
    db.session.add(ComplianceYear(enterprise_id=done.id, year=2026, report_submitted=True, internal_audit_done=False))
    db.session.add(ComplianceYear(enterprise_id=done.id, year=2025, report_submitted=True, internal_audit_done=True))
    db.session.add(ComplianceYear(enterprise_id=missing.id, year=2026, report_submitted=False))
    db.session.flush()
    report_missing = ids(queries.report_missing_condition(2026))
    assert missing.id in report_missing and done.id not in report_missing and not_certified.id not in report_missing
    assert done.id not in ids(queries.internal_audit_missing_condition(2025))
    assert done.id in ids(queries.internal_audit_missing_condition(2026))
    scoped = set(db.session.scalars(queries.report_missing(2026, user=commerce)))
    assert {e.id for e in scoped} >= {missing.id} and done.id not in {e.id for e in scoped}
    assert missing.id in {e.id for e in db.session.scalars(queries.internal_audit_missing(2025, user=commerce))}


def test_obligations_start_with_the_first_30_june_after_certification(in_stage):
    late = in_stage("certified")
    early = in_stage("certified")
    db.session.add(Certification(enterprise_id=late.id, decided_on=date(2026, 7, 29)))
    db.session.add(Certification(enterprise_id=early.id, decided_on=date(2026, 6, 30)))
    db.session.flush()
    owing = ids(queries.report_missing_condition(2026))
    assert early.id in owing and late.id not in owing
    assert late.id in ids(queries.report_missing_condition(2027))
    assert late.id not in ids(queries.internal_audit_missing_condition(2026))
    section = queries.enterprise_section_context(late, today=date(2026, 11, 1))["pipeline"]
    assert not section.owes(2026) and section.owes(2027)


def test_named_deadline_filters(in_stage):
    stale = in_stage("pooled", stage_entered_at=datetime(2020, 1, 1, tzinfo=UTC))
    for name, _label in queries.DEADLINE_FILTERS:
        assert queries.deadline_condition(name) is not None
    assert queries.deadline_condition("no-such-filter") is None
    assert stale.id in ids(queries.deadline_condition("stale"))
    stale.incentives_suspended = True
    db.session.flush()
    assert stale.id in ids(queries.deadline_condition("suspended"))


def test_stale_enterprises_are_scoped(in_stage, make_user):
    stale = in_stage("pooled", stage_entered_at=datetime(2020, 1, 1, tzinfo=UTC))
    quanzhou = make_user("bureau", areas=["350500"])
    fuzhou = make_user("bureau", areas=["350100"])
    assert stale.id in {e.id for e in db.session.scalars(queries.stale_enterprises(user=quanzhou))}
    assert stale.id not in {e.id for e in db.session.scalars(queries.stale_enterprises(user=fuzhou))}


def test_the_board_and_section_show_days_in_stage_across_midnight(in_stage):
    # Entered at 00:30 on 2 March in Shanghai (16:30 UTC on 1 March).
    enterprise = in_stage("pooled", stage_entered_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    rows = list(queries.load_card_rows([enterprise.id]).values())
    [card] = queries.build_cards(rows, today=date(2026, 3, 2))
    assert card.days_in_stage == 0 and not card.is_stale
    [card] = queries.build_cards(rows, today=date(2026, 4, 2))  # 31 days > SLA 30
    assert card.days_in_stage == 31 and card.is_stale
    section = queries.enterprise_section_context(enterprise, today=date(2026, 4, 1))["pipeline"]
    assert section.days_in_stage == 30 and not section.is_stale
