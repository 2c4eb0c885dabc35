"""Local dates in SQL give what the Python functions give, in the CRM's zone and in zones with summer time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, literal, select

from crm.core.models import UTCDateTime
from crm.core.timeutil import local_date, local_date_of, local_midnight, local_midnight_of
from crm.extensions import db

DAYS = [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1), date(2026, 11, 27)]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/London", "America/New_York", "UTC"])
def test_local_dates_in_sql_are_the_python_ones(app, zone):
    tz = ZoneInfo(zone)
    for day in DAYS:
        for instant in (local_midnight(day, tz) + timedelta(hours=h, microseconds=7) for h in (-1, 0, 5, 23)):
            moment = literal(instant, UTCDateTime())
            found_day, midnight = db.session.execute(
                select(local_date_of(moment, bindparam("tz")), local_midnight_of(literal(day), bindparam("tz"))),
                {"tz": zone},
            ).one()
            assert (found_day, midnight) == (local_date(instant, tz), local_midnight(day, tz)), (zone, instant)
            assert midnight.tzinfo is not None and midnight.utcoffset() == timedelta(0)


def test_local_dates_in_sql_of_null_are_null(app):
    row = db.session.execute(
        select(local_date_of(literal(None, UTCDateTime()), "Asia/Shanghai"), local_midnight_of(literal(None), "UTC"))
    ).one()
    assert tuple(row) == (None, None)


def test_the_sql_midnight_orders_with_stored_instants(app):
    """On SQLite instants are text: the midnight the database computes must sort among stored ones as the time."""
    midnight = local_midnight(date(2026, 11, 27))
    before, after = (literal(midnight + timedelta(microseconds=d), UTCDateTime()) for d in (-1, 1))
    computed = local_midnight_of(literal(date(2026, 11, 27)), "Asia/Shanghai")
    assert db.session.execute(
        select(before < computed, computed < after, computed == literal(midnight, UTCDateTime()))
    ).one() == (True, True, True)
    assert midnight == datetime(2026, 11, 26, 16, tzinfo=UTC)
