"""How event times and places read, in the user's language or a forced one (emails, certificates)."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime as babel_format_datetime

from crm.core.i18n import current_language
from crm.core.timeutil import to_local


def _language(locale: str | None) -> str:
    return locale or current_language()


def local_datetime(value: datetime, locale: str | None = None, *, with_weekday: bool = False) -> str:
    locale = _language(locale)
    if locale.startswith("zh"):
        pattern = "yyyy年M月d日（EEE） HH:mm" if with_weekday else "yyyy年M月d日 HH:mm"
    else:
        pattern = "EEE, MMM d, yyyy HH:mm" if with_weekday else "MMM d, yyyy HH:mm"
    return babel_format_datetime(to_local(value), pattern, locale=locale)


def local_day(value: datetime, locale: str | None = None) -> str:
    locale = _language(locale)
    pattern = "yyyy年M月d日" if locale.startswith("zh") else "MMM d, yyyy"
    return babel_format_datetime(to_local(value), pattern, locale=locale)


def event_period(event, locale: str | None = None) -> str:
    """``2026年3月5日（周四） 09:00–17:00``, or both ends in full when the event spans days."""
    start, end = to_local(event.starts_at), to_local(event.ends_at)
    if start.date() == end.date():
        return f"{local_datetime(event.starts_at, locale, with_weekday=True)}–{end:%H:%M}"
    return f"{local_datetime(event.starts_at, locale, with_weekday=True)} – {local_datetime(event.ends_at, locale)}"


def event_days(event, locale: str | None = None) -> str:
    """The event's day, or its first and last day: ``2026年3月5日`` / ``2026年3月5日至2026年3月6日``."""
    start, end = to_local(event.starts_at), to_local(event.ends_at)
    if start.date() == end.date():
        return local_day(event.starts_at, locale)
    joiner = "至" if _language(locale).startswith("zh") else " – "
    return f"{local_day(event.starts_at, locale)}{joiner}{local_day(event.ends_at, locale)}"


def event_place(event) -> str:
    """The venue and/or the online link, as one line."""
    parts = [p for p in (event.venue, event.online_url) if p]
    return " / ".join(parts)
