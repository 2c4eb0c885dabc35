"""The demo data reaches every stage and follows certified enterprises after certification."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.demo.services import seed_demo
from crm.enterprises.models import CreditStatus, Enterprise
from crm.extensions import db
from crm.pipeline import queries
from crm.pipeline.models import BenefitRecord, Certification, CertificationOutcome, ComplianceYear, StageChange


def count(stmt) -> int:
    return db.session.scalar(stmt) or 0


def test_demo_has_certified_followed_stale_and_downgraded_enterprises():
    ctx = seed_demo(enterprises=600, seed=5)
    stages = set(db.session.scalars(select(Enterprise.stage).distinct()))
    assert stages == {
        "candidate",
        "pooled",
        "cultivating",
        "ready",
        "applied",
        "in_certification",
        "certified",
        "not_passed",
        "withdrawn",
    }
    certified = count(select(func.count()).where(Enterprise.stage == "certified"))
    with_certificate = count(
        select(func.count())
        .select_from(Certification)
        .where(Certification.outcome == CertificationOutcome.CERTIFIED, Certification.certificate_no.isnot(None))
    )
    assert certified == with_certificate > 0
    assert count(select(func.count()).select_from(ComplianceYear)) > 0
    assert count(select(func.count()).select_from(BenefitRecord)) > 0
    assert count(select(func.count()).where(Enterprise.incentives_suspended.is_(True))) > 0
    assert (
        count(select(func.count()).where(Enterprise.stage == "certified", Enterprise.coordinator_id.isnot(None)))
        == certified
    )
    assert count(select(func.count(Enterprise.id)).where(queries.stale_condition(ctx.today))) > 0
    pending = count(
        select(func.count())
        .select_from(Certification)
        .join(Enterprise)
        .where(Enterprise.stage == "in_certification", Certification.decision_due_on.isnot(None))
    )
    assert pending == count(select(func.count()).where(Enterprise.stage == "in_certification"))
    suspended_certified = count(
        select(func.count()).where(
            Enterprise.stage == "certified", Enterprise.credit_status == CreditStatus.DISCREDITED
        )
    )
    assert suspended_certified == count(
        select(func.count()).where(Enterprise.stage == "certified", Enterprise.incentives_suspended.is_(True))
    )
    # History stays coherent: each enterprise's latest change is into its current stage.
    latest = db.session.execute(
        select(StageChange.enterprise_id, StageChange.to_stage).order_by(StageChange.changed_at.desc()).limit(50)
    ).all()
    for enterprise_id, _to_stage in latest:
        last = db.session.scalars(
            select(StageChange.to_stage)
            .where(StageChange.enterprise_id == enterprise_id)
            .order_by(StageChange.changed_at.desc())
        ).first()
        assert last == db.session.get(Enterprise, enterprise_id).stage
    assert latest
