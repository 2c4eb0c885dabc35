"""Forms: a report subscription (an exporter, its filters and format, and a schedule)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.exports.models import Frequency
from crm.exports.registry import FORMATS, exporters_for

WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)


def params_from_query(query: str) -> dict[str, str]:
    """Filters given as a query string (``area=350500&stage=candidate``), as a report page links them."""
    return dict(parse_qsl(query or "", keep_blank_values=False))


class SubscriptionForm(FlaskForm):
    """Build with ``SubscriptionForm(user=current_user)``: the reports offered are the ones the user may run."""

    title = StringField(_l("Name"), [DataRequired(), Length(max=200)])
    kind = SelectField(_l("Report"), [InputRequired()])
    format = SelectField(_l("Format"), [InputRequired()], choices=[(f, f.upper()) for f in FORMATS])
    #: The report's filters as its page's query string.
    params = HiddenField(_l("Filters"), [Length(max=2000)])
    frequency = SelectField(_l("How often"), [InputRequired()])
    weekday = SelectField(_l("Weekday"), [Optional()], coerce=int)
    day_of_month = IntegerField(
        _l("Day of the month"),
        [Optional(), NumberRange(min=1, max=31)],
        description=_l("A month without that day uses its last day."),
    )
    hour = SelectField(_l("Hour (Asia/Shanghai)"), [InputRequired()], coerce=int, default=8)

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(e.key, str(e.label)) for e in exporters_for(user)]
        self.frequency.choices = Frequency.choices()
        self.weekday.choices = [(index, str(name)) for index, name in enumerate(WEEKDAYS)]
        self.hour.choices = [(hour, f"{hour:02d}:00") for hour in range(24)]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.frequency.data == Frequency.MONTHLY.value and self.day_of_month.data is None:
            self.day_of_month.errors = [*self.day_of_month.errors, _l("Choose the day of the month.")]
            return False
        return valid
