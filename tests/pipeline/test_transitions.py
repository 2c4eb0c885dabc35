"""The transition service: every guard of the domain's stage table, allowed and refused, and the history it keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from crm.enterprises.models import CreditStatus, CreditStatusChange
from crm.extensions import db
from crm.pipeline.models import LockoutCause, StageChange
from crm.pipeline.services import TransitionBlocked, TransitionRequest, plan_transition, transition

#: 2026-06-01 01:00 UTC: 09:00 on 1 June in Shanghai.
NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def move(enterprise, user, to, **inputs):
    return transition(enterprise, TransitionRequest(to=to, **inputs), by=user, now=NOW)


def refused(enterprise, user, to, **inputs) -> dict[str, list[str]]:
    with pytest.raises(TransitionBlocked) as caught:
        move(enterprise, user, to, **inputs)
    return caught.value.failures


def history(enterprise) -> list[StageChange]:
    return list(
        db.session.scalars(
            select(StageChange).where(StageChange.enterprise_id == enterprise.id).order_by(StageChange.id)
        )
    )


# --- screening: leaving candidate -------------------------------------------------------------------------


def test_screening_accepts_a_candidate_into_the_pool(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("candidate", owned=False)
    change = move(enterprise, commerce, "pooled", comment="符合入库条件")
    assert enterprise.stage == "pooled" and enterprise.stage_entered_at == NOW
    assert (change.from_stage, change.to_stage, change.changed_by_id) == ("candidate", "pooled", commerce.id)
    assert change.comment == "符合入库条件" and change.data == {"screening": "accepted"}


def test_screening_declines_a_candidate_with_a_reason_from_the_list(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("candidate")
    failures = refused(enterprise, commerce, "withdrawn")
    assert set(failures) == {"reason"}
    assert "reason" in refused(enterprise, commerce, "withdrawn", reason="no_such_reason")
    assert "reason" in refused(enterprise, commerce, "withdrawn", reason="financial_failed")  # a not_passed reason
    change = move(enterprise, commerce, "withdrawn", reason="declined_at_screening")
    assert enterprise.stage == "withdrawn"
    assert change.data == {"screening": "declined", "reason": "declined_at_screening"}


def test_a_candidate_cannot_skip_screening(in_stage, owners, activate_plan):
    commerce, _customs = owners
    enterprise = in_stage("candidate")
    activate_plan(enterprise)
    failures = refused(enterprise, commerce, "cultivating")
    assert "to" in failures and enterprise.stage == "candidate"


def test_an_inactive_reason_is_refused(in_stage, owners):
    from crm.pipeline.models import TransitionReason

    commerce, _customs = owners
    reason = db.session.scalars(select(TransitionReason).where(TransitionReason.code == "enterprise_declined")).one()
    reason.is_active = False
    enterprise = in_stage("pooled")
    assert "reason" in refused(enterprise, commerce, "withdrawn", reason="enterprise_declined")


# --- pooled: owners; cultivating: an active plan ------------------------------------------------------------


def test_leaving_the_pool_needs_both_owners(in_stage, owners, make_user):
    commerce, customs = owners
    enterprise = in_stage("pooled", owned=False)
    assert set(refused(enterprise, commerce, "cultivating")) == {"commerce_officer", "customs_officer"}
    enterprise.commerce_officer_id = commerce.id
    assert set(refused(enterprise, commerce, "cultivating")) == {"customs_officer"}
    enterprise.customs_officer_id = customs.id
    move(enterprise, commerce, "cultivating")
    assert enterprise.stage == "cultivating"


def test_leaving_cultivation_needs_an_active_plan(in_stage, owners, activate_plan, assess):
    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    assess(enterprise, "pass")
    assert set(refused(enterprise, commerce, "ready")) == {"active_plan"}
    activate_plan(enterprise)
    move(enterprise, commerce, "ready")
    assert enterprise.stage == "ready"


def test_a_draft_plan_does_not_count(in_stage, owners, assess):
    from crm.plans.models import Plan, PlanStatus

    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    assess(enterprise, "pass")
    db.session.add(Plan(enterprise_id=enterprise.id, status=PlanStatus.DRAFT))
    db.session.flush()
    assert "active_plan" in refused(enterprise, commerce, "ready")


# --- ready: a passing assessment or a manager's written override ---------------------------------------------


def test_ready_needs_the_latest_officer_assessment_to_pass(in_stage, owners, activate_plan, assess):
    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    activate_plan(enterprise)
    assert set(refused(enterprise, commerce, "ready")) == {"assessment"}
    assess(enterprise, "pass", on=date(2026, 1, 10))
    assess(enterprise, "fail", on=date(2026, 2, 10))  # the latest one fails
    assert set(refused(enterprise, commerce, "ready")) == {"assessment"}
    assess(enterprise, "pass", on=date(2026, 3, 10), draft=True)  # a draft does not count
    assert set(refused(enterprise, commerce, "ready")) == {"assessment"}
    assess(enterprise, "pass", on=date(2026, 4, 10))
    move(enterprise, commerce, "ready")
    assert enterprise.stage == "ready"


def test_leaving_ready_also_needs_the_assessment(in_stage, owners, assess):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    assert "assessment" in refused(enterprise, commerce, "applied", applied_on=date(2026, 5, 20))
    assess(enterprise, "pass")
    move(enterprise, commerce, "applied", applied_on=date(2026, 5, 20))
    assert enterprise.stage == "applied"


def test_a_manager_overrides_the_assessment_with_a_written_reason(in_stage, manager, activate_plan):
    enterprise = in_stage("cultivating")
    activate_plan(enterprise)
    failures = refused(enterprise, manager, "ready")
    assert set(failures) == {"assessment"}
    plan = plan_transition(enterprise, TransitionRequest(to="ready"), by=manager)
    assert "override_reason" in plan.inputs and plan.needs_dialog
    change = move(enterprise, manager, "ready", override_reason="现场核查已确认整改完成，评估表待补录")
    assert enterprise.stage == "ready"
    assert change.override_reason == "现场核查已确认整改完成，评估表待补录"
    assert change.data == {"overrides": ["assessment"]}
    # The override that let it into ``ready`` still stands when it leaves for ``applied``.
    move(enterprise, manager, "applied", applied_on=date(2026, 5, 30))
    assert enterprise.stage == "applied"


@pytest.mark.parametrize("role", ["bureau", "customs"])
def test_only_a_manager_may_override(in_stage, make_user, activate_plan, role):
    user = make_user(role, areas=["350500"]) if role == "bureau" else make_user(role, offices=["xm-quanzhou"])
    enterprise = in_stage("cultivating")
    activate_plan(enterprise)
    failures = refused(enterprise, user, "ready", override_reason="我认为已经达标")
    assert set(failures) == {"assessment", "override_reason"}
    plan = plan_transition(enterprise, TransitionRequest(to="ready"), by=user)
    assert "override_reason" not in plan.inputs and not plan.needs_dialog


def test_an_override_needs_a_written_reason(in_stage, manager, activate_plan):
    enterprise = in_stage("cultivating")
    activate_plan(enterprise)
    assert "assessment" in refused(enterprise, manager, "ready", override_reason="   ")


def test_an_override_does_not_lift_guards_that_are_not_judgements(in_stage, manager):
    enterprise = in_stage("cultivating")
    failures = refused(enterprise, manager, "ready", override_reason="特批")
    assert set(failures) == {"active_plan"}


# --- application, acceptance and decision ----------------------------------------------------------------------


def test_applied_needs_the_application_date(in_stage, owners, assess, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    assess(enterprise, "pass")
    assert set(refused(enterprise, commerce, "applied")) == {"applied_on"}
    assert set(refused(enterprise, commerce, "applied", applied_on=date(2026, 6, 2))) == {"applied_on"}  # future
    change = move(enterprise, commerce, "applied", applied_on=date(2026, 5, 28))
    assert change.data == {"applied_on": "2026-05-28"}
    assert certification_of(enterprise).applied_on == date(2026, 5, 28)


def test_in_certification_needs_the_acceptance_date_and_sets_the_decision_deadline(in_stage, owners, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    enterprise.stage = "applied"
    from crm.pipeline.models import Certification

    db.session.add(Certification(enterprise_id=enterprise.id, applied_on=date(2026, 5, 10)))
    db.session.flush()
    assert set(refused(enterprise, commerce, "in_certification")) == {"accepted_on"}
    failures = refused(enterprise, commerce, "in_certification", accepted_on=date(2026, 5, 1))
    assert set(failures) == {"accepted_on"}  # before the application
    change = move(enterprise, commerce, "in_certification", accepted_on=date(2026, 5, 15))
    assert change.data == {"accepted_on": "2026-05-15"}
    assert certification_of(enterprise).decision_due_on == date(2026, 8, 13)  # 90 days


def test_skipping_stages_needs_every_guard_on_the_way(in_stage, owners, activate_plan, assess, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    failures = refused(enterprise, commerce, "in_certification")
    assert set(failures) == {"active_plan", "assessment", "applied_on", "accepted_on"}
    activate_plan(enterprise)
    assess(enterprise, "pass")
    move(enterprise, commerce, "in_certification", applied_on=date(2026, 5, 2), accepted_on=date(2026, 5, 9))
    cert = certification_of(enterprise)
    assert (cert.applied_on, cert.accepted_on) == (date(2026, 5, 2), date(2026, 5, 9))


def test_certified_needs_decision_date_certificate_and_tier(in_stage, owners, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    from crm.pipeline.models import Certification

    db.session.add(
        Certification(enterprise_id=enterprise.id, applied_on=date(2026, 1, 5), accepted_on=date(2026, 1, 12))
    )
    db.session.flush()
    assert set(refused(enterprise, commerce, "certified")) == {"decided_on", "certificate_no", "tier"}
    failures = refused(
        enterprise, commerce, "certified", decided_on=date(2026, 1, 1), certificate_no="厦关企认〔2026〕3号", tier="x"
    )
    assert set(failures) == {"decided_on", "tier"}
    change = move(
        enterprise,
        commerce,
        "certified",
        decided_on=date(2026, 4, 8),
        certificate_no="厦关企认〔2026〕3号",
        tier="aeo_advanced",
    )
    assert change.data == {"decided_on": "2026-04-08", "certificate_no": "厦关企认〔2026〕3号", "tier": "aeo_advanced"}
    cert = certification_of(enterprise)
    assert (cert.certificate_no, cert.tier, cert.decided_on, cert.cycle_start_on) == (
        "厦关企认〔2026〕3号",
        "aeo_advanced",
        date(2026, 4, 8),
        date(2026, 4, 8),
    )
    assert cert.office.code == "xiamen"  # the district of 泉州海关
    assert enterprise.credit_status == CreditStatus.AEO_ADVANCED
    latest = db.session.scalars(
        select(CreditStatusChange).where(CreditStatusChange.enterprise_id == enterprise.id)
    ).one()
    assert (latest.status, latest.effective_on) == (CreditStatus.AEO_ADVANCED, date(2026, 4, 8))


def test_not_passed_needs_decision_date_and_reason_and_locks_out_a_year(in_stage, owners, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    assert set(refused(enterprise, commerce, "not_passed")) == {"decided_on", "reason"}
    change = move(enterprise, commerce, "not_passed", decided_on=date(2026, 5, 20), reason="financial_failed")
    assert change.data == {"decided_on": "2026-05-20", "reason": "financial_failed"}
    cert = certification_of(enterprise)
    assert cert.reapply_on == date(2027, 5, 20) and cert.lockout_cause == LockoutCause.NOT_PASSED
    assert cert.reason.code == "financial_failed"


def test_only_an_applicant_can_fail_certification(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    failures = refused(enterprise, commerce, "not_passed", decided_on=date(2026, 5, 20), reason="financial_failed")
    assert set(failures) == {"to"}


def test_withdrawing_an_application_locks_out_a_year_but_leaving_the_pool_does_not(in_stage, owners, certification_of):
    commerce, _customs = owners
    applicant = in_stage("applied")
    move(applicant, commerce, "withdrawn", reason="application_withdrawn")
    cert = certification_of(applicant)
    assert cert.reapply_on == date(2027, 6, 1) and cert.lockout_cause == LockoutCause.WITHDRAWN
    pooled = in_stage("pooled")
    move(pooled, commerce, "withdrawn", reason="enterprise_declined")
    assert certification_of(pooled) is None


def test_the_lock_out_refuses_a_new_application_before_its_end(in_stage, owners, manager, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    move(enterprise, commerce, "not_passed", decided_on=date(2025, 12, 1), reason="score_below_pass")
    failures = refused(enterprise, commerce, "applied", applied_on=date(2026, 5, 1), comment="整改后重新申请")
    assert set(failures) == {"reapply_on"}
    # The manager may let it through with a written reason.
    move(
        enterprise,
        manager,
        "applied",
        applied_on=date(2026, 5, 1),
        comment="整改后重新申请",
        override_reason="海关已书面同意受理",
    )
    cert = certification_of(enterprise)
    assert enterprise.stage == "applied" and cert.applied_on == date(2026, 5, 1)
    assert cert.decided_on is None and cert.outcome is None  # a new application


def test_a_discredited_enterprise_cannot_apply(in_stage, owners, assess):
    commerce, _customs = owners
    enterprise = in_stage("ready", credit_status=CreditStatus.DISCREDITED)
    assess(enterprise, "pass")
    assert "credit_status" in refused(enterprise, commerce, "applied", applied_on=date(2026, 5, 1))


def test_leaving_certified_ends_the_aeo_status(in_stage, owners, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("certified", credit_status=CreditStatus.AEO_ADVANCED)
    move(enterprise, commerce, "not_passed", decided_on=date(2026, 5, 3), reason="reverification_failed")
    assert enterprise.credit_status == CreditStatus.REGULAR
    assert certification_of(enterprise).reapply_on == date(2027, 5, 3)


# --- unknown, same-stage and backward moves ------------------------------------------------------------------


def test_unknown_and_same_stage_moves_are_refused(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("pooled")
    assert set(refused(enterprise, commerce, "nowhere")) == {"to"}
    assert set(refused(enterprise, commerce, "pooled")) == {"to"}
    assert set(refused(enterprise, commerce, "")) == {"to"}
    assert enterprise.stage == "pooled" and history(enterprise) == []


def test_moving_back_needs_a_comment_and_no_guard(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("in_certification", owned=False)
    assert set(refused(enterprise, commerce, "cultivating")) == {"comment"}
    change = move(enterprise, commerce, "cultivating", comment="海关退回补正，继续整改")
    assert enterprise.stage == "cultivating" and change.comment == "海关退回补正，继续整改"


def test_reopening_a_lost_enterprise_is_a_backward_move(in_stage, owners):
    commerce, _customs = owners
    enterprise = in_stage("withdrawn")
    assert set(refused(enterprise, commerce, "pooled")) == {"comment"}
    move(enterprise, commerce, "pooled", comment="企业重新申请入库")
    assert enterprise.stage == "pooled"


def test_a_refused_move_changes_nothing(in_stage, owners, certification_of):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    entered = enterprise.stage_entered_at
    refused(enterprise, commerce, "applied", applied_on=date(2026, 5, 1))
    db.session.flush()
    assert enterprise.stage == "ready" and enterprise.stage_entered_at == entered
    assert history(enterprise) == [] and certification_of(enterprise) is None


def test_each_move_records_a_history_row(in_stage, owners, activate_plan, assess):
    commerce, customs = owners
    enterprise = in_stage("candidate")
    move(enterprise, commerce, "pooled")
    move(enterprise, customs, "cultivating", comment="开始辅导")
    activate_plan(enterprise)
    assess(enterprise, "pass")
    move(enterprise, customs, "ready")
    rows = history(enterprise)
    assert [(r.from_stage, r.to_stage) for r in rows] == [
        ("candidate", "pooled"),
        ("pooled", "cultivating"),
        ("cultivating", "ready"),
    ]
    assert [r.changed_by_id for r in rows] == [commerce.id, customs.id, customs.id]
    assert rows[1].comment == "开始辅导" and all(r.changed_at == NOW for r in rows)
    assert all(r.enterprise_id == enterprise.id for r in rows)


# --- when the stage left was entered -----------------------------------------------------------------------


def test_each_move_keeps_when_the_enterprise_entered_the_stage_it_leaves(make_enterprise, owners):
    """``from_stage_entered_at`` is the time of the move before (what ``lag(changed_at)`` over the history gives),
    so reports read the days in a stage from one row."""
    from datetime import timedelta

    from crm.pipeline.services import enter_first_stage

    commerce, _customs = owners
    enterprise = make_enterprise(area="350500", office="xm-quanzhou", stage="candidate")
    first = enter_first_stage(enterprise, by=commerce)
    db.session.flush()
    pooled = transition(
        enterprise, TransitionRequest(to="pooled"), by=commerce, now=first.changed_at + timedelta(days=2)
    )
    withdrawn = transition(
        enterprise,
        TransitionRequest(to="withdrawn", reason="enterprise_declined"),
        by=commerce,
        now=first.changed_at + timedelta(days=5, hours=3),
    )
    assert first.from_stage_entered_at is None
    assert pooled.from_stage_entered_at == first.changed_at
    assert withdrawn.from_stage_entered_at == pooled.changed_at
