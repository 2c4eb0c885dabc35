"""Assessments: applicable items, judgements, the stored outcome, readiness kept in step, comparison."""

from datetime import date

import pytest
from sqlalchemy import select

from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.reference.models import BusinessType
from crm.standards import services
from crm.standards.models import Assessment, AssessmentKind, AssessmentOutcome, Judgement, StandardItem


def item(version, number) -> StandardItem:
    return db.session.scalars(
        select(StandardItem).where(StandardItem.version_id == version.id, StandardItem.number == number)
    ).one()


def test_the_2026_standard_is_seeded_with_74_items(version):
    assert version is not None and not version.is_verified
    assert len(version.items) == 74
    counts = {
        c.code: sum(1 for cl in c.clauses for _ in [i for i in version.items if i.clause_id == cl.id])
        for c in version.categories
    }
    assert counts == {"internal_control": 11, "finance": 4, "compliance": 28, "trade_security": 25, "bonus": 6}
    assert sorted(cl.number for c in version.categories for cl in c.clauses) == list(range(1, 25))
    assert [i.number for i in version.items if i.is_bonus] == [69, 70, 71, 72, 73, 74]
    assert {i.number: i.computed_from for i in version.items if i.computed_from} == {
        12: "audit_opinion",
        13: "solvency",
        14: "profitability",
    }
    assert version.rules["pass_line"] == 95 and version.rules["bonus_cap"] == 2 and version.rules["max_basic"] == 3
    assert all(i.title_zh and i.title_en for i in version.items)


def test_items_apply_by_business_type(version, make_enterprise):
    consignee = db.session.scalars(select(BusinessType).where(BusinessType.code == "consignee")).one()
    broker = db.session.scalars(select(BusinessType).where(BusinessType.code == "customs_broker")).one()
    unknown = make_enterprise()
    assert len(services.applicable_items(version, unknown)) == 74  # business types not recorded: every item
    trader = make_enterprise(business_types=[consignee])
    numbers = {i.number for i in services.applicable_items(version, trader)}
    assert 25 in numbers and 73 in numbers and 26 not in numbers
    agent = make_enterprise(business_types=[broker])
    numbers = {i.number for i in services.applicable_items(version, agent)}
    assert 26 in numbers and 25 not in numbers and 73 not in numbers


