"""Demo data: assessments that pass, fail and are incomplete; plans and tasks for cultivated enterprises."""

from sqlalchemy import func, select

from crm.demo.services import seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db
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
