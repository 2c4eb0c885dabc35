"""The report figures are kept in Redis until the enterprise data or the stage history changes; files and the
measures report read no more than they show."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.reports import exports, fixed, queries
from crm.reports.filters import parse_filters
from tests.reports.conftest import PERIOD, at


@pytest.fixture
def cache_on(app, redis_url):
    previous = app.config.get("REDIS_URL")
    app.config.update(REDIS_URL=redis_url, ENTERPRISE_COUNTS_CACHE=True)
    import redis

    redis.Redis.from_url(redis_url).incr("crm:enterprise-counts:version")  # a version no earlier run used
    yield
    app.config.pop("ENTERPRISE_COUNTS_CACHE")
    app.config["REDIS_URL"] = previous


def _fail(*args, **kwargs):
    raise AssertionError("computed again instead of read from the cache")


def _pipeline(user):
    return queries.pipeline_report(parse_filters(PERIOD), "area", user)


def test_pipeline_report_is_reused_until_the_stage_history_changes(cache_on, real_db, world, manager, monkeypatch):
    first = _pipeline(manager)
    fuzhou = next(row for row in first.rows if row.label == "福州")
    assert fuzhou.median_days == {"candidate": 15.0, "pooled": 30.0}
    monkeypatch.setattr(queries.ReportQuery, "rows", _fail)
    again = _pipeline(manager)
    assert [(r.key, r.counts, r.conversions, r.median_days) for r in again.rows] == [
        (r.key, r.counts, r.conversions, r.median_days) for r in first.rows
    ]
    assert again.totals.median_days == first.totals.median_days and again.totals.label == first.totals.label
    monkeypatch.undo()
    # A write to the stage history alone (as a correction or a COPY would make) counts as a change.
    db.session.execute(
        update(StageChange)
        .where(StageChange.enterprise_id == world.fuzhou_a.id, StageChange.to_stage == "pooled")
        .values(changed_at=at("2026-01-25"))
    )
    db.session.execute(
        update(StageChange)
        .where(StageChange.enterprise_id == world.fuzhou_a.id, StageChange.to_stage == "cultivating")
        .values(from_stage_entered_at=at("2026-01-25"))
    )
    db.session.commit()
    fuzhou = next(row for row in _pipeline(manager).rows if row.label == "福州")
    assert fuzhou.median_days == {"candidate": 20.0, "pooled": 20.0}


def test_copied_stage_changes_count_as_a_change(cache_on, real_db, world, manager):
    from crm.core.bulk import copy_rows

    assert _pipeline(manager).totals.counts == {"cultivating": 1, "withdrawn": 1, "certified": 1, "pooled": 1}
    copy_rows(
        StageChange.__table__,
        [
            {
                "enterprise_id": world.fuzhou_a.id,
                "from_stage": "cultivating",
                "to_stage": "ready",
                "changed_at": at("2026-03-01"),
                "from_stage_entered_at": at("2026-02-14"),
                "changed_by_id": None,
                "comment": "",
                "override_reason": None,
                "data": None,
            }
        ],
    )
    db.session.commit()
    fuzhou = next(row for row in _pipeline(manager).rows if row.label == "福州")
    assert fuzhou.conversions["cultivating"] == (1, 1)


def test_the_scope_is_part_of_the_key(cache_on, real_db, world, manager, bureau_fq):
    assert _pipeline(manager).totals.total == 4
    assert _pipeline(bureau_fq).totals.total == 3


def test_monthly_progress_is_reused_until_the_data_changes(cache_on, real_db, world, manager, monkeypatch):
    first = fixed.monthly_progress({"month": "2026-03"}, manager)
    monkeypatch.setattr(fixed, "_monthly_figures", _fail)
    again = fixed.monthly_progress({"month": "2026-03"}, manager)
    assert [(r.key, r.figures) for r in again.rows] == [(r.key, r.figures) for r in first.rows]
    assert again.totals.figures == first.totals.figures


def _statements_on(table: str, run) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if table in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_measure_uptake_reads_the_benefit_records_once(world, manager):
    assert _statements_on("benefit_records", lambda: fixed.measure_uptake(parse_filters(PERIOD), manager)) == 1


@pytest.mark.parametrize(("fmt", "groupings"), [("csv", 1), ("pdf", 1), ("xlsx", len(queries.GROUPINGS_BY_KEY))])
def test_pipeline_files_compute_the_groupings_they_hold(world, manager, monkeypatch, tmp_path, fmt, groupings):
    if fmt == "pdf":
        pytest.importorskip("weasyprint")
    computed = []
    original = queries.pipeline_report

    def counted(filters, grouping_key, user, **kwargs):
        computed.append(grouping_key)
        return original(filters, grouping_key, user, **kwargs)

    monkeypatch.setattr(queries, "pipeline_report", counted)
    with open(tmp_path / f"report.{fmt}", "wb") as out:
        exports.pipeline_report(
            {**PERIOD, "group_by": "office"}, fmt, out, user=manager, generated_at=at("2026-06-01"), progress=_ignore
        )
    assert computed[0] == "office" and len(computed) == groupings


def _ignore(done, total):
    return None