def test_an_assessment_stores_the_outcome_of_the_pass_rule(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    passing = make_assessment(enterprise, {3: "basic", 69: "pass"})
    assert (passing.outcome, passing.total, passing.bonus) == (AssessmentOutcome.PASS, 100, 1)
    failing = make_assessment(enterprise, {30: "fail"})
    assert (failing.outcome, failing.total) == (AssessmentOutcome.FAIL, 98)
    evaluation = services.evaluate_assessment(failing)
    assert evaluation.failing == [{"item": 30, "conditions": ["no_fail"]}]


def test_readiness_follows_the_latest_non_draft_assessment(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    assert enterprise.readiness_outcome is None
    first = make_assessment(enterprise, {13: "fail"}, kind="self", on=date(2026, 3, 1))
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("fail", 98)
    second = make_assessment(enterprise, {13: "basic"}, kind="officer", on=date(2026, 5, 1))
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("pass", 99)
    # A draft does not count, and an older assessment does not displace a newer one.
    make_assessment(enterprise, {10: "fail", 11: "fail"}, draft=True, on=date(2026, 6, 1))
    make_assessment(enterprise, {8: "pending"}, kind="self", on=date(2026, 4, 1))
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("pass", 99)
    # Changing a judgement of the latest one re-evaluates it.
    services.set_judgement(second, item(second.version, 40), Judgement.FAIL)
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("fail", 97)
    # Deleting it falls back to the next latest (the incomplete one of 1 April).
    services.delete_assessment(second)
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("incomplete", 100)
    services.update_assessment(first, assessed_on=date(2026, 4, 2))
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == ("fail", 98)
    for assessment in db.session.scalars(select(Assessment).where(Assessment.enterprise_id == enterprise.id)).all():
        services.delete_assessment(assessment)
    assert (enterprise.readiness_outcome, enterprise.readiness_total) == (None, None)


def test_officer_draft_and_set_judgement_contract(make_enterprise, make_user, version):
    officer = make_user("customs", offices=["fz-mawei"])
    enterprise = make_enterprise()
    draft = services.officer_draft(enterprise, by=officer)
    assert draft.is_draft and draft.kind is AssessmentKind.OFFICER and draft.version_id == version.id
    assert services.officer_draft(enterprise) is draft
    assert len(draft.results) == 74 and {r.judgement for r in draft.results} == {Judgement.PENDING}
    result = services.set_judgement(draft, item(version, 5), Judgement.BASIC, evidence="复核记录不全", by=officer)
    assert (result.judgement, result.evidence, result.judged_by_id) == (Judgement.BASIC, "复核记录不全", officer.id)
    assert result.judged_at is not None
    services.set_judgement(draft, item(version, 5), Judgement.PASS, by=officer)
    assert result.evidence == "复核记录不全"  # an empty evidence keeps the note
    assert draft.outcome is AssessmentOutcome.INCOMPLETE
    assert enterprise.readiness_outcome is None  # a draft is not readiness
    with pytest.raises(services.AssessmentError):
        services.set_judgement(draft, item(version, 70), Judgement.BASIC)


def test_record_judgements_refuses_unknown_items_and_changes_nothing(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    assessment = make_assessment(enterprise)
    with pytest.raises(services.AssessmentError):
        services.record_judgements(assessment, {5: (Judgement.FAIL, ""), 99: (Judgement.PASS, "")})
    assert assessment.outcome is AssessmentOutcome.PASS
    assert {r.judgement for r in assessment.results if r.item.number == 5} == {Judgement.PASS}


def test_compare_two_assessments(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    before = make_assessment(enterprise, {5: "fail", 9: "basic", 30: "basic", 44: "pending"}, on=date(2026, 3, 1))
    after = make_assessment(enterprise, {5: "basic", 9: "pass", 30: "fail", 44: "pass"}, on=date(2026, 6, 1))
    comparison = services.compare_assessments(after, before)
    assert comparison.earlier.id == before.id
    assert [i.number for i in comparison.improved] == [5, 9]
    assert [i.number for i in comparison.regressed] == [30]
    assert [i.number for i in comparison.changed] == [44]
    assert comparison.total_change == after.total - before.total


def test_financial_figures_judge_items_12_to_14_when_applied(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    assessment = make_assessment(enterprise, {12: "pending", 13: "pending", 14: "pending"})
    figures = {
        "is_production": False,
        "audit_opinion": "qualified",
        "lines": {
            "total_assets": 1000,
            "total_liabilities": 800,  # 80%: too high for a non-production enterprise
            "current_assets": 500,
            "current_liabilities": 400,  # current ratio 1.25: met
            "cash": 90,  # cash ratio 0.225: met
            "operating_cash_flow": 10,  # 0.025: not met
            "operating_revenue": 2000,
            "operating_cost": 1990,
            "operating_profit": 5,
            "total_profit": 5,
            "net_profit": 4,
        },
    }
    computed = services.save_financials(assessment, figures, apply=False)
    assert computed["solvency"].judgement is Judgement.PASS
    assert computed["profitability"].judgement is Judgement.PASS  # net profit > 0 and cash flow > 0
    assert computed["audit_opinion"].judgement is Judgement.BASIC
    judged = {r.item.number: r.judgement for r in assessment.results}
    assert judged[12] is Judgement.PENDING  # nothing applied yet
    services.save_financials(assessment, figures | {"lines": figures["lines"] | {"cash": 10}}, apply=True)
    judged = {r.item.number: r for r in assessment.results}
    assert judged[12].judgement is Judgement.BASIC
    assert judged[13].judgement is Judgement.BASIC  # only the current ratio is met now
    assert judged[14].judgement is Judgement.PASS
    assert "current_ratio" in judged[13].evidence
    assert (assessment.outcome, assessment.total) == (AssessmentOutcome.PASS, 98)
    assert db.session.get(Enterprise, enterprise.id).readiness_total == 98


def test_changing_business_types_evaluates_the_latest_assessment_again(make_enterprise, make_assessment, make_user):
    """Which items apply depends on the business types: items a change makes applicable are pending, and the stored
    outcome, the readiness badge and the page's gaps say so at once (judged items keep counting)."""
    from crm.enterprises.services import update_enterprise

    broker, consignee = (
        db.session.scalars(select(BusinessType).where(BusinessType.code == code)).one()
        for code in ("customs_broker", "consignee")
    )
    enterprise = make_enterprise(business_types=[broker])
    assessment = make_assessment(enterprise)
    assert (assessment.outcome, enterprise.readiness_outcome) == (AssessmentOutcome.PASS, "pass")
    update_enterprise(enterprise, {"business_types": [broker, consignee]}, by=make_user("manager"))
    db.session.commit()  # item 25 (consignees) now applies and is not judged yet
    assert (assessment.outcome, enterprise.readiness_outcome) == (AssessmentOutcome.INCOMPLETE, "incomplete")
