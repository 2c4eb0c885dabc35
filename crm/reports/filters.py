"""The report filters as a registry: each filter reads one query argument and adds a condition on ``Enterprise``.

The page, the API and the export writers read the same arguments (plain strings, as in a query string or the
JSON parameters of an export job) through ``parse_filters``; an invalid value is an error for that argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, or_, select

from crm.auth.models import User
from crm.core.scope import Scope, scope_of
from crm.core.security import MAX_URL_INTEGER
from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise, TargetTier, enterprise_key_categories
from crm.extensions import db
from crm.pipeline.models import Stage
from crm.reference.models import Area, CustomsOffice, KeyCategory
from crm.reports import cohorts

#: The longest period a report covers (the month grouping makes one column per month).
MAX_PERIOD_DAYS = 366 * 5


class FilterError(ValueError):
    """Invalid report arguments: ``errors`` maps each argument to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ReportFilter:
    name: str
    label: Any
    #: The value from the argument text, or raises ValueError with the message to show.
    parse: Callable[[str], Any]
    #: The WHERE clause on ``Enterprise`` for a parsed value.
    condition: Callable[[Any], ColumnElement[bool]]
    #: (value, label) pairs offered in the form.
    choices: Callable[[], list[tuple[str, str]]]


def _reference_id(model: type, code: str) -> int:
    row_id = db.session.scalar(select(model.id).where(model.code == code))
    if row_id is None:
        raise ValueError(_("Unknown code."))
    return row_id


def _reference_choices(model: type, scoped: Callable[[Scope], frozenset[int]] | None = None) -> Callable:
    """Active rows of a reference table; ``scoped`` narrows them to the user's areas or offices when they have
    some (a user whose scope names none, or no user, is offered every row)."""

    def choices() -> list[tuple[str, str]]:
        stmt = select(model).where(model.is_active.is_(True)).order_by(model.sort_order, model.id)
        ids = scoped(scope_of()) if scoped is not None else frozenset()
        if ids:
            stmt = stmt.where(model.id.in_(sorted(ids)))
        return [(row.code, row.display_name) for row in db.session.scalars(stmt)]

    return choices


def _positive_id(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_URL_INTEGER:
        raise ValueError(_("Use a record number."))
    return int(value)


def _parse_area(value: str) -> int:
    return _reference_id(Area, value)


def _parse_office(value: str) -> list[int]:
    office_id = _reference_id(CustomsOffice, value)
    children = db.session.scalars(select(CustomsOffice.id).where(CustomsOffice.parent_id == office_id)).all()
    return [office_id, *children]


def _parse_stage(value: str) -> str:
    if db.session.get(Stage, value) is None:
        raise ValueError(_("Unknown stage."))
    return value


def _stage_choices() -> list[tuple[str, str]]:
    return [(s.code, s.display_name) for s in db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code))]


def _parse_category(value: str) -> int:
    return _reference_id(KeyCategory, value)


def _category_condition(category_id: int) -> ColumnElement[bool]:
    members = select(enterprise_key_categories.c.enterprise_id).where(
        enterprise_key_categories.c.key_category_id == category_id
    )
    return Enterprise.id.in_(members)


def _parse_officer(value: str) -> int:
    user_id = _positive_id(value)
    if db.session.get(User, user_id) is None:
        raise ValueError(_("Unknown user."))
    return user_id


def _officer_condition(user_id: int) -> ColumnElement[bool]:
    return or_(Enterprise.commerce_officer_id == user_id, Enterprise.customs_officer_id == user_id)


def _officer_choices() -> list[tuple[str, str]]:
    """The users in charge of at least one enterprise: per user, one probe of the index on each officer column
    (the users are few, the enterprises many)."""
    in_charge = or_(
        select(Enterprise.id).where(Enterprise.commerce_officer_id == User.id).exists(),
        select(Enterprise.id).where(Enterprise.customs_officer_id == User.id).exists(),
    )
    users = db.session.scalars(select(User).where(in_charge).order_by(User.display_name, User.id))
    return [(str(user.id), str(user)) for user in users]


def _parse_tier(value: str) -> TargetTier:
    try:
        return TargetTier(value)
    except ValueError:
        raise ValueError(_("Unknown tier.")) from None


