"""Demo visits: a ``visits`` volume gives that many visits, each stage keeping its share."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from crm.demo.services import seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.visits.models import Visit, VisitStatus

NOW = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def _visits_per_enterprise(stage: str) -> float:
    visits = db.session.scalar(
        select(func.count(Visit.id))
        .join(Enterprise, Enterprise.id == Visit.enterprise_id)
        .where(Enterprise.stage == stage)
    )
    enterprises = db.session.scalar(select(func.count(Enterprise.id)).where(Enterprise.stage == stage))
    return visits / enterprises


def test_visits_volume_gives_that_many_visits_in_each_stage_s_proportion():
    seed_demo(enterprises=150, seed=5, now=NOW, volumes={"visits": 1_200})
    assert 1_180 <= db.session.scalar(select(func.count(Visit.id))) <= 1_220
    assert db.session.scalar(select(func.count(Visit.id)).where(Visit.status == VisitStatus.PLANNED))
    assert _visits_per_enterprise("cultivating") > 2 * _visits_per_enterprise("pooled")
    assert max(db.session.scalars(select(Visit.starts_at).where(Visit.status == VisitStatus.DONE))) <= NOW


def test_a_small_visits_volume_gives_fewer_visits():
    seed_demo(enterprises=150, seed=5, now=NOW, volumes={"visits": 60})
    assert 55 <= db.session.scalar(select(func.count(Visit.id))) <= 65


def test_seeded_enterprises_know_their_latest_visit():
    seed_demo(enterprises=60, seed=5, now=NOW, volumes={"visits": 300})
    latest = dict(
        db.session.execute(
            select(Visit.enterprise_id, func.max(Visit.starts_at))
            .where(Visit.status == VisitStatus.DONE)
            .group_by(Visit.enterprise_id)
        ).all()
    )
    stored = dict(db.session.execute(select(Enterprise.id, Enterprise.last_visit_at)).all())
    assert latest and {k: v for k, v in stored.items() if v is not None} == latest
