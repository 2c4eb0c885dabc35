"""The report's aggregates (one reading of the period's moves, the totals computed with the groups on PostgreSQL,
days in a stage from ``from_stage_entered_at``) against a plain computation over the same rows in Python, on random
histories; and the migration's backfill of ``from_stage_entered_at`` against the same window it replaces."""

from __future__ import annotations

import importlib.util
import random
import statistics
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from crm.core.timeutil import local_midnight, local_tz
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import Stage, StageChange, StageKind
from crm.plans.models import CultivationTask, Plan, TaskStatus
from crm.reports.filters import parse_filters
from crm.reports.queries import pipeline_report
from tests.reports.conftest import at

STAGES = ("candidate", "pooled", "cultivating", "ready", "applied", "in_certification", "certified", "withdrawn")
PLACES = (("350100", "fz-mawei"), ("350100", None), ("350500", "xm-quanzhou"), ("350200", "xm-dongdu"))
PERIOD = {"from": "2026-02-01", "to": "2026-05-31"}
TODAY = date(2026, 6, 15)


def _random_history(rng: random.Random, enterprise: Enterprise) -> list[tuple[str | None, str, datetime]]:
    """Moves at whole hours from December to July, some at the same instant (ties ordered by id)."""
    moment = at("2025-12-01") + timedelta(hours=rng.randrange(0, 24 * 30))
    moves, stage = [], None
    for _ in range(rng.randrange(1, 7)):
        target = rng.choice([s for s in STAGES if s != stage])
        moves.append((stage, target, moment))
        stage = target
        if rng.random() > 0.15:
            moment += timedelta(hours=rng.randrange(1, 24 * 40))
    enterprise.stage = stage
    return moves


@pytest.fixture
def histories(make_enterprise, make_user):
    """40 enterprises with random histories and tasks; returns their moves and tasks as plain tuples."""
    rng = random.Random(20261127)
    moves, tasks = [], []
    for n in range(40):
        area, office = PLACES[n % len(PLACES)]
        enterprise = make_enterprise(area=area, office=office)
        entered = None
        for from_stage, to_stage, moment in _random_history(rng, enterprise):
            db.session.add(
                StageChange(
                    enterprise_id=enterprise.id,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    changed_at=moment,
                    from_stage_entered_at=entered,
                )
            )
            moves.append((enterprise, from_stage, to_stage, moment, entered))
            entered = moment
        plan = Plan(enterprise_id=enterprise.id)
        db.session.add(plan)
        db.session.flush()
        for _ in range(rng.randrange(0, 4)):
            due = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 200))
            done = rng.random() < 0.5
            completed = due - timedelta(days=rng.randrange(0, 10)) if done else None
            status = TaskStatus.DONE if done else TaskStatus.TODO
            db.session.add(
                CultivationTask(
                    plan_id=plan.id,
                    enterprise_id=enterprise.id,
                    title="任务",
                    status=status,
                    due_on=due,
                    completed_on=completed,
                )
            )
            tasks.append((enterprise, done, due, completed))
    db.session.commit()
    return moves, tasks


def _plain(moves, tasks, key_of, in_scope) -> dict:
    """key -> (conversions, medians, tasks done, tasks overdue), and "totals", computed row by row."""
    stages = {s.code: s for s in db.session.scalars(select(Stage))}
    start, end = local_midnight(date(2026, 2, 1)), local_midnight(date(2026, 6, 1))
    left: dict = {}
    advanced: dict = {}
    days: dict = {}
    done: dict = {}
    overdue: dict = {}
    for enterprise, from_stage, to_stage, moment, entered in moves:
        if not in_scope(enterprise) or from_stage is None or not start <= moment < end:
            continue
        for key in (key_of(enterprise, moment), "totals"):
            left.setdefault(key, {}).setdefault(from_stage, set()).add(enterprise.id)
            source, target = stages[from_stage], stages[to_stage]
            if target.sort_order > source.sort_order and target.kind != StageKind.LOST:
                advanced.setdefault(key, {}).setdefault(from_stage, set()).add(enterprise.id)
            if entered is not None:
                days.setdefault(key, {}).setdefault(from_stage, []).append((moment - entered).total_seconds() / 86400)
    for enterprise, is_done, due, completed in tasks:
        if not in_scope(enterprise):
            continue
        for key in (enterprise.area_id, "totals"):
            if is_done and date(2026, 2, 1) <= completed <= date(2026, 5, 31):
                done[key] = done.get(key, 0) + 1
            if not is_done and date(2026, 2, 1) <= due <= date(2026, 5, 31) and due < TODAY:
                overdue[key] = overdue.get(key, 0) + 1
    result = {}
    for key in set(left) | set(done) | set(overdue):
        conversions = {
            stage: (len(ids), len(advanced.get(key, {}).get(stage, ()))) for stage, ids in left.get(key, {}).items()
        }
        medians = {stage: round(statistics.median(values), 1) for stage, values in days.get(key, {}).items()}
        result[key] = (conversions, medians, done.get(key, 0), overdue.get(key, 0))
    return result


