"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal
from flask import Flask, request, url_for
from markupsafe import Markup, escape

from crm.core.i18n import current_language, is_chinese
from crm.core.timeutil import to_local


@lru_cache(maxsize=8)
def _locale(code: str) -> Locale:
    """Parsed Babel locales, kept: parsing one for each date of a 50-row table is measurable."""
    return Locale.parse(code)


def format_date(value: date | datetime | None, empty: str = "") -> str:
    """``2025年6月5日`` in Chinese, ``Jun 5, 2025`` in English."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = to_local(value).date()
    return babel_format_date(value, "long" if is_chinese() else "medium", locale=_locale(current_language()))


def format_datetime(value: datetime | None, empty: str = "") -> str:
    """A UTC instant shown in the CRM's time zone: ``2025年6月5日 14:03``."""
    if value is None:
        return empty
    local = to_local(value)
    pattern = "yyyy年M月d日 HH:mm" if is_chinese() else "MMM d, yyyy HH:mm"
    return babel_format_datetime(local, pattern, locale=_locale(current_language()))


def format_time(value: datetime | None, empty: str = "") -> str:
    return empty if value is None else to_local(value).strftime("%H:%M")


def format_number(value: int | float | Decimal | None, empty: str = "") -> str:
    if value is None:
        return empty
    return format_decimal(value, locale=_locale(current_language()))


def label(value: Any, empty: str = "") -> str:
    """The translated label of an enum member, or of a reference-data row (its name in the current language)."""
    if value is None:
        return empty
    if hasattr(value, "label"):
        return str(value.label)
    if hasattr(value, "display_name"):
        return str(value.display_name)
    return str(value)


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments replaced (``None`` removes one); keeps repeated arguments."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def nl2br(value: str | None) -> Markup:
    if not value:
        return Markup("")
    escaped = Markup.escape(value)
    return Markup("<br>").join(escaped.split("\n"))


def select_options(options: list[tuple[str, str]] | OptionsMarkup, selected: str | None = None) -> Markup:
    """``<option>`` elements for ``(value, text)`` pairs, ``selected`` marked: one join instead of a template loop
    (the enterprise list's filter bar has about 200 options). ``OptionsMarkup`` holds them already escaped."""
    if not isinstance(options, OptionsMarkup):
        options = OptionsMarkup(options)
    return options.marked(selected)


class OptionsMarkup:
    """``(value, text)`` pairs as ``<option>`` markup, escaped once (for options kept between requests): marking
    the selected one then costs a join, not an escape of every value and text."""

    def __init__(self, options: list[tuple[str, str]]):
        self.values = [value for value, _text in options]
        self.parts = [f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in options]
        self.html = Markup("".join(self.parts))

    def marked(self, selected: str | None) -> Markup:
        """The options with ``selected`` marked (every option of that value)."""
        if selected is None or selected not in self.values:
            return self.html
        # The escaped value holds no '"', so the first '">' closes it.
        return Markup(
            "".join(
                part.replace('">', '" selected>', 1) if value == selected else part
                for value, part in zip(self.values, self.parts, strict=True)
            )
        )


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        date=format_date,
        datetime=format_datetime,
        time=format_time,
        number=format_number,
        label=label,
        nl2br=nl2br,
        select_options=select_options,
    )
    app.jinja_env.globals.update(url_with=url_with, current_language=current_language)
