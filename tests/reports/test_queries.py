"""The pipeline report's figures against hand-built data, at each grouping, within the viewer's scope."""

from __future__ import annotations

import pytest

from crm.reports.filters import FilterError, parse_filters
from crm.reports.queries import pipeline_report
from tests.reports.conftest import PERIOD


def by_label(report):
    return {row.label: row for row in report.rows}


def test_area_grouping_counts_every_measure(world, manager):
    report = pipeline_report(parse_filters(PERIOD), "area", manager)
    rows = by_label(report)
    assert set(rows) == {"福州", "泉州", "厦门"}
    fuzhou, quanzhou = rows["福州"], rows["泉州"]
    assert fuzhou.counts == {"cultivating": 1, "withdrawn": 1}
    assert fuzhou.total == 2
    assert fuzhou.public_key == "350100"
    # candidate: fuzhou_a moved forward, fuzhou_b withdrew; pooled: moved forward.
    assert fuzhou.conversions == {"candidate": (2, 1), "pooled": (1, 1)}
    assert fuzhou.conversion_rate("candidate") == 50.0
    assert fuzhou.median_days == {"candidate": 15.0, "pooled": 30.0}
    assert (fuzhou.tasks_done, fuzhou.tasks_overdue, fuzhou.visits, fuzhou.attendance, fuzhou.certified) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert quanzhou.counts == {"certified": 1}
    assert quanzhou.median_days == {"candidate": 4.0, "pooled": 24.0}
    assert (quanzhou.certified, quanzhou.visits, quanzhou.attendance) == (1, 1, 1)
    totals = report.totals
    assert totals.total == 4
    assert totals.median_days["candidate"] == 10.0  # 4, 10, 10, 20 -> (10 + 10) / 2
    assert (totals.visits, totals.attendance, totals.certified) == (3, 3, 1)


def test_office_grouping(world, manager):
    rows = by_label(pipeline_report(parse_filters(PERIOD), "office", manager))
    assert rows["马尾海关"].total == 2
    assert rows["泉州海关"].counts == {"certified": 1}
    assert rows["马尾海关"].public_key == "fz-mawei"


def test_category_grouping_counts_an_enterprise_in_each_of_its_categories(world, manager):
    report = pipeline_report(parse_filters(PERIOD), "category", manager)
    rows = by_label(report)
    assert rows["高新技术企业"].total == 2
    assert rows["新兴产业企业"].total == 2  # fuzhou_b and quanzhou
    assert [row.total for row in report.rows if row.key is None] == [1]  # the Xiamen enterprise
    assert report.totals.total == 4  # each enterprise once
    assert report.grouping.note


def test_officer_grouping(world, manager):
    rows = by_label(pipeline_report(parse_filters(PERIOD), "officer", manager))
    assert rows["商务张三"].counts == {"cultivating": 1}
    assert rows["商务张三"].tasks_done == 1
    assert rows["海关李四"].counts == {"certified": 1}


def test_month_grouping_counts_moves_into_stages(world, manager):
    report = pipeline_report(parse_filters(PERIOD), "month", manager)
    rows = {row.key: row for row in report.rows}
    assert rows["2026-01"].counts == {"candidate": 3, "pooled": 2, "withdrawn": 1}
    assert rows["2026-02"].counts == {"candidate": 1, "pooled": 1, "cultivating": 1}
    assert rows["2026-02"].tasks_done == 1
    assert rows["2026-03"].counts == {"certified": 1}
    assert rows["2026-03"].certified == 1 and rows["2026-03"].attendance == 3
    assert [row.key for row in report.rows] == ["2026-01", "2026-02", "2026-03"]
    assert report.totals.total == 10


def test_filters_narrow_the_population(world, manager):
    report = pipeline_report(parse_filters(PERIOD | {"tier": "aeo"}), "area", manager)
    assert [(row.label, row.total) for row in report.rows] == [("福州", 1)]
    report = pipeline_report(parse_filters(PERIOD | {"office": "xiamen"}), "area", manager)
    assert {row.label for row in report.rows} == {"泉州", "厦门"}  # Xiamen customs covers its offices
    report = pipeline_report(parse_filters(PERIOD | {"officer": str(world.customs.id)}), "area", manager)
    assert report.totals.total == 1
    report = pipeline_report(parse_filters(PERIOD | {"category": "emerging", "stage": "certified"}), "area", manager)
    assert report.totals.total == 1


