"""Reminder texts: administrator-written templates (``{{ enterprise }}``) rendered in a Jinja sandbox.

Values are formatted for the recipient's language before rendering: dates as ``2026年3月12日`` or
``Mar 12, 2026``, instants in the CRM's time zone, and ``Localized`` values pick their language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_date, format_datetime
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from crm.core.timeutil import to_local

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Localized:
    """A context value with a Chinese and an English form, e.g. a stage name."""

    zh: str
    en: str

    def for_language(self, language: str) -> str:
        return self.zh if language.startswith("zh") else (self.en or self.zh)

    def __str__(self) -> str:
        return self.zh


def babel_locale(language: str) -> str:
    return "zh_Hans_CN" if language.startswith("zh") else "en"


def format_value(value: Any, language: str) -> Any:
    """A context value as the recipient reads it."""
    if isinstance(value, Localized):
        return value.for_language(language)
    if isinstance(value, datetime):
        pattern = "yyyy年M月d日 HH:mm" if language.startswith("zh") else "MMM d, yyyy HH:mm"
        return format_datetime(to_local(value), pattern, locale=babel_locale(language))
    if isinstance(value, date):
        return format_date(value, "long" if language.startswith("zh") else "medium", locale=babel_locale(language))
    if value is None:
        return ""
    return value


@lru_cache(maxsize=256)
def _compiled(source: str):
    return _env.from_string(source)


def render(source: str, context: dict[str, Any], language: str) -> str:
    """Render a template for one recipient; a broken template renders as its source rather than failing a sweep."""
    values = {key: format_value(value, language) for key, value in context.items()}
    try:
        return _compiled(source).render(values).strip()
    except Exception:  # a template saved before validation existed, or a sandbox refusal: show it raw
        return source


def template_problems(source: str, allowed: set[str]) -> tuple[str | None, list[str]]:
    """Why a template cannot be saved: (a syntax error, placeholders the watcher does not provide)."""
    try:
        parsed = _env.parse(source)
    except TemplateSyntaxError as exc:
        return f"{exc.lineno}: {exc.message}", []
    return None, sorted(meta.find_undeclared_variables(parsed) - allowed)
