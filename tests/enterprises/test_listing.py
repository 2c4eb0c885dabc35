"""The list engine: filter registry, stage counts, sort orders and pages read by id."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.enterprises import listing
from crm.enterprises.listing import LIST_FILTERS, ListFilter, ListQuery, run_list
from crm.enterprises.models import Enterprise, Priority
from crm.extensions import db


@pytest.fixture
def many(make_enterprise):
    rows = []
    for n in range(12):
        rows.append(
            make_enterprise(
                name=f"列表{n:02d}有限公司",
                area="350200" if n % 3 else "350500",
                office="xm-dongdu" if n % 3 else "xm-quanzhou",
                stage="pooled" if n % 4 == 0 else "candidate",
                priority=[Priority.A, Priority.B, None][n % 3],
                trade_value=Decimal(n * 10) if n % 2 else None,
            )
        )
    return rows


def test_stage_counts_ignore_the_stage_filter_and_give_the_total(make_user, many):
    user = make_user("manager")
    result = run_list(ListQuery.from_args({"area": "350200", "stage": "pooled"}), 1, 50, user)
    assert result.counts == {"candidate": 6, "pooled": 2}
    assert result.page.total == 2 and len(result.page.items) == 2
    assert result.unfiltered_total == 8


def test_pages_in_every_sort_order_cover_every_row_once(make_user, many):
    user = make_user("admin")
    for sort in ("name", "-name", "-updated", "created", "entered", "priority", "-trade_value"):
        seen = []
        for page in range(1, 4):
            result = run_list(ListQuery.from_args({"sort": sort}), page, 4, user)
            seen += [row.id for row in result.page.items]
        assert sorted(seen) == sorted(e.id for e in many), sort
    names = [r.name for r in run_list(ListQuery.from_args({"sort": "-name"}), 1, 3, user).page.items]
    assert names == ["列表11有限公司", "列表10有限公司", "列表09有限公司"]
    values = [r.trade_value for r in run_list(ListQuery.from_args({"sort": "-trade_value"}), 1, 12, user).page.items]
    assert values[:2] == [Decimal(110), Decimal(90)] and values[-1] is None, "NULLs last"


@pytest.mark.parametrize("per_page", [5, 4])
def test_pages_in_the_second_half_read_from_the_end_give_the_same_rows(make_user, many, per_page):
    """Pages past the middle are read in the reverse order from the end: each page is the same slice of the
    list's order as reading every row from the start would give, NULLs and ties included."""
    user = make_user("admin")
    for key in listing.LIST_SORTS:
        for sort in (key, f"-{key}"):
            for args in ({"sort": sort}, {"sort": sort, "area": "350200"}):
                query = ListQuery.from_args(args)
                whole = [r.id for r in run_list(query, 1, 100, user).page.items]
                pages = -(-len(whole) // per_page)
                for page in range(1, pages + 1):
                    got = [r.id for r in run_list(query, page, per_page, user).page.items]
                    assert got == whole[(page - 1) * per_page : page * per_page], (args, page)


def test_a_page_past_the_end_shows_the_last_page(make_user, many):
    result = run_list(ListQuery(), 99, 5, make_user("admin"))
    assert result.page.page == 3 and len(result.page.items) == 2


def test_rows_carry_names_not_ids(make_user, many):
    row = run_list(ListQuery.from_args({"area": "350500", "sort": "name"}), 1, 1, make_user("admin")).page.items[0]
    assert (row.area_name, row.office_name, row.stage_name) == ("泉州", "泉州海关", "入库培育")
    assert row.time_in_stage == "0 天"


def test_a_new_filter_is_one_registry_entry(make_user, many, monkeypatch):
    """How the cohorts feature adds its filter: a name, a label and a WHERE clause."""
    even = ListFilter("even", "even ids", lambda value, ref: (Enterprise.id % 2) == 0 if value == "1" else None)
    monkeypatch.setattr(listing, "LIST_FILTERS", (*LIST_FILTERS, even))
    monkeypatch.setattr(listing, "FILTERS_BY_NAME", {f.name: f for f in listing.LIST_FILTERS})
    result = run_list(ListQuery.from_args({"even": "1"}), 1, 50, make_user("admin"))
    assert {r.id % 2 for r in result.page.items} == {0}


def test_search_escapes_wildcards(make_user, make_enterprise):
    make_enterprise(name="百分之百_有限公司")
    make_enterprise(name="其他有限公司")
    user = make_user("admin")
    assert [r.name for r in run_list(ListQuery.from_args({"q": "%"}), 1, 50, user).page.items] == []
    assert [r.name for r in run_list(ListQuery.from_args({"q": "百_"}), 1, 50, user).page.items] == [
        "百分之百_有限公司"
    ]


def test_scope_limits_rows_and_counts(make_user, many):
    user = make_user("customs", offices=["xm-quanzhou"])
    result = run_list(ListQuery(), 1, 50, user)
    assert {r.office_name for r in result.page.items} == {"泉州海关"}
    assert sum(result.counts.values()) == 4
    assert db.session.scalar(select(Enterprise.id).limit(1)) is not None
