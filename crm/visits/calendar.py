"""The calendar: entries merged from each feature's provider, laid out by month or week, and the iCalendar
feed a user subscribes to from a phone or desktop calendar.

A provider is ``calendar_entries(user, start, end, *, person_id=None, office_code=None, area_code=None,
per_day=None) -> list[CalendarEntry]`` returning the entries in ``[start, end)`` (UTC instants) within the user's
scope; with ``per_day`` it may return only the first so many of each local day (the visits provider does: a
province-wide month holds thousands of visits; the events provider, a few events a month, returns them all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _

from crm.core.models import utcnow
from crm.core.timeline import CalendarEntry
from crm.core.timeutil import local_date, local_midnight, local_today, local_tz

logger = logging.getLogger(__name__)

Provider = Callable[..., list[CalendarEntry]]

#: The feed covers this window around today: recent history and what is planned.
FEED_PAST_DAYS = 90
FEED_FUTURE_DAYS = 366


def calendar_providers() -> list[Provider]:
    """Each feature's calendar provider, listed by hand."""
    from crm.events.queries import calendar_entries as event_entries
    from crm.visits.queries import calendar_entries as visit_entries

    return [visit_entries, event_entries]


def collect_entries(
    user: Any,
    start: datetime,
    end: datetime,
    *,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
    per_day: int | None = None,
) -> list[CalendarEntry]:
    """Every provider's entries in ``[start, end)``, in time order (all-day entries first on their day);
    ``per_day``: the first so many of each local day."""
    entries: list[CalendarEntry] = []
    for provider in calendar_providers():
        entries.extend(
            provider(
                user, start, end, person_id=person_id, office_code=office_code, area_code=area_code, per_day=per_day
            )
        )
    entries.sort(key=_sort_key)
    if per_day is None:
        return entries
    kept: list[CalendarEntry] = []
    taken: dict[date | None, int] = {}
    for entry in entries:
        day = entry_day(entry)
        if taken.get(day, 0) < per_day:
            taken[day] = taken.get(day, 0) + 1
            kept.append(entry)
    return kept


def count_entries(
    user: Any,
    first: date,
    last: date,
    entries: list[CalendarEntry],
    *,
    limit: int,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
) -> int:
    """How many entries fall on the local days ``first`` to ``last``, exact up to ``limit`` and ``limit + 1``
    beyond: visits counted by the database (``entries`` may hold only each day's first ones), the other kinds
    from ``entries`` (their providers return them all)."""
    from crm.visits.queries import count_calendar_visits

    start, end = bounds(first, last)
    visits = count_calendar_visits(
        user, start, end, limit, person_id=person_id, office_code=office_code, area_code=area_code
    )
    others = sum(1 for e in entries if e.kind != "visit" and first <= (entry_day(e) or date.min) <= last)
    return min(visits + others, limit + 1)


def entry_day(entry: CalendarEntry) -> date | None:
    """The local calendar day an entry is shown on."""
    if entry.all_day or entry.start is None:
        return entry.day
    return local_date(entry.start)


def _sort_key(entry: CalendarEntry) -> tuple:
    day = entry_day(entry) or date.min
    moment = entry.start or datetime.min.replace(tzinfo=UTC)
    return (day, not entry.all_day, moment, entry.title)


# --- month and week layouts -----------------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    in_period: bool
    is_today: bool
    entries: list[CalendarEntry] = field(default_factory=list)
    #: Entries of the day beyond those shown (counted up to ``MORE_ENTRIES_LIMIT + 1``).
    more: int = 0

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5


def month_span(year: int, month: int) -> tuple[date, date]:
    """The Monday before the 1st and the Sunday after the last day: the days a month grid shows."""
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())


#: A busy day's "more" link counts this many entries beyond those shown, and says "9+ more" past them.
MORE_ENTRIES_LIMIT = 9


