"""The dashboard's filters (a GET form: no CSRF token, nothing changes) and the certification target form."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, Form, IntegerField, SelectField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError

from crm.core.timeutil import local_today
from crm.dashboard import queries
from crm.dashboard.models import CertificationTarget
from crm.extensions import db
from crm.reference.models import Area

#: The longest range the dashboard covers (its months are columns of the trend tables).
MAX_RANGE_YEARS = 5
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


def _int_or_none(value: Any) -> int | None:
    """An id from a select, or None for its empty choice (a ValueError for anything else: WTForms reports it)."""
    return int(value) if value not in (None, "") else None


class DashboardFilterForm(Form):
    start = DateField(_l("Date from"), [Optional()])
    end = DateField(_l("Date to"), [Optional()])
    area = SelectField(_l("Area"), choices=[], coerce=_int_or_none, validate_choice=True)
    office = SelectField(_l("Customs office"), choices=[], coerce=_int_or_none, validate_choice=True)

    def __init__(self, *args, user: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.area.choices = [("", _l("All areas in my scope"))] + [
            (area.id, area.display_name) for area in queries.areas_in_scope(user)
        ]
        self.office.choices = [("", _l("All offices in my scope"))] + [
            (office.id, office.display_name) for office in queries.offices_in_scope(user)
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in (self.start, self.end):
            if field.errors and field.raw_data and field.data is None:
                # WTForms' own message says nothing of the format the field expects.
                field.errors = [_l("Enter a date as YYYY-MM-DD, e.g. 2026-03-31.")]
        for field in (self.area, self.office):
            if field.errors:
                field.errors = [_l("Choose one of the offered values: it must lie within your scope.")]
        start, end = self.range()
        if not self.start.errors and not self.end.errors:
            if start > end:
                self.end.errors = [*self.end.errors, _l("The end date is before the start date.")]
                valid = False
            elif start.year < EARLIEST_YEAR or end.year > LATEST_YEAR:
                self.start.errors = [*self.start.errors, _l("Choose dates between 2000 and 2100.")]
                valid = False
            elif end.year * 12 + end.month - (start.year * 12 + start.month) >= MAX_RANGE_YEARS * 12:
                self.end.errors = [
                    *self.end.errors,
                    _l("The range may cover at most %(years)s years.", years=MAX_RANGE_YEARS),
                ]
                valid = False
        return valid

    def range(self) -> tuple[date, date]:
        default_start, default_end = queries.default_range()
        start = self.start.data or (date(self.end.data.year, 1, 1) if self.end.data else default_start)
        end = self.end.data or max(start, default_end)
        return start, end

    def dashboard_filter(self) -> queries.DashboardFilter:
        start, end = self.range()
        return queries.DashboardFilter(
            start=start, end=end, area_id=self.area.data, office_id=self.office.data, user=self.user
        )

    @property
    def is_narrowed(self) -> bool:
        return self.area.data is not None or self.office.data is not None


class CertificationTargetForm(FlaskForm):
    area_id = SelectField(_l("Area"), coerce=_int_or_none, validators=[InputRequired()])
    year = IntegerField(
        _l("Year"),
        [DataRequired(), NumberRange(min=EARLIEST_YEAR, max=LATEST_YEAR)],
        default=lambda: local_today().year,
    )
    target = IntegerField(
        _l("Certifications targeted"),
        [InputRequired(), NumberRange(min=0, max=100000)],
        description=_l("Enterprises of the area to be certified during the year."),
    )

    def __init__(self, *args, row: CertificationTarget | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.row = row
        self.area_id.choices = [("", "—")] + [
            (area.id, area.display_name)
            for area in db.session.scalars(
                select(Area).where(Area.is_active.is_(True)).order_by(Area.sort_order, Area.code)
            )
        ]
        if row is not None and row.area_id not in {value for value, _label in self.area_id.choices}:
            self.area_id.choices.append((row.area_id, row.area.display_name))

    def validate_area_id(self, field) -> None:
        if field.data is None:
            raise ValidationError(_l("Choose an area."))

    def validate_year(self, field) -> None:
        if field.data is None or self.area_id.data is None:
            return
        existing = db.session.scalar(
            select(CertificationTarget.id).where(
                CertificationTarget.area_id == self.area_id.data, CertificationTarget.year == field.data
            )
        )
        if existing is not None and (self.row is None or existing != self.row.id):
            raise ValidationError(_l("This area already has a target for that year: edit it instead."))
