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
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import gettext as _

from crm.core.models import utcnow
from crm.core.timeline import CalendarEntry
from crm.core.timeutil import local_date, local_midnight, local_today, local_tz

logger = logging.getLogger(__name__)

Provider = Callable[..., list[CalendarEntry]]

#: The feed covers this window around today: the recent weeks a calendar app shows looking back, and the half year
#: ahead visits are planned for (a phone keeps what it once received; older entries stay in the CRM's calendar).
FEED_PAST_DAYS = 31
FEED_FUTURE_DAYS = 183
#: A day's entries in the feed, the first by time: more than a person attends, so the feed stays bounded.
FEED_ENTRIES_PER_DAY = 20


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
    tz = local_tz()
    entries.sort(key=lambda entry: _sort_key(entry, tz))
    if per_day is None:
        return entries
    from crm.visits.queries import first_of_each_day

    return first_of_each_day(entries, per_day, lambda entry: entry_day(entry, tz))


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


def entry_day(entry: CalendarEntry, tz: ZoneInfo | None = None) -> date | None:
    """The local calendar day an entry is shown on (``tz``: ``local_tz()`` looked up once by a caller of many)."""
    if entry.all_day or entry.start is None:
        return entry.day
    return local_date(entry.start, tz)


def _sort_key(entry: CalendarEntry, tz: ZoneInfo | None = None) -> tuple:
    day = entry_day(entry, tz) or date.min
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
    tz = local_tz()
    for entry in entries:
        day = entry_day(entry, tz)
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


def feed_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The UTC instants the feed covers: ``FEED_PAST_DAYS`` local days back to ``FEED_FUTURE_DAYS`` ahead."""
    today = local_today(now)
    return bounds(today - timedelta(days=FEED_PAST_DAYS), today + timedelta(days=FEED_FUTURE_DAYS))


def feed_entries(user: Any, now: datetime | None = None) -> list[CalendarEntry]:
    """What the user's feed holds: every provider's entries that concern the user (they take part), within
    their scope, in the ``feed_window``, at most ``FEED_ENTRIES_PER_DAY`` a day."""
    start, end = feed_window(now)
    return collect_entries(user, start, end, person_id=user.id, per_day=FEED_ENTRIES_PER_DAY)


def build_ical(user: Any, entries: list[CalendarEntry], *, now: datetime | None = None) -> bytes:
    """An iCalendar document (RFC 5545) of the entries, times in the CRM's zone with its VTIMEZONE.

    Written line by line (a few microseconds an entry; the icalendar library took about a millisecond, 4 to 17
    seconds for a busy officer's feed); the tests parse it with icalendar."""
    now = now or utcnow()
    tz = local_tz()
    stamp = f"DTSTAMP:{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    tzid = f";TZID={tz.key}"
    host = _uid_host()
    site = _site_root()
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//AEO Cultivation CRM//Visits and events//ZH",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + ical_text(_("AEO cultivation: %(name)s", name=str(user))),
        "X-WR-TIMEZONE:" + ical_text(tz.key),
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
    ]
    for entry in entries:
        lines.append("BEGIN:VEVENT")
        lines.append(f"UID:{ical_text(f'{entry.uid or id(entry)}@{host}')}")
        lines.append(stamp)
        lines.append("SUMMARY:" + ical_text(entry.title))
        if entry.all_day or entry.start is None:
            day = entry.day or local_date(entry.start)
            lines.append(f"DTSTART;VALUE=DATE:{day:%Y%m%d}")
            lines.append(f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}")
        else:
            end = entry.end or entry.start + timedelta(hours=1)
            lines.append(f"DTSTART{tzid}:{entry.start.astimezone(tz):%Y%m%dT%H%M%S}")
            lines.append(f"DTEND{tzid}:{end.astimezone(tz):%Y%m%dT%H%M%S}")
        if entry.location:
            lines.append("LOCATION:" + ical_text(entry.location))
        if entry.description:
            lines.append("DESCRIPTION:" + ical_text(entry.description))
        if entry.url:
            url = entry.url if entry.url.startswith(("http://", "https://")) else site + entry.url
            lines.append("URL:" + url)
        if entry.status in ICAL_STATUS:
            lines.append("STATUS:" + ICAL_STATUS[entry.status])
        if entry.kind:
            lines.append("CATEGORIES:" + ical_text(entry.kind))
        lines.append("END:VEVENT")
    first = feed_window(now)[0].astimezone(tz).date()
    lines.extend(_timezone_lines(tz.key, first))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines).encode()


_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": ""})


def ical_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newline escaped."""
    return value.translate(_TEXT_ESCAPES)


def fold(line: str, limit: int = 75) -> str:
    """A content line folded at ``limit`` octets (RFC 5545 3.1), never inside a UTF-8 character."""
    if len(line) <= limit // 4 or len(line.encode()) <= limit:
        return line
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode())
        # continuation lines begin with a space, which counts towards their limit
        if size + width > (limit if not parts else limit - 1):
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


@lru_cache(maxsize=4)
def _timezone_lines(key: str, first: date) -> tuple[str, ...]:
    """The VTIMEZONE of the CRM's zone from ``first`` on (icalendar computes it once a day per process; an empty
    feed still declares it)."""
    from zoneinfo import ZoneInfo

    from icalendar import Timezone  # 80 modules: imported by the feed only

    text = Timezone.from_tzinfo(ZoneInfo(key), first_date=first - timedelta(days=1)).to_ical().decode()
    return tuple(line for line in text.replace("\r\n ", "").split("\r\n") if line)


def _uid_host() -> str:
    try:
        return request.host.split(":")[0] or "aeo-crm"
    except RuntimeError:
        return current_app.config.get("SERVER_NAME") or "aeo-crm"


def _site_root() -> str:
    """What makes an entry's path absolute: the request's host URL (nothing outside a request)."""
    try:
        return request.host_url.rstrip("/")
    except RuntimeError:
        return ""
