"""Shapes shared by features that feed the enterprise timeline and the calendar.

The enterprise page merges ``TimelineEntry`` lists from each feature's ``timeline_entries`` function; the
calendar merges ``CalendarEntry`` lists from each feature's ``calendar_entries`` function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

Row = TypeVar("Row")

#: How many entries the enterprise page shows of its timeline (the whole timeline has a page of its own).
PAGE_ENTRIES = 15
#: How many of a provider's newest entries a section loads when it answers for that provider on the enterprise
#: page (``DetailSection.timeline``): the page asks each provider for one more than it shows.
SECTION_TIMELINE_ROWS = PAGE_ENTRIES + 1


def newest_loaded(rows: list[Row], total: int, wanted: int) -> list[Row] | None:
    """The ``wanted`` newest of the ``rows`` a section loaded (newest first, of ``total`` in all), or None when
    more are wanted than it loaded and more exist: the timeline then asks the provider itself."""
    if wanted > len(rows) and total > len(rows):
        return None
    return rows[:wanted]


@dataclass(frozen=True)
class TimelineEntry:
    #: When it happened (UTC, aware); entries are merged newest first.
    at: datetime
    #: A short machine word: "stage", "visit", "task", "training", "note", "edit", "recommendation" ...
    kind: str
    title: str
    body: str = ""
    #: Who did it (display name), if known.
    author: str | None = None
    #: Where to see the record.
    url: str | None = None
    #: A Bootstrap Icons name, e.g. "flag".
    icon: str = "dot"


@dataclass(frozen=True)
class CalendarEntry:
    kind: str
    title: str
    #: Start and end as UTC instants; an all-day entry sets ``all_day`` and uses ``day``.
    start: datetime | None
    end: datetime | None = None
    all_day: bool = False
    day: date | None = None
    url: str | None = None
    #: "planned", "done", "cancelled" ...
    status: str = ""
    #: Stable identifier for iCalendar UIDs, e.g. "visit-12".
    uid: str = ""
    location: str = ""
    description: str = ""