FILTERS: tuple[ReportFilter, ...] = (
    ReportFilter(
        "area",
        _l("Area"),
        _parse_area,
        lambda v: Enterprise.area_id == v,
        _reference_choices(Area, lambda scope: scope.area_ids if not scope.office_ids else frozenset()),
    ),
    ReportFilter(
        "office",
        _l("Customs office"),
        _parse_office,
        lambda v: Enterprise.office_id.in_(v),
        _reference_choices(CustomsOffice, lambda scope: scope.office_ids if not scope.area_ids else frozenset()),
    ),
    ReportFilter("stage", _l("Stage"), _parse_stage, lambda v: Enterprise.stage == v, _stage_choices),
    ReportFilter("category", _l("Key category"), _parse_category, _category_condition, _reference_choices(KeyCategory)),
    ReportFilter("cohort", _l("Cohort"), cohorts.parse_cohort, cohorts.cohort_condition, cohorts.cohort_choices),
    ReportFilter("officer", _l("Officer"), _parse_officer, _officer_condition, _officer_choices),
    ReportFilter(
        "tier",
        _l("Target tier"),
        _parse_tier,
        lambda v: Enterprise.target_tier == v,
        lambda: [(t.value, str(t.label)) for t in TargetTier],
    ),
)
FILTERS_BY_NAME = {f.name: f for f in FILTERS if f.name != "cohort" or cohorts.AVAILABLE}


@dataclass(frozen=True)
class ReportFilters:
    """Parsed report arguments: the period and the conditions on enterprises."""

    date_from: date
    date_to: date
    #: name -> parsed value of each filter given.
    values: dict[str, Any] = field(default_factory=dict)
    #: name -> the argument text of each filter given (for the audit trail, the file header and links).
    raw: dict[str, str] = field(default_factory=dict)

    def conditions(self) -> list[ColumnElement[bool]]:
        return [FILTERS_BY_NAME[name].condition(value) for name, value in self.values.items()]

    def as_args(self) -> dict[str, str]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), **self.raw}

    def described(self) -> list[tuple[str, str]]:
        """(label, value label) of the period and of each filter given, for file headers."""
        lines = [(_("Period"), f"{self.date_from.isoformat()} – {self.date_to.isoformat()}")]
        for name, text in self.raw.items():
            report_filter = FILTERS_BY_NAME[name]
            labels = dict(report_filter.choices())
            lines.append((str(report_filter.label), labels.get(text, text)))
        return lines


def _text(value: Any) -> str | None:
    """A parameter as text: strings are stripped, numbers accepted (JSON parameters), other values refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value.strip()
    raise ValueError


def _date(value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("Use a date in the form YYYY-MM-DD.")) from None
    if not 1900 <= day.year <= 2999:
        raise ValueError(_("Use a date between the years 1900 and 2999."))
    return day


def default_period(today: date | None = None) -> tuple[date, date]:
    """From 1 January of this year to today."""
    today = today or local_today()
    return date(today.year, 1, 1), today


def parse_filters(args: Mapping[str, Any], *, extra: tuple[str, ...] = ()) -> ReportFilters:
    """Read the period (``from``, ``to``) and the filters; raises FilterError naming each invalid argument.

    Arguments not named here (``group_by``, ``format``, ``page``, and those in ``extra``) are left to the caller."""
    errors: dict[str, list[str]] = {}
    start, end = default_period()
    dates: dict[str, date] = {}
    for name, default in (("from", start), ("to", end)):
        try:
            text = _text(args.get(name))
            dates[name] = _date(text) if text else default
        except ValueError as exc:
            errors[name] = [str(exc) or _("Invalid value.")]
    if not errors and dates["from"] > dates["to"]:
        errors["to"] = [_("The end of the period comes before its start.")]
    elif not errors and (dates["to"] - dates["from"]).days > MAX_PERIOD_DAYS:
        errors["to"] = [_("A report covers at most five years.")]
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for name, report_filter in FILTERS_BY_NAME.items():
        try:
            text = _text(args.get(name))
        except ValueError:
            errors[name] = [_("Invalid value.")]
            continue
        if not text:
            continue
        try:
            values[name] = report_filter.parse(text)
            raw[name] = text
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise FilterError(errors)
    return ReportFilters(date_from=dates.get("from", start), date_to=dates.get("to", end), values=values, raw=raw)


def filter_form_fields() -> list[dict[str, Any]]:
    """The filters with their choices, for the report form."""
    return [{"name": f.name, "label": f.label, "choices": f.choices()} for f in FILTERS_BY_NAME.values()]
