"""Membership rules, the roll-up on a hand-built cohort, group transitions, the priority flag."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.cohorts import queries, services
from crm.cohorts.models import ActivityKind, CohortActivity, CohortMember
from crm.enterprises.models import CreditStatus
from crm.extensions import db
from crm.pipeline.services import TransitionRequest


def test_lead_cannot_be_its_own_member(make_enterprise, make_cohort):
    lead = make_enterprise(name="母公司")
    cohort = make_cohort(lead=lead)
    with pytest.raises(services.CohortError) as refused:
        services.add_member(cohort, lead, "subsidiary")
    assert "lead_enterprise_id" in refused.value.fields or "enterprise_id" in refused.value.fields
    assert db.session.scalars(select(CohortMember)).all() == []


def test_an_enterprise_is_a_member_once_per_cohort_but_may_join_several(make_enterprise, make_cohort):
    member = make_enterprise(name="子公司")
    first = make_cohort(members=[(member, "subsidiary")])
    second = make_cohort(lead=make_enterprise(name="链主"), members=[(member, "supplier")], kind="supply_chain")
    with pytest.raises(services.CohortError):
        services.add_member(first, member, "branch")
    assert {m.cohort_id for m in db.session.scalars(select(CohortMember))} == {first.id, second.id}


def test_the_database_refuses_a_duplicate_member(make_enterprise, make_cohort):
    member = make_enterprise()
    cohort = make_cohort(members=[(member, "subsidiary")])
    db.session.add(CohortMember(cohort_id=cohort.id, enterprise_id=member.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_bulk_add_reports_the_lead_and_existing_members(make_enterprise, make_cohort):
    lead, old, new = make_enterprise(), make_enterprise(), make_enterprise()
    cohort = make_cohort(lead=lead, members=[(old, "customer")])
    result = services.add_members(cohort, [lead, old, new], "supplier")
    assert [m.enterprise_id for m in result.added] == [new.id]
    assert result.already == [old.id]
    assert result.lead_refused


def test_a_member_cannot_become_the_lead(make_enterprise, make_cohort):
    member = make_enterprise()
    cohort = make_cohort(members=[(member, "subsidiary")])
    with pytest.raises(services.CohortError):
        services.update_cohort(cohort, lead=member)


def test_rollup_on_a_hand_built_cohort(make_enterprise, make_cohort, make_assessment):
    pooled = make_enterprise(stage="pooled")
    ready_one = make_enterprise(stage="cultivating")
    certified = make_enterprise(stage="certified", credit_status=CreditStatus.AEO)
    failing = make_enterprise(stage="cultivating")
    cohort = make_cohort(
        members=[(pooled, "subsidiary"), (ready_one, "branch"), (certified, "supplier"), (failing, "customer")]
    )
    make_assessment(ready_one)  # every item passes
    make_assessment(failing, {13: "fail", 20: "fail"})
    make_assessment(certified, {13: "fail", 21: "basic"})

    rollup = queries.rollup([m.enterprise for m in cohort.members])

    assert rollup.members == 4
    assert {code: n for code, _name, n in rollup.per_stage} == {"pooled": 1, "cultivating": 2, "certified": 1}
    assert rollup.ready == 1 and rollup.ready_percent == 25
    assert rollup.certified == 1 and rollup.certified_percent == 25
    assert rollup.assessed == 3
    weakest = [(w.item.number, w.failing, w.basic) for w in rollup.weakest]
    assert weakest[0] == (13, 2, 0)
    assert (20, 1, 0) in weakest and (21, 0, 1) in weakest
    assert weakest.index((20, 1, 0)) < weakest.index((21, 0, 1))


def test_member_rows_show_tasks_and_the_last_visit(make_enterprise, make_cohort, make_user):
    from crm.plans.services import create_plan, create_task
    from crm.visits.models import Visit, VisitKind, VisitStatus
    from crm.visits.services import local_datetime

    officer = make_user("customs", offices=["fz-mawei"])
    member = make_enterprise(stage="cultivating")
    cohort = make_cohort(members=[(member, "subsidiary")])
    plan = create_plan(member)
    create_task(plan, title="内控制度", due_on=date(2020, 1, 1))
    create_task(plan, title="财务状况", due_on=date(2999, 1, 1))
    db.session.add(
        Visit(
            enterprise_id=member.id,
            status=VisitStatus.DONE,
            kind=VisitKind.ONSITE,
            starts_at=local_datetime(date(2026, 3, 2), time(10)),
            officer_id=officer.id,
        )
    )
    db.session.commit()
    [row] = queries.member_rows(cohort.members)
    assert (row.open_tasks, row.overdue_tasks) == (2, 1)
    assert row.last_visit_on == date(2026, 3, 2)


def test_group_transition_moves_the_allowed_and_reports_the_blocked(make_enterprise, make_cohort, make_user):
    manager = make_user("admin")
    bureau = make_user("bureau", areas=["350100"])
    customs = make_user("customs", offices=["fz-mawei"])
    ready = make_enterprise(stage="pooled", commerce_officer_id=bureau.id, customs_officer_id=customs.id)
    blocked = make_enterprise(stage="pooled")
    cohort = make_cohort(members=[(ready, "subsidiary"), (blocked, "branch")])

    result = services.move_members(cohort, [ready.id, blocked.id], TransitionRequest(to="cultivating"), by=manager)
    db.session.commit()

    assert [e.id for e in result.moved] == [ready.id]
    [(refused_id, _enterprise, failures)] = result.refused
    assert refused_id == blocked.id
    assert set(failures) == {"commerce_officer", "customs_officer"}
    assert db.session.get(type(ready), ready.id).stage == "cultivating"
    assert db.session.get(type(blocked), blocked.id).stage == "pooled"
    activity = db.session.scalars(select(CohortActivity).where(CohortActivity.kind == ActivityKind.TRANSITION)).one()
    assert activity.data["moved"] == [ready.id]
    assert set(activity.data["refused"][str(blocked.id)]) == {"commerce_officer", "customs_officer"}


@pytest.mark.parametrize(
    ("lead_status", "flagged"),
    [
        (CreditStatus.AEO_ADVANCED, True),
        (CreditStatus.AEO, True),
        (CreditStatus.REGULAR, False),
        (CreditStatus.DISCREDITED, False),
    ],
)
def test_members_of_a_cohort_led_by_an_aeo_enterprise_are_priority(make_enterprise, make_cohort, lead_status, flagged):
    lead = make_enterprise(credit_status=lead_status)
    member, outsider = make_enterprise(), make_enterprise()
    make_cohort(lead=lead, members=[(member, "supplier")])
    assert queries.priority_ids([member.id, outsider.id, lead.id]) == ({member.id} if flagged else set())


def test_priority_follows_the_leads_status(make_enterprise, make_cohort):
    lead = make_enterprise()
    member = make_enterprise()
    make_cohort(lead=lead, members=[(member, "supplier")])
    assert not queries.is_priority(member.id)
    lead.credit_status = CreditStatus.AEO_ADVANCED
    db.session.commit()
    assert queries.is_priority(member.id)


def test_joint_visit_and_template_reach_every_given_member(make_enterprise, make_cohort, make_user):
    from datetime import time

    from crm.plans.models import Plan, PlanTemplate, PlanTemplateTask
    from crm.visits.models import Visit, VisitKind
    from crm.visits.services import local_datetime

    officer = make_user("customs", offices=["fz-mawei"])
    a, b = make_enterprise(), make_enterprise()
    cohort = make_cohort(members=[(a, "subsidiary"), (b, "branch")])
    result = services.plan_joint_visit(
        cohort, [a.id, b.id], starts_at=local_datetime(date(2026, 12, 1), time(9)), officer=officer, by=officer
    )
    assert not result.refused
    visits = db.session.scalars(select(Visit).order_by(Visit.enterprise_id)).all()
    assert [(v.enterprise_id, v.kind) for v in visits] == [(a.id, VisitKind.JOINT), (b.id, VisitKind.JOINT)]

    template = PlanTemplate(name="集团共性整改", tasks=[PlanTemplateTask(title="建立关务制度", offset_days=30)])
    db.session.add(template)
    db.session.flush()
    outcome = services.apply_plan_template(cohort, template, [a.id, b.id], by=officer)
    assert {e.id for e in outcome.created} == {a.id, b.id}
    again = services.apply_plan_template(cohort, template, [a.id], by=officer)
    assert [e.id for e in again.skipped] == [a.id]
    plans = db.session.scalars(select(Plan)).all()
    assert all(p.tasks[0].title == "建立关务制度" for p in plans)
    kinds = [a.kind for a in queries.activities(cohort)]
    assert ActivityKind.JOINT_VISIT in kinds and ActivityKind.PLAN_TEMPLATE in kinds


def test_demo_has_cohorts_of_both_kinds_and_one_spanning_two_areas():
    from crm.cohorts.models import Cohort
    from crm.demo.services import seed_demo

    seed_demo(enterprises=60, seed=7)
    cohorts = db.session.scalars(select(Cohort)).all()
    assert {c.kind for c in cohorts} == {"group", "supply_chain"}
    assert all(m.enterprise_id != c.lead_enterprise_id for c in cohorts for m in c.members)
    spanning = [c for c in cohorts if len({m.enterprise.area_id for m in c.members} | {c.lead.area_id}) > 1]
    assert spanning


def test_merging_duplicates_moves_memberships_and_leads(make_enterprise, make_cohort, make_user):
    from crm.enterprises.related import merge_enterprises

    survivor, absorbed, other = make_enterprise(), make_enterprise(), make_enterprise()
    led = make_cohort(lead=absorbed, members=[(other, "supplier")])
    both = make_cohort(lead=other, members=[(survivor, "subsidiary"), (absorbed, "branch")])
    merge_enterprises(survivor, absorbed, {}, by=make_user("admin"))
    db.session.commit()
    assert db.session.get(type(led), led.id).lead_enterprise_id == survivor.id
    assert [m.enterprise_id for m in db.session.get(type(both), both.id).members] == [survivor.id]


def test_merging_a_lead_into_its_own_member_leaves_no_self_membership(make_enterprise, make_cohort, make_user):
    """The absorbed record led a cohort in which the survivor was a member: the survivor becomes its lead only."""
    from crm.enterprises.related import merge_enterprises

    survivor, absorbed, other = make_enterprise(), make_enterprise(), make_enterprise()
    cohort = make_cohort(lead=absorbed, members=[(survivor, "subsidiary"), (other, "supplier")])
    merge_enterprises(survivor, absorbed, {}, by=make_user("admin"))
    db.session.commit()
    merged = db.session.get(type(cohort), cohort.id)
    assert merged.lead_enterprise_id == survivor.id
    assert [m.enterprise_id for m in merged.members] == [other.id]
