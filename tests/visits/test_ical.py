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
