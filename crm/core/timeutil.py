"""Dates in the CRM's time zone (Asia/Shanghai by default): stored in UTC, shown and reasoned about locally."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from crm.core.models import UTCDateTime

DEFAULT_TIMEZONE = "Asia/Shanghai"


def local_tz() -> ZoneInfo:
    name = current_app.config.get("CRM_TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def to_local(value: datetime, tz: ZoneInfo | None = None) -> datetime:
    """A UTC instant in the CRM's time zone (``tz``: ``local_tz()`` looked up once by a caller converting many)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz or local_tz())


def local_date(value: datetime, tz: ZoneInfo | None = None) -> date:
    """The calendar date of a UTC instant in the CRM's time zone."""
    return to_local(value, tz).date()


def local_today(now: datetime | None = None) -> date:
    return local_date(now or datetime.now(UTC))


def local_midnight(day: date, tz: ZoneInfo | None = None) -> datetime:
    """The UTC instant at which ``day`` begins in the CRM's time zone (or in ``tz``)."""
    return datetime.combine(day, time.min, tzinfo=tz or local_tz()).astimezone(UTC)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as UTC instants."""
    return local_midnight(day), local_midnight(day + timedelta(days=1))


def days_since(value: datetime, today: date | None = None) -> int:
    """Whole local calendar days between an instant and today (0 on the same local day)."""
    return ((today or local_today()) - local_date(value)).days


# --- the same in SQL ------------------------------------------------------------------------------------------
# ``local_date`` and ``local_midnight`` computed by the database, for a query that must rank or filter by the
# instant an entry shows. The zone is an argument (``str(local_tz())``, usually bound as a parameter). PostgreSQL
# converts with its own zone data; SQLite calls the Python functions above (``register_sqlite_functions``).


class local_date_of(FunctionElement):  # noqa: N801 (a SQL function, named like one)
    """``local_date(instant, tz)`` in SQL: the calendar date of a UTC timestamp column in the zone named ``tz``."""

    type = Date()
    inherit_cache = True


class local_midnight_of(FunctionElement):  # noqa: N801 (a SQL function, named like one)
    """``local_midnight(day, tz)`` in SQL: the UTC instant at which a date column's day begins in the zone ``tz``."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(local_date_of, "postgresql")
def _local_date_of_postgresql(element, compiler, **kw):
    instant, tz = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(timezone({tz}, {instant}) AS DATE)"


@compiles(local_midnight_of, "postgresql")
def _local_midnight_of_postgresql(element, compiler, **kw):
    day, tz = (compiler.process(c, **kw) for c in element.clauses)
    return f"timezone({tz}, CAST({day} AS TIMESTAMP WITHOUT TIME ZONE))"


@compiles(local_date_of, "sqlite")
def _local_date_of_sqlite(element, compiler, **kw):
    instant, tz = (compiler.process(c, **kw) for c in element.clauses)
    return f"crm_local_date({instant}, {tz})"


@compiles(local_midnight_of, "sqlite")
def _local_midnight_of_sqlite(element, compiler, **kw):
    day, tz = (compiler.process(c, **kw) for c in element.clauses)
    return f"crm_local_midnight({day}, {tz})"


#: How SQLAlchemy stores a datetime on SQLite (naive UTC text): values compare (and sort) as text.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_local_date(instant: str | None, tz: str) -> str | None:
    return None if instant is None else local_date(datetime.fromisoformat(instant), ZoneInfo(tz)).isoformat()


def _sqlite_local_midnight(day: str | None, tz: str) -> str | None:
    if day is None:
        return None
    return local_midnight(date.fromisoformat(day), ZoneInfo(tz)).strftime(SQLITE_DATETIME_FORMAT)


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Give a SQLite connection the functions ``local_date_of`` and ``local_midnight_of`` compile to."""
    connection.create_function("crm_local_date", 2, _sqlite_local_date, deterministic=True)
    connection.create_function("crm_local_midnight", 2, _sqlite_local_midnight, deterministic=True)
