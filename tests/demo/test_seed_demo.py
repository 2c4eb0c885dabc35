"""``flask crm seed-demo``: deterministic, realistic, every area and office, users of every role."""

import itertools
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from crm.auth.models import User
from crm.core.permissions import Role
from crm.demo.services import DEMO_VOLUMES, seed_demo
from crm.enterprises.identifiers import validate_uscc
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.reference.models import Area


def test_demo_covers_every_area_stage_and_role():
    ctx = seed_demo(enterprises=400, seed=7)
    enterprises = db.session.scalars(select(Enterprise)).all()
    assert len(enterprises) == 400
    assert {e.area_id for e in enterprises} == set(db.session.scalars(select(Area.id)))
    assert {e.stage for e in enterprises} >= {"candidate", "pooled", "cultivating", "certified", "withdrawn"}
    for enterprise in enterprises:
        assert validate_uscc(enterprise.uscc) == enterprise.uscc
        assert (
            enterprise.office is None or enterprise.office.serves(enterprise.area) or enterprise.office.parent is None
        )
    roles = set(db.session.scalars(select(User.role)))
    assert roles == set(Role)
    assert set(ctx.passwords) >= {"admin", "manager", "viewer", "bureau.quanzhou", "customs.fuzhou"}
    history = db.session.scalar(select(func.count(StageChange.id)))
    assert 400 <= history <= 400 * 7, "one move per stage on the path unless a volume asks for more"
    assert db.session.scalar(select(func.count(StageChange.id)).where(StageChange.comment != "")) == 0
    latest = db.session.scalars(select(StageChange).order_by(StageChange.changed_at.desc())).first()
    owner = db.session.get(Enterprise, latest.enterprise_id)
    assert owner.stage == latest.to_stage


def test_demo_is_deterministic():
    first = seed_demo(enterprises=20, seed=11)
    names = [db.session.get(Enterprise, i).name for i in range(first.first_enterprise_id, first.last_enterprise_id + 1)]
    db.session.rollback()
    second = seed_demo(enterprises=20, seed=11)
    again = [
        db.session.get(Enterprise, i).name for i in range(second.first_enterprise_id, second.last_enterprise_id + 1)
    ]
    assert names == again


def test_demo_cli_prints_logins_and_runs_once_with_if_empty(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "seed-demo", "--enterprises", "15", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "admin" in result.output
    again = runner.invoke(args=["crm", "seed-demo", "--if-empty"])
    assert "already present" in again.output
    assert db.session.scalar(select(func.count(Enterprise.id))) == 15


def test_stage_changes_volume_adds_back_and_forth_history_ending_in_the_current_stage():
    ctx = seed_demo(enterprises=300, seed=5, volumes={"stage_changes": 3_000})
    total = db.session.scalar(select(func.count(StageChange.id)))
    assert 2_950 <= total <= 3_050
    backwards = db.session.scalars(select(StageChange).where(StageChange.comment != "")).all()
    assert backwards, "extra history is made of moves back and forward again"
    for enterprise_id in range(ctx.first_enterprise_id, ctx.last_enterprise_id + 1, 7):
        moves = db.session.scalars(
            select(StageChange).where(StageChange.enterprise_id == enterprise_id).order_by(StageChange.changed_at)
        ).all()
        assert moves[0].from_stage is None
        assert all(later.from_stage == earlier.to_stage for earlier, later in itertools.pairwise(moves))
        assert moves[-1].to_stage == db.session.get(Enterprise, enterprise_id).stage


def test_demo_cli_passes_volumes_and_names_those_no_seeder_uses_yet(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["crm", "seed-demo", "--enterprises", "40", "--volume", "stage_changes=400", "--volume", "no_such=5"]
    )
    assert result.exit_code == 0, result.output
    assert "no demo seeder uses the volume 'no_such'" in result.output
    assert 380 <= db.session.scalar(select(func.count(StageChange.id))) <= 420
    bad = runner.invoke(args=["crm", "seed-demo", "--volume", "stage_changes"])
    assert bad.exit_code != 0
    assert "NAME=COUNT" in bad.output


def test_after_the_demo_new_rows_get_fresh_ids_on_postgresql(postgres):
    """The demo bulk-inserts explicit ids; every such table's sequence then continues past the highest one."""
    from crm.events.models import Feedback, Invitation, Registration
    from crm.plans.models import CultivationTask, Plan
    from crm.standards.models import Assessment

    seed_demo(enterprises=60, seed=5)
    for model in (Enterprise, Assessment, Plan, CultivationTask, Invitation, Registration, Feedback):
        table = model.__table__
        highest = db.session.scalar(select(func.max(table.c.id))) or 0
        following = db.session.scalar(select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))))
        assert following == highest + 1, table.name


