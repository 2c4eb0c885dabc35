"""The calendar: month and week views of planned and done visits in local days, filtered by person, office
and area, within scope; built from the providers list."""

from __future__ import annotations

import re
from datetime import date, time

import pytest

from crm.core.timeline import CalendarEntry
from crm.visits import calendar as cal
from crm.visits.models import VisitKind, VisitStatus
from crm.visits.queries import calendar_entries
from crm.visits.services import local_datetime

MAY = date(2026, 5, 1)


def _days_with_entries(page: str) -> dict[str, list[str]]:
    """{day: [entry titles]} from the rendered grid."""
    result: dict[str, list[str]] = {}
    for day, body in re.findall(r'data-day="([\d-]+)">(.*?)</div>', page, re.S):
        titles = re.findall(r'title="([^"]+)"', body)
        if titles:
            result[day] = titles
    return result


@pytest.fixture
def may_visits(officer, make_user, make_enterprise, make_visit):
    """Visits around May 2026 of a Fuzhou enterprise (马尾海关) and a Quanzhou enterprise (泉州海关)."""
    colleague = make_user("bureau", areas=["350100", "350500"], display_name="陈商务")
    fuzhou = make_enterprise(name="福州甲公司")
    quanzhou = make_enterprise(name="泉州乙公司", area="350500", office="xm-quanzhou")
    planned = make_visit(fuzhou, officer, day=date(2026, 5, 4), at=time(9, 30), status=VisitStatus.PLANNED)
    # 00:30 on 1 May in Shanghai is still 30 April in UTC: it belongs to May.
    done = make_visit(fuzhou, officer, day=date(2026, 5, 1), at=time(0, 30), participants=[colleague])
    april = make_visit(fuzhou, officer, day=date(2026, 4, 30), at=time(23, 30))
    joint = make_visit(
        quanzhou, colleague, day=date(2026, 5, 20), at=time(14, 0), kind=VisitKind.JOINT, status=VisitStatus.PLANNED
    )
    cancelled = make_visit(fuzhou, officer, day=date(2026, 5, 6), status=VisitStatus.PLANNED)
    from crm.visits.services import cancel_visit

    cancel_visit(cancelled, reason="改期")
    return {"planned": planned, "done": done, "april": april, "joint": joint, "colleague": colleague}


def test_the_month_view_places_visits_on_their_local_day(client, make_user, may_visits):
    client.login(make_user("manager"))
    page = client.get("/calendar/?view=month&date=2026-05-15").get_data(as_text=True)
    days = _days_with_entries(page)
    assert days["2026-05-01"] == ["实地走访 · 福州甲公司"]
    assert days["2026-05-04"] == ["实地走访 · 福州甲公司"]
    assert days["2026-05-20"] == ["联合走访 · 泉州乙公司"]
    assert "2026-05-06" not in days  # cancelled visits are not on the calendar
    # The grid starts on the Monday before 1 May and shows 30 April, outside the month.
    assert 'data-day="2026-04-27"' in page and days["2026-04-30"] == ["实地走访 · 福州甲公司"]
    assert "2026年5月" in page
    assert "is-done" in page and f'href="/visits/{may_visits["done"].id}"' in page


def test_the_week_view_shows_that_week(client, make_user, may_visits):
    client.login(make_user("manager"))
    page = client.get("/calendar/?view=week&date=2026-05-06").get_data(as_text=True)
    days = _days_with_entries(page)
    assert list(days) == ["2026-05-04"]
    assert re.findall(r'data-day="([\d-]+)"', page)[0] == "2026-05-04"
    assert len(re.findall(r'data-day="', page)) == 7
    assert "09:30" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("office=fz-mawei", {"2026-05-01", "2026-05-04"}),
        ("office=fuzhou", {"2026-05-01", "2026-05-04"}),  # a district covers its subordinate offices
        ("office=xiamen", {"2026-05-20"}),
        ("area=350500", {"2026-05-20"}),
        ("area=350200", set()),
    ],
)
def test_the_calendar_filters_by_office_and_area(client, make_user, may_visits, query, expected):
    client.login(make_user("manager"))
    page = client.get(f"/calendar/?view=month&date=2026-05-01&{query}").get_data(as_text=True)
    assert {d for d in _days_with_entries(page) if d.startswith("2026-05")} == expected


def test_the_calendar_filters_by_person(client, make_user, may_visits, officer):
    client.login(make_user("manager"))
    colleague = may_visits["colleague"]
    page = client.get(f"/calendar/?date=2026-05-01&person={colleague.id}").get_data(as_text=True)
    assert set(_days_with_entries(page)) == {"2026-05-01", "2026-05-20"}
    page = client.get(f"/calendar/?date=2026-05-01&person={officer.id}").get_data(as_text=True)
    assert set(_days_with_entries(page)) == {"2026-04-30", "2026-05-01", "2026-05-04"}


def test_the_calendar_stays_within_scope(client, officer, may_visits):
    client.login(officer)  # 马尾海关: the Quanzhou visit is not theirs to see
    page = client.get("/calendar/?date=2026-05-01").get_data(as_text=True)
    assert "2026-05-20" not in _days_with_entries(page)
    assert "泉州乙公司" not in page