def _month_of(moment: datetime) -> str:
    local = moment.astimezone(local_tz())
    return f"{local.year:04d}-{local.month:02d}"


@pytest.mark.parametrize("grouping", ["area", "office", "month"])
@pytest.mark.parametrize("role", ["manager", "bureau"])
def test_figures_match_a_row_by_row_computation(histories, make_user, monkeypatch, grouping, role):
    from crm.reports import queries

    monkeypatch.setattr(queries, "local_today", lambda: TODAY)
    moves, tasks = histories
    user = make_user("manager") if role == "manager" else make_user("bureau", areas=["350100", "350500"])
    scoped_areas = {e.area_id for e, *_ in moves if e.area.code in ("350100", "350500")}

    def in_scope(enterprise) -> bool:
        return role == "manager" or enterprise.area_id in scoped_areas

    def key_of(enterprise, moment):
        return {"area": enterprise.area_id, "office": enterprise.office_id, "month": _month_of(moment)}[grouping]

    expected = _plain(moves, tasks if grouping == "area" else [], key_of, in_scope)
    report = pipeline_report(parse_filters(PERIOD), grouping, user)
    rows = {row.key: row for row in report.rows}
    rows["totals"] = report.totals
    for key, (conversions, medians, done, overdue) in expected.items():
        assert rows[key].conversions == conversions, key
        assert rows[key].median_days == medians, key
        if grouping == "area":
            assert (rows[key].tasks_done, rows[key].tasks_overdue) == (done, overdue), key
    assert {k for k, r in rows.items() if r.conversions} == {k for k, v in expected.items() if v[0]}
    if grouping != "month":  # grouped by month, the stage columns count moves, not enterprises
        assert report.totals.total == sum(1 for e in {m[0] for m in moves} if in_scope(e))


def _backfill_statement() -> str:
    path = next(Path("crm/migrations/versions").glob("*_stage_changes_entered_at.py"))
    spec = importlib.util.spec_from_file_location("stage_changes_entered_at", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BACKFILL


def test_migration_backfill_gives_each_move_the_time_of_the_move_before(make_enterprise):
    """Rows written in another order than their times, two at one instant: each gets its predecessor's time in
    (changed_at, id) order, the first none."""
    first, second = make_enterprise(), make_enterprise()
    rows = [
        (first, "pooled", "cultivating", at("2026-03-01")),
        (first, None, "candidate", at("2026-01-01")),
        (second, None, "candidate", at("2026-02-01")),
        (first, "candidate", "pooled", at("2026-02-01")),
        (second, "candidate", "pooled", at("2026-02-01")),  # same instant: after the entry by id
        (first, "cultivating", "ready", at("2026-04-01")),
    ]
    for enterprise, from_stage, to_stage, moment in rows:
        db.session.add(
            StageChange(enterprise_id=enterprise.id, from_stage=from_stage, to_stage=to_stage, changed_at=moment)
        )
        db.session.flush()
    db.session.execute(text(_backfill_statement()))
    history = db.session.execute(
        select(StageChange.enterprise_id, StageChange.to_stage, StageChange.from_stage_entered_at).order_by(
            StageChange.enterprise_id, StageChange.changed_at, StageChange.id
        )
    ).all()
    assert history == [
        (first.id, "candidate", None),
        (first.id, "pooled", at("2026-01-01")),
        (first.id, "cultivating", at("2026-02-01")),
        (first.id, "ready", at("2026-03-01")),
        (second.id, "candidate", None),
        (second.id, "pooled", at("2026-02-01")),
    ]