def test_period_limits_the_activity(world, manager):
    report = pipeline_report(parse_filters({"from": "2026-03-01", "to": "2026-03-31"}), "area", manager)
    assert report.totals.total == 4  # stage counts are the enterprises now in each stage
    assert (report.totals.visits, report.totals.tasks_done, report.totals.certified) == (1, 0, 1)
    assert report.totals.conversions == {"pooled": (1, 1)}


def test_bureau_user_sees_only_their_areas_totals_included(world, bureau_fq):
    report = pipeline_report(parse_filters(PERIOD), "area", bureau_fq)
    assert {row.label for row in report.rows} == {"福州", "泉州"}
    assert report.totals.total == 3
    assert report.totals.visits == 2 and report.totals.attendance == 2
    assert report.totals.counts.get("pooled") is None
    month = pipeline_report(parse_filters(PERIOD), "month", bureau_fq)
    assert month.totals.total == 8


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-05-01", "to": "2026-01-01"}, "to"),
        ({"area": "nowhere"}, "area"),
        ({"stage": "nope"}, "stage"),
        ({"officer": "abc"}, "officer"),
        ({"tier": "gold"}, "tier"),
    ],
)
def test_invalid_filters_name_the_argument(app, args, field):
    with pytest.raises(FilterError) as raised:
        parse_filters(args)
    assert field in raised.value.errors


@pytest.fixture
def cohorts(world):
    from crm.cohorts.models import Cohort, CohortMember
    from crm.extensions import db

    first = Cohort(name="福州链主群组", lead_enterprise_id=world.fuzhou_a.id)
    second = Cohort(name="泉州链主群组", lead_enterprise_id=world.quanzhou.id)
    db.session.add_all([first, second])
    db.session.flush()
    db.session.add_all(
        [
            CohortMember(cohort_id=first.id, enterprise_id=world.quanzhou.id),
            CohortMember(cohort_id=first.id, enterprise_id=world.fuzhou_b.id),
            CohortMember(cohort_id=second.id, enterprise_id=world.fuzhou_b.id),
        ]
    )
    db.session.commit()
    return first, second


def test_cohort_grouping_counts_the_lead_and_members_in_each_cohort(world, cohorts, manager):
    report = pipeline_report(parse_filters(PERIOD), "cohort", manager)
    rows = by_label(report)
    assert rows["福州链主群组"].total == 3
    assert rows["泉州链主群组"].counts == {"certified": 1, "withdrawn": 1}
    assert rows["泉州链主群组"].public_key == cohorts[1].id
    assert [row.total for row in report.rows if row.key is None] == [1]  # the Xiamen enterprise
    assert report.totals.total == 4
    assert "cohort" in report.grouping.note or "群组" in str(report.grouping.note)


def test_cohort_filter(world, cohorts, bureau_fq):
    report = pipeline_report(parse_filters(PERIOD | {"cohort": str(cohorts[1].id)}), "area", bureau_fq)
    assert {row.label: row.total for row in report.rows} == {"福州": 1, "泉州": 1}
    with pytest.raises(FilterError):
        parse_filters({"cohort": "999999"})


def test_groups_of_one_name_keep_the_order_of_their_keys(make_user, make_enterprise, manager):
    # Two officers of one display name are two rows; they come in the order of their ids, not as grouped.
    officers = [make_user("bureau", areas=["350100"], display_name="同名专员") for _n in range(3)]
    for officer in reversed(officers):
        make_enterprise(commerce_officer_id=officer.id)
    rows = [row for row in pipeline_report(parse_filters(PERIOD), "officer", manager).rows if row.label == "同名专员"]
    assert [row.key for row in rows] == [officer.id for officer in officers]