def test_the_visits_provider_returns_calendar_entries(make_user, may_visits):
    manager = make_user("manager")
    start, end = cal.bounds(date(2026, 5, 1), date(2026, 5, 31))
    entries = calendar_entries(manager, start, end, area_code="350100")
    assert [e.uid for e in entries] == [f"visit-{may_visits['done'].id}", f"visit-{may_visits['planned'].id}"]
    first = entries[0]
    assert isinstance(first, CalendarEntry)
    assert first.start == local_datetime(date(2026, 5, 1), time(0, 30)) and first.status == "done"
    assert first.end > first.start and first.url == f"/visits/{may_visits['done'].id}"


def test_the_calendar_merges_every_provider(monkeypatch, client, make_user, may_visits):
    def training(user, start, end, *, person_id=None, office_code=None, area_code=None, per_day=None):
        return [CalendarEntry(kind="training", title="AEO培训班", start=None, all_day=True, day=date(2026, 5, 4))]

    monkeypatch.setattr(cal, "calendar_providers", lambda: [calendar_entries, training])
    client.login(make_user("manager"))
    page = client.get("/calendar/?view=week&date=2026-05-04").get_data(as_text=True)
    assert _days_with_entries(page)["2026-05-04"] == ["AEO培训班", "实地走访 · 福州甲公司"]
    assert "is-other" in page


def test_a_busy_day_links_to_the_rest(client, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    for hour in range(8, 16):
        make_visit(enterprise, officer, day=date(2026, 6, 3), at=time(hour, 0))
    client.login(officer)
    page = client.get("/calendar/?view=month&date=2026-06-01").get_data(as_text=True)
    assert len(_days_with_entries(page)["2026-06-03"]) == 6
    assert "还有 2 项" in page and "from=2026-06-03&amp;to=2026-06-03" in page
    week = client.get("/calendar/?view=week&date=2026-06-03").get_data(as_text=True)
    assert len(_days_with_entries(week)["2026-06-03"]) == 8


def test_a_very_busy_day_says_more_than_it_counts(client, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    for minute in range(0, 20 * 20, 20):
        make_visit(enterprise, officer, day=date(2026, 6, 3), at=time(8 + minute // 60, minute % 60))
    client.login(officer)
    page = client.get("/calendar/?view=month&date=2026-06-01").get_data(as_text=True)
    assert len(_days_with_entries(page)["2026-06-03"]) == 6
    # 14 more, counted up to MORE_ENTRIES_LIMIT (9): the link says "9+".
    assert f"还有 {cal.MORE_ENTRIES_LIMIT}+ 项" in page and "还有 14 项" not in page
    assert "条目：20" in page


def test_the_visits_provider_reads_only_the_first_of_each_day(make_user, make_enterprise, make_visit, officer):
    enterprise = make_enterprise()
    # 00:30 and 01:00 on 2 June in Shanghai are still 1 June in UTC: they are the first of 2 June.
    for hour in (23, 22, 21, 20):
        make_visit(enterprise, officer, day=date(2026, 6, 1), at=time(hour, 0))
    late = [make_visit(enterprise, officer, day=date(2026, 6, 2), at=time(h, 0)) for h in (12, 11, 10)]
    early = [make_visit(enterprise, officer, day=date(2026, 6, 2), at=time(0, m)) for m in (30, 0)]
    make_visit(enterprise, officer, day=date(2026, 6, 4), at=time(9, 0), status=VisitStatus.PLANNED)
    start, end = cal.bounds(date(2026, 6, 1), date(2026, 6, 7))
    entries = calendar_entries(make_user("manager"), start, end, per_day=3)
    by_day: dict[date, list[CalendarEntry]] = {}
    for entry in entries:
        by_day.setdefault(cal.entry_day(entry), []).append(entry)
    assert {day: len(found) for day, found in by_day.items()} == {
        date(2026, 6, 1): 3,
        date(2026, 6, 2): 3,
        date(2026, 6, 4): 1,
    }
    assert [e.start.astimezone(cal.local_tz()).hour for e in by_day[date(2026, 6, 1)]] == [20, 21, 22]
    assert [e.uid for e in by_day[date(2026, 6, 2)]] == [
        f"visit-{early[1].id}",
        f"visit-{early[0].id}",
        f"visit-{late[2].id}",
    ]
    assert entries == sorted(entries, key=lambda e: e.start)
    # Without per_day, every visit.
    assert len(calendar_entries(make_user("manager"), start, end)) == 10


def test_the_period_count_stops_at_its_limit(monkeypatch, client, officer, make_enterprise, make_visit):
    from crm.visits import views

    monkeypatch.setattr(views, "ENTRY_COUNT_LIMIT", 5)
    enterprise = make_enterprise()
    for day in range(1, 8):
        make_visit(enterprise, officer, day=date(2026, 6, day), at=time(9, 0))
    make_visit(enterprise, officer, day=date(2026, 7, 1), at=time(9, 0))  # on the grid, outside the month
    client.login(officer)
    page = client.get("/calendar/?view=month&date=2026-06-01").get_data(as_text=True)
    assert "条目：超过 5" in page and "条目：7" not in page
    assert len(_days_with_entries(page)) == 8
    make_visit(enterprise, officer, day=date(2026, 6, 6), status=VisitStatus.PLANNED)
    week = client.get("/calendar/?view=week&date=2026-06-29").get_data(as_text=True)
    assert "条目：1" in week  # 29 June to 5 July
