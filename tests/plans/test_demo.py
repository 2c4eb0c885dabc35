"""Demo data: assessments that pass, fail and are incomplete; plans and tasks for cultivated enterprises."""

from sqlalchemy import func, select

from crm.demo.services import seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.plans.demo import CLOSED_STAGES, OPEN_STAGES
from crm.plans.models import CultivationTask, Plan, PlanStatus, PlanTemplate, TaskStatus
from crm.standards import services
from crm.standards.models import Assessment, AssessmentKind, AssessmentOutcome


def test_demo_assessments_plans_and_tasks():
    seed_demo(enterprises=200, seed=5)
    outcomes = set(db.session.scalars(select(Assessment.outcome)))
    assert outcomes == {AssessmentOutcome.PASS, AssessmentOutcome.FAIL, AssessmentOutcome.INCOMPLETE}
    # Stored outcomes agree with the pass rule, and readiness with the latest assessment.
    for assessment in db.session.scalars(select(Assessment).limit(15)):
        evaluation = services.evaluate_assessment(assessment)
        assert (evaluation.outcome, evaluation.total) == (assessment.outcome, assessment.total)
    for enterprise in db.session.scalars(select(Enterprise).where(Enterprise.stage.in_(["ready", "certified"]))):
        latest = services.latest_assessment(enterprise.id, kind=AssessmentKind.OFFICER)
        assert latest is not None and latest.outcome is AssessmentOutcome.PASS
        assert enterprise.readiness_outcome == "pass"
    cultivating = db.session.scalars(select(Enterprise.id).where(Enterprise.stage == "cultivating")).all()
    assert cultivating and all(
        db.session.scalar(select(Plan.status).where(Plan.enterprise_id == eid)) is PlanStatus.ACTIVE
        for eid in cultivating
    )
    assert db.session.scalar(select(func.count(CultivationTask.id)).where(CultivationTask.status == TaskStatus.DONE))
    assert db.session.scalar(select(func.count(PlanTemplate.id))) == 2
    assert (
        db.session.scalar(
            select(func.count(Plan.id)).where(
                Plan.enterprise_id.in_(select(Enterprise.id).where(Enterprise.stage.in_(["candidate", "pooled"])))
            )
        )
        == 0
    )


def test_cultivation_tasks_volume_gives_that_many_tasks_over_a_plan_per_enterprise_that_gets_one():
    ctx = seed_demo(enterprises=120, seed=5, volumes={"cultivation_tasks": 1_500})
    total = db.session.scalar(select(func.count(CultivationTask.id)))
    assert 1_470 <= total <= 1_530
    eligible = {
        eid for eid, (_area, _office, stage) in ctx.enterprise_facts.items() if stage in OPEN_STAGES + CLOSED_STAGES
    }
    assert set(db.session.scalars(select(Plan.enterprise_id))) == eligible, "the volume needs every one of them"
    plans = db.session.scalar(select(func.count(Plan.id)))
    assert total / plans > 7, "more tasks per plan than the usual 3 to 7"
    today = ctx.today
    open_tasks = db.session.scalars(select(CultivationTask).where(CultivationTask.status != TaskStatus.DONE)).all()
    assert any(t.due_on < today for t in open_tasks) and any(t.due_on >= today for t in open_tasks)
    done = db.session.scalars(select(CultivationTask).where(CultivationTask.status == TaskStatus.DONE)).all()
    assert done and all(t.completed_on is not None and t.completed_on <= today for t in done)
    for task in db.session.scalars(select(CultivationTask).where(CultivationTask.id % 17 == 0)):
        plan = task.plan
        assert task.enterprise_id == plan.enterprise_id
        assert task.owner_id in {plan.commerce_officer_id, plan.customs_officer_id}
        assert plan.started_on < task.due_on


def test_a_small_cultivation_tasks_volume_gives_fewer_plans():
    seed_demo(enterprises=120, seed=5, volumes={"cultivation_tasks": 40})
    assert 38 <= db.session.scalar(select(func.count(CultivationTask.id))) <= 42
    assert db.session.scalar(select(func.count(Plan.id))) == 8
