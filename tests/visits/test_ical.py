"""The iCalendar feed at a secret URL: it parses with the icalendar library, holds the visits that concern the
user within their scope, in Asia/Shanghai time, and answers 404 once revoked."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from crm.auth.models import hash_token
from crm.core.timeutil import local_today
from crm.extensions import db
from crm.visits.models import CalendarFeed, VisitKind, VisitStatus
from crm.visits.services import cancel_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _subscribe(client) -> str:
    page = client.post_form("/calendar/subscription").get_data(as_text=True)
    match = re.search(r"<code[^>]*data-feed-url>(http[^<]+)</code>", page)
    assert match, "the new URL is shown once"
    return match.group(1).replace("http://localhost", "")


def _events(client, url: str) -> dict[str, object]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    timezones = list(calendar.walk("VTIMEZONE"))
    assert [str(tz["TZID"]) for tz in timezones] == ["Asia/Shanghai"]
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_holds_the_users_visits_in_shanghai_time(client, officer, make_user, make_enterprise, make_visit):
    enterprise = make_enterprise(name="福州甲公司")
    other = make_user("customs", offices=["fz-mawei"])
    quanzhou = make_enterprise(name="泉州乙公司", area="350500", office="xm-quanzhou")
    day = local_today() + timedelta(days=7)
    planned = make_visit(enterprise, officer, day=day, at=time(9, 30), status=VisitStatus.PLANNED)
    done = make_visit(enterprise, officer, day=local_today() - timedelta(days=3), at=time(15, 0))
    make_visit(enterprise, other, day=day, status=VisitStatus.PLANNED)  # not theirs
    make_visit(quanzhou, make_user("manager"), participants=[officer])  # theirs, but outside their scope
    cancelled = make_visit(enterprise, officer, day=day + timedelta(days=1), status=VisitStatus.PLANNED)
    cancel_visit(cancelled, reason="改期")
    make_visit(enterprise, officer, day=local_today() - timedelta(days=400))  # older than the feed's window
    db.session.commit()

    client.login(officer)
    url = _subscribe(client)
    anonymous = client.application.test_client()  # the feed needs no session: calendar apps cannot log in
    events = _events(anonymous, url)
    host = "localhost"
    assert set(events) == {f"visit-{planned.id}@{host}", f"visit-{done.id}@{host}"}
    event = events[f"visit-{planned.id}@{host}"]
    start = event["DTSTART"]
    assert start.params["TZID"] == "Asia/Shanghai"
    assert start.dt.tzinfo is not None and start.dt.replace(tzinfo=None) == start.dt.astimezone(SHANGHAI).replace(
        tzinfo=None
    )
    assert start.dt.astimezone(SHANGHAI).time() == time(9, 30) and start.dt.date() == day
    assert event["DTEND"].dt - start.dt == timedelta(minutes=60)
    assert str(event["SUMMARY"]) == "实地走访 · 福州甲公司"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]).endswith(f"/visits/{planned.id}")
    assert "DTSTAMP" in event
    assert anonymous.get(url.replace(".ics", "x.ics")).status_code == 404


def test_the_secret_is_stored_hashed(client, officer):
    client.login(officer)
    url = _subscribe(client)
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    [feed] = db.session.scalars(select(CalendarFeed)).all()
    assert feed.token_hash == hash_token(secret) and secret not in feed.token_hash
    # Shown once: the page does not show it again.
    assert secret not in client.get("/calendar/subscription").get_data(as_text=True)


def test_a_revoked_feed_answers_404_and_a_new_one_works(client, officer, make_enterprise, make_visit):
    make_visit(make_enterprise(), officer, kind=VisitKind.PHONE)
    client.login(officer)
    first = _subscribe(client)
    assert client.get(first).status_code == 200
    second = _subscribe(client)  # re-creating replaces the URL
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    client.post_form("/calendar/subscription/revoke")
    assert client.get(second).status_code == 404
    assert db.session.scalars(select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))).all() == []


def test_a_deactivated_users_feed_answers_404(client, officer):
    client.login(officer)
    url = _subscribe(client)
    officer.is_active = False
    db.session.commit()
    assert client.get(url).status_code == 404


def test_an_empty_feed_still_declares_its_time_zone(client, officer):
    client.login(officer)
    url = _subscribe(client)
    assert _events(client, url) == {}


def test_the_feed_is_bounded_and_its_text_survives_parsing(client, officer, make_enterprise, make_visit):
    from crm.visits import calendar as cal

    enterprise = make_enterprise(name="福州甲公司，分公司; 第二")
    day = local_today() + timedelta(days=2)
    busy = [
        make_visit(enterprise, officer, day=day, at=time(8 + n // 6, n % 6 * 10), status=VisitStatus.PLANNED)
        for n in range(cal.FEED_ENTRIES_PER_DAY + 5)
    ]
    long_text = "查看报关单、原产地证明;核对账册\n第二行：" + "海关认证" * 60 + " \\ end"
    busy[0].summary = long_text
    busy[0].location = "厦门市，湖里区; 1号"
    make_visit(enterprise, officer, day=local_today() - timedelta(days=cal.FEED_PAST_DAYS + 2))  # too old
    make_visit(enterprise, officer, day=local_today() + timedelta(days=cal.FEED_FUTURE_DAYS + 2), status="planned")
    db.session.commit()

    client.login(officer)
    url = _subscribe(client)
    body = client.get(url).data
    assert all(len(line) <= 75 for line in body.split(b"\r\n")), "lines are folded at 75 octets"
    body.decode("utf-8")  # folding never splits a character
    events = _events(client, url)
    # The first FEED_ENTRIES_PER_DAY of the busy day, by time; nothing outside the window.
    assert set(events) == {f"visit-{v.id}@localhost" for v in busy[: cal.FEED_ENTRIES_PER_DAY]}
    first = events[f"visit-{busy[0].id}@localhost"]
    assert str(first["SUMMARY"]) == "实地走访 · 福州甲公司，分公司; 第二"
    assert str(first["LOCATION"]) == "厦门市，湖里区; 1号"
    assert long_text[:200] in str(first["DESCRIPTION"])
    assert [str(c) for c in first["CATEGORIES"].cats] == ["visit"]