def test_every_volume_the_benchmark_passes_is_honoured(app):
    """``bench/settings.py`` asks for these; seed-demo names none of them as ignored and makes each total."""
    from bench.settings import VOLUMES_PER_ENTERPRISE
    from crm.events.models import Event
    from crm.plans.models import CultivationTask
    from crm.visits.models import Visit

    assert set(VOLUMES_PER_ENTERPRISE) <= set(DEMO_VOLUMES)
    volumes = {"stage_changes": 800, "cultivation_tasks": 400, "visits": 400, "events": 16}
    runner = app.test_cli_runner()
    args = ["crm", "seed-demo", "--enterprises", "80"]
    result = runner.invoke(args=[*args, *(f"--volume={name}={count}" for name, count in volumes.items())])
    assert result.exit_code == 0, result.output
    assert "no demo seeder uses" not in result.output
    counted = {
        name: db.session.scalar(select(func.count(model.id)))
        for name, model in (
            ("stage_changes", StageChange),
            ("cultivation_tasks", CultivationTask),
            ("visits", Visit),
            ("events", Event),
        )
    }
    assert counted["events"] == volumes["events"]
    for name in ("stage_changes", "cultivation_tasks", "visits"):
        assert abs(counted[name] - volumes[name]) <= volumes[name] * 0.05, (name, counted[name])


def test_demo_with_volumes_is_deterministic():
    from crm.events.models import Registration
    from crm.plans.models import CultivationTask
    from crm.visits.models import Visit

    volumes = {"cultivation_tasks": 300, "visits": 150, "events": 15}

    def snapshot() -> tuple:
        return (
            db.session.execute(
                select(CultivationTask.title, CultivationTask.due_on, CultivationTask.status).order_by(
                    CultivationTask.id
                )
            ).all(),
            db.session.execute(select(Visit.enterprise_id, Visit.starts_at, Visit.kind).order_by(Visit.id)).all(),
            db.session.execute(
                select(Registration.enterprise_id, Registration.name, Registration.status).order_by(Registration.id)
            ).all(),
        )

    now = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    seed_demo(enterprises=50, seed=11, now=now, volumes=volumes)
    first = snapshot()
    db.session.rollback()
    seed_demo(enterprises=50, seed=11, now=now, volumes=volumes)
    assert snapshot() == first


def test_demo_does_not_depend_on_the_order_postgresql_returns_rows_in(postgres, monkeypatch):
    """Two seeds with the same seed agree even when a table scan returns the enterprises out of id order
    (as it does after an update or on pages reused after other tests); the seeders read rows in id order."""
    import crm.demo.services as demo
    from crm.enterprises.models import Contact, Recommendation

    def snapshot() -> tuple:
        return (
            db.session.execute(select(Contact.enterprise_id, Contact.name, Contact.mobile).order_by(Contact.id)).all(),
            db.session.execute(
                select(Recommendation.enterprise_id, Recommendation.reason, Recommendation.priority).order_by(
                    Recommendation.id
                )
            ).all(),
        )

    now = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    seed_demo(enterprises=40, seed=13, now=now)
    first = snapshot()
    db.session.rollback()

    def shuffle_physical_order(ctx) -> None:
        # An update writes a new version of the row after the others; table scans then return it last.
        table = Enterprise.__table__
        db.session.execute(
            table.update().where(table.c.id == ctx.first_enterprise_id).values(updated_at=table.c.updated_at)
        )
        db.session.execute(text("SET LOCAL enable_indexscan = off"))
        db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
        scanned = db.session.scalars(
            select(Enterprise.id).where(Enterprise.id.between(ctx.first_enterprise_id, ctx.last_enterprise_id))
        ).all()
        assert scanned != sorted(scanned), "the test needs a table scan out of id order"

    seeders = demo.feature_seeders()
    monkeypatch.setattr(demo, "feature_seeders", lambda: [("shuffle", shuffle_physical_order), *seeders])
    seed_demo(enterprises=40, seed=13, now=now)
    assert snapshot() == first


def test_every_demo_move_keeps_the_time_of_the_move_before():
    """``from_stage_entered_at`` as the reports expect it: ``lag(changed_at)`` over each enterprise's history,
    also for the enterprises whose history the pipeline seeder moved back in time."""
    seed_demo(enterprises=300, seed=5, volumes={"stage_changes": 1_500})
    previous = (
        func.lag(StageChange.changed_at, type_=StageChange.changed_at.type)
        .over(partition_by=StageChange.enterprise_id, order_by=(StageChange.changed_at, StageChange.id))
        .label("previous")
    )
    rows = select(StageChange.from_stage_entered_at.label("kept"), previous).subquery()
    pairs = db.session.execute(select(rows.c.kept, rows.c.previous)).all()
    assert len(pairs) >= 1_450
    assert sum(kept is not None for kept, _ in pairs) > 1_000
    assert [(kept, previous) for kept, previous in pairs if kept != previous] == []
