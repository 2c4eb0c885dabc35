"""Statistics on hand-built data: visits per officer, office and area per local month, and the share of the pool
visited in the last 90 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm.core.timeutil import local_today
from crm.visits.models import VisitKind, VisitStatus
from crm.visits.queries import Month, month_range, pool_coverage, visits_per_month
from crm.visits.services import cancel_visit

MONTHS = [Month(2026, 3), Month(2026, 4), Month(2026, 5)]


@pytest.fixture
def spring(officer, make_user, make_enterprise, make_visit):
    """March to May 2026: 林海关 (马尾) and 陈商务 (泉州 commerce) visit a Fuzhou and a Quanzhou enterprise."""
    commerce = make_user("bureau", areas=["350500"], display_name="陈商务")
    fuzhou = make_enterprise(name="福州甲")
    quanzhou = make_enterprise(name="泉州乙", area="350500", office="xm-jinjiang")
    make_visit(fuzhou, officer, day=date(2026, 3, 2))
    make_visit(fuzhou, officer, day=date(2026, 3, 31), at=time(23, 30))  # late evening: still March locally
    make_visit(fuzhou, officer, day=date(2026, 4, 1), at=time(0, 30))  # 31 March in UTC, April locally
    make_visit(quanzhou, commerce, day=date(2026, 4, 15), participants=[officer], kind=VisitKind.JOINT)
    make_visit(quanzhou, commerce, day=date(2026, 5, 8))
    make_visit(quanzhou, commerce, day=date(2026, 2, 27))  # before the period
    planned = make_visit(fuzhou, officer, day=date(2026, 5, 20), status=VisitStatus.PLANNED)
    cancel_visit(planned, reason="改期")
    make_visit(fuzhou, officer, day=date(2026, 5, 21), status=VisitStatus.PLANNED)  # planned: not a visit yet
    return {"commerce": commerce}


def _table(rows) -> dict[str, dict[str, int]]:
    return {row.label: row.counts for row in rows}


def test_visits_per_officer_per_month(make_user, officer, spring):
    rows = visits_per_month("officer", MONTHS, make_user("manager"))
    assert _table(rows) == {
        str(officer): {"2026-03": 2, "2026-04": 2},  # the joint visit counts for each participant
        "陈商务": {"2026-04": 1, "2026-05": 1},
    }
    assert [row.total for row in rows] == [4, 2]


def test_visits_per_office_and_area_per_month(make_user, spring):
    manager = make_user("manager")
    assert _table(visits_per_month("office", MONTHS, manager)) == {
        "马尾海关": {"2026-03": 2, "2026-04": 1},
        "晋江海关": {"2026-04": 1, "2026-05": 1},
    }
    assert _table(visits_per_month("area", MONTHS, manager)) == {
        "福州": {"2026-03": 2, "2026-04": 1},
        "泉州": {"2026-04": 1, "2026-05": 1},
    }


def test_statistics_stay_within_scope(officer, spring):
    # The 马尾 officer sees only the Fuzhou enterprise's visits, even those with Quanzhou people.
    assert _table(visits_per_month("area", MONTHS, officer)) == {"福州": {"2026-03": 2, "2026-04": 1}}


def test_month_range_runs_back_across_years():
    assert [m.key for m in month_range(Month(2026, 2), 4)] == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_share_of_the_pool_visited_in_the_last_90_days(make_user, officer, make_enterprise, make_visit):
    now = datetime.now(UTC)
    today = local_today(now)
    visited = make_enterprise(stage="pooled")
    cultivating = make_enterprise(stage="cultivating")
    long_ago = make_enterprise(stage="ready")
    make_enterprise(stage="applied")  # in the pool, never visited
    candidate = make_enterprise(stage="candidate")  # not yet in the pool
    certified = make_enterprise(stage="certified")  # left the pool (won)
    quanzhou = make_enterprise(stage="pooled", area="350500", office="xm-quanzhou")
    make_visit(visited, officer, day=today - timedelta(days=10))
    make_visit(cultivating, officer, day=today - timedelta(days=89))
    make_visit(long_ago, officer, day=today - timedelta(days=95))
    make_visit(candidate, officer, day=today - timedelta(days=1))
    make_visit(certified, officer, day=today - timedelta(days=1))
    make_visit(make_enterprise(stage="pooled"), officer, day=today + timedelta(days=3), status=VisitStatus.PLANNED)

    [overall] = pool_coverage(make_user("manager"), days=90, now=now)
    assert (overall.pooled, overall.visited, overall.share) == (6, 2, 33.3)
    by_area = {c.label: (c.pooled, c.visited) for c in pool_coverage(make_user("manager"), by="area", now=now)}
    assert by_area == {"福州": (5, 2), "泉州": (1, 0)}
    [mine] = pool_coverage(officer, days=90, now=now)  # within scope: Quanzhou is not counted
    assert (mine.pooled, mine.visited, mine.share) == (5, 2, 40.0)
    assert quanzhou.id


def test_the_statistics_page(client, make_user, spring):
    client.login(make_user("manager"))
    page = client.get("/visits/statistics?end=2026-05").get_data(as_text=True)
    assert "2026年3月" in page and "2026年5月" in page and "陈商务" in page and "晋江海关" in page
    assert "近 90 天内走访过的培育库企业" in page
    assert client.get("/visits/statistics?end=2026-13").status_code == 400


def test_officers_of_one_name_and_total_keep_the_order_of_their_ids(make_user, make_enterprise, make_visit):
    officers = [make_user("bureau", areas=["350100"], display_name="同名专员") for _n in range(3)]
    enterprise = make_enterprise()
    for officer in reversed(officers):
        make_visit(enterprise, officer, day=date(2026, 4, 2))
    rows = visits_per_month("officer", MONTHS, make_user("manager"))
    assert [row.key for row in rows] == [officer.id for officer in officers]


def test_the_statistics_follow_a_logged_visit_and_not_other_writes(
    counts_cache, real_db, make_user, officer, make_enterprise, make_visit, make_plan, statements
):
    """The figures are kept in Redis until a visit (or an enterprise) changes; a plan's change keeps them."""
    manager = make_user("manager")
    enterprise = make_enterprise(stage="pooled")
    make_visit(enterprise, officer, day=date(2026, 4, 2))
    assert _table(visits_per_month("area", MONTHS, manager)) == {"福州": {"2026-04": 1}}
    assert _table(visits_per_month("officer", MONTHS, manager)) == {"林海关": {"2026-04": 1}}
    now = datetime.now(UTC)
    assert pool_coverage(manager, now=now)[0].visited == 0
    # A write the application does not see keeps the cached figures ...
    from crm.extensions import db

    db.session.execute(db.text("DELETE FROM visit_participants"))
    db.session.flush()
    assert _table(visits_per_month("officer", MONTHS, manager)) == {"林海关": {"2026-04": 1}}
    db.session.rollback()
    # ... as does a write to another topic (a plan) ...
    make_plan(enterprise)
    statements.clear()
    assert _table(visits_per_month("area", MONTHS, manager)) == {"福州": {"2026-04": 1}}
    assert pool_coverage(manager, now=now)[0].visited == 0
    assert not any("GROUP BY" in statement for statement in statements)
    # ... while a visit logged through the application counts at once.
    make_visit(enterprise, officer, day=date(2026, 4, 20))
    make_visit(enterprise, officer, day=local_today(now) - timedelta(days=3))
    assert _table(visits_per_month("area", MONTHS, manager)) == {"福州": {"2026-04": 2}}
    assert _table(visits_per_month("officer", MONTHS, manager)) == {"林海关": {"2026-04": 2}}
    assert pool_coverage(manager, now=now)[0].visited == 1
    # The scope is part of the key.
    quanzhou = make_user("bureau", areas=["350500"])
    assert visits_per_month("area", MONTHS, quanzhou) == [] and pool_coverage(quanzhou, now=now)[0].pooled == 0
