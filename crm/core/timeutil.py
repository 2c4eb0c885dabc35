"""Dates in the CRM's time zone (Asia/Shanghai by default): stored in UTC, shown and reasoned about locally."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

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


def local_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in the CRM's time zone."""
    return datetime.combine(day, time.min, tzinfo=local_tz()).astimezone(UTC)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as UTC instants."""
    return local_midnight(day), local_midnight(day + timedelta(days=1))


def days_since(value: datetime, today: date | None = None) -> int:
    """Whole local calendar days between an instant and today (0 on the same local day)."""
    return ((today or local_today()) - local_date(value)).days
