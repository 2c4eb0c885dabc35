"""Certification deadlines as plain date arithmetic (the domain brief, sections 1.2, 1.3 and 3).

- the decision is due 90 days after customs accepted the application, 120 when the extension is recorded;
- an enterprise that failed, withdrew or was downgraded may apply again one year later;
- re-verification (复核) is due a configurable number of years after certification or the last re-verification.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

DECISION_DAYS = 90
EXTENSION_DAYS = 30
LOCKOUT_YEARS = 1
#: The audited financial report of the previous year is due by this day of each year.
REPORT_DUE_MONTH_DAY = (6, 30)


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (or earlier); 29 February becomes 28 February in a common year."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def earliest_start_due_on_or_after(day: date, years: int) -> date:
    """The first start date whose ``add_years(start, years)`` falls on or after ``day``."""
    start = add_years(day, -years)
    # 29 February of a leap target year: a start on 28 February of a common year is due 28 February, too early.
    if day.month == 2 and day.day == 29 and start.day == 28:
        start += timedelta(days=1)
    return start


def latest_start_due_on_or_before(day: date, years: int) -> date:
    """The last start date whose ``add_years(start, years)`` falls on or before ``day``."""
    start = add_years(day, -years)
    # 28 February of a common target year: a start on 29 February of a leap year is also due then.
    if day.month == 2 and day.day == 28 and calendar.isleap(start.year):
        start = date(start.year, 2, 29)
    return start


def decision_due(accepted_on: date | None, extended: bool = False) -> date | None:
    if accepted_on is None:
        return None
    return accepted_on + timedelta(days=DECISION_DAYS + (EXTENSION_DAYS if extended else 0))


def reapply_after(event_on: date) -> date:
    return add_years(event_on, LOCKOUT_YEARS)


def reverification_due(cycle_start_on: date | None, cycle_years: int) -> date | None:
    return None if cycle_start_on is None else add_years(cycle_start_on, cycle_years)


def report_due(year: int) -> date:
    return date(year, *REPORT_DUE_MONTH_DAY)