def layout_days(
    first: date,
    last: date,
    entries: list[CalendarEntry],
    *,
    period: tuple[date, date],
    today: date | None = None,
    shown: int | None = None,
) -> list[CalendarDay]:
    """The days from ``first`` to ``last`` with their entries; ``shown``: each day keeps that many and counts
    the rest in ``more``."""
    today = today or local_today()
    days = {
        first + timedelta(days=n): CalendarDay(
            day=first + timedelta(days=n),
            in_period=period[0] <= first + timedelta(days=n) <= period[1],
            is_today=first + timedelta(days=n) == today,
        )
        for n in range((last - first).days + 1)
    }
    for entry in entries:
        day = entry_day(entry)
        if day in days:
            if shown is not None and len(days[day].entries) >= shown:
                days[day].more += 1
            else:
                days[day].entries.append(entry)
    return list(days.values())


def weeks(days: list[CalendarDay]) -> list[list[CalendarDay]]:
    return [days[i : i + 7] for i in range(0, len(days), 7)]


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants covering local days ``first`` to ``last`` inclusive."""
    return local_midnight(first), local_midnight(last + timedelta(days=1))


# --- the iCalendar feed ---------------------------------------------------------------------------------


ICAL_STATUS = {"planned": "CONFIRMED", "done": "CONFIRMED", "cancelled": "CANCELLED"}


def feed_entries(user: Any, now: datetime | None = None) -> list[CalendarEntry]:
    """What the user's feed holds: every provider's entries that concern the user (they take part), within
    their scope, from ``FEED_PAST_DAYS`` ago to ``FEED_FUTURE_DAYS`` ahead."""
    today = local_today(now)
    start, end = bounds(today - timedelta(days=FEED_PAST_DAYS), today + timedelta(days=FEED_FUTURE_DAYS))
    return collect_entries(user, start, end, person_id=user.id)


def build_ical(user: Any, entries: list[CalendarEntry], *, now: datetime | None = None) -> bytes:
    """An iCalendar document (RFC 5545) of the entries, times in Asia/Shanghai with its VTIMEZONE."""
    from icalendar import Calendar, Event  # 80 modules: imported by the feed only

    now = now or utcnow()
    tz = local_tz()
    calendar = Calendar()
    calendar.add("prodid", "-//AEO Cultivation CRM//Visits and events//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("AEO cultivation: %(name)s", name=str(user)))
    calendar.add("x-wr-timezone", tz.key)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    host = _uid_host()
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.uid or id(entry)}@{host}")
        event.add("dtstamp", now)
        event.add("summary", entry.title)
        if entry.all_day or entry.start is None:
            day = entry.day or local_date(entry.start)
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
        else:
            event.add("dtstart", entry.start.astimezone(tz))
            event.add("dtend", (entry.end or entry.start + timedelta(hours=1)).astimezone(tz))
        if entry.location:
            event.add("location", entry.location)
        if entry.description:
            event.add("description", entry.description)
        if entry.url:
            event.add("url", _absolute(entry.url))
        if entry.status in ICAL_STATUS:
            event.add("status", ICAL_STATUS[entry.status])
        if entry.kind:
            event.add("categories", [entry.kind])
        calendar.add_component(event)
    starts = [e.start for e in entries if e.start is not None]
    first = min(starts).astimezone(tz).date() if starts else local_today(now)
    calendar.add_missing_timezones(first_date=first - timedelta(days=1))
    if not any(component.name == "VTIMEZONE" for component in calendar.subcomponents):
        calendar.add_component(_timezone_component(tz.key, first))
    return calendar.to_ical()


def _timezone_component(key: str, first: date):
    """The VTIMEZONE of the CRM's zone even when no timed entry uses it (an empty feed still declares it)."""
    from zoneinfo import ZoneInfo

    from icalendar import Timezone

    return Timezone.from_tzinfo(ZoneInfo(key), first_date=first - timedelta(days=1))


def _uid_host() -> str:
    try:
        return request.host.split(":")[0] or "aeo-crm"
    except RuntimeError:
        return current_app.config.get("SERVER_NAME") or "aeo-crm"


def _absolute(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    try:
        return request.host_url.rstrip("/") + url
    except RuntimeError:
        return url
