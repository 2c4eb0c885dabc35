"""The dashboard's figures are kept in Redis until the enterprises or their activity change (or a few minutes
pass)."""

from datetime import date

import pytest

from crm.dashboard import queries
from crm.dashboard.queries import DashboardFilter


@pytest.fixture
def cache_on(counts_cache):
    """The counts' cache in Redis, as in production."""


def this_year(user) -> DashboardFilter:
    return DashboardFilter(start=date(2026, 1, 1), end=date(2026, 12, 31), user=user)


def test_figures_are_reused_until_an_enterprise_changes(cache_on, real_db, make_user, make_enterprise, monkeypatch):
    manager = make_user("manager")
    make_enterprise(stage="pooled")
    assert queries.figures(this_year(manager)).counts.by_stage == {"pooled": 1}

    def fail(*args, **kwargs):
        raise AssertionError("computed again instead of read from the cache")

    monkeypatch.setattr(queries, "stage_durations", fail)
    again = queries.figures(this_year(manager))
    assert again.counts.by_stage == {"pooled": 1} and again.durations == []
    monkeypatch.undo()
    make_enterprise(stage="pooled")  # a committed change: computed anew
    assert queries.figures(this_year(manager)).counts.by_stage == {"pooled": 2}


def test_scope_is_part_of_the_key(cache_on, real_db, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou")
    make_enterprise(area="350100", office="fz-mawei")
    assert queries.figures(this_year(make_user("manager"))).counts.total == 2
    assert queries.figures(this_year(make_user("bureau", areas=["350100"]))).counts.total == 1


def test_a_new_overdue_task_shows_at_once(cache_on, real_db, make_user, make_enterprise, make_task):
    manager = make_user("manager")
    enterprise = make_enterprise(stage="cultivating")
    today = date(2026, 6, 1)
    assert queries.figures(this_year(manager), today=today).overdue == {}
    make_task(due_on=date(2026, 5, 1), enterprise=enterprise)  # a committed write of the plans topic only
    assert queries.figures(this_year(manager), today=today).overdue == {enterprise.area_id: 1}
