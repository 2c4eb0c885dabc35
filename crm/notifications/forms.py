"""Forms: a user's notification preferences, and an administrator's reminder rule."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from crm.notifications.models import EmailMode
from crm.notifications.registry import WatcherSpec
from crm.notifications.templating import template_problems


class PreferencesForm(FlaskForm):
    email_mode = RadioField(_l("Reminder emails"), validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.email_mode.choices = EmailMode.choices()


def _template_check(form: ReminderRuleForm, field) -> None:
    syntax, unknown = template_problems(field.data or "", set(form.spec.all_placeholders))
    if syntax:
        raise ValidationError(_l("This template has an error (line %(detail)s).", detail=syntax))
    if unknown:
        raise ValidationError(
            _l(
                "Unknown placeholders: %(names)s. Available: %(available)s.",
                names=", ".join(unknown),
                available=", ".join(form.spec.all_placeholders),
            )
        )


class ReminderRuleForm(FlaskForm):
    """Build with ``ReminderRuleForm.for_spec(spec=..., obj=rule)``: the recipient fields depend on the watcher."""

    name_zh = StringField(_l("Chinese name"), [DataRequired(), Length(max=100)])
    name_en = StringField(_l("English name"), [DataRequired(), Length(max=150)])
    is_active = BooleanField(_l("On"), default=True)
    offset_days = IntegerField(
        _l("Offset (days)"),
        [InputRequired(), NumberRange(min=-366, max=366)],
        default=0,
        description=_l(
            "Days from the watched date to the day the reminder goes out: -3 = three days before, 0 = on "
            "the day, 7 = a week after."
        ),
    )
    subject_zh = StringField(_l("Subject (Chinese)"), [DataRequired(), Length(max=300), _template_check])
    body_zh = TextAreaField(_l("Text (Chinese)"), [DataRequired(), Length(max=4000), _template_check])
    subject_en = StringField(_l("Subject (English)"), [DataRequired(), Length(max=300), _template_check])
    body_en = TextAreaField(_l("Text (English)"), [DataRequired(), Length(max=4000), _template_check])

    spec: WatcherSpec

    @classmethod
    def for_spec(cls, *args: Any, spec: WatcherSpec, **kwargs: Any) -> ReminderRuleForm:
        fields = {
            recipient_field(option.code, channel.value): BooleanField(channel.label)
            for option in spec.recipients
            for channel in option.channels
        }
        form_class = type(f"ReminderRuleForm_{spec.code}", (cls,), fields)
        form = form_class(*args, **kwargs)
        form.spec = spec
        return form

    def recipient_rows(self) -> list[tuple[Any, list[Any]]]:
        """(recipient option, its channel checkboxes) for the template."""
        return [
            (option, [self[recipient_field(option.code, c.value)] for c in option.channels])
            for option in self.spec.recipients
        ]

    def fill_recipients(self, recipients: dict[str, list[str]]) -> None:
        for option in self.spec.recipients:
            for channel in option.channels:
                self[recipient_field(option.code, channel.value)].data = channel.value in recipients.get(
                    option.code, []
                )

    @property
    def recipients(self) -> dict[str, list[str]]:
        chosen: dict[str, list[str]] = {}
        for option in self.spec.recipients:
            channels = [c.value for c in option.channels if self[recipient_field(option.code, c.value)].data]
            if channels:
                chosen[option.code] = channels
        return chosen

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_active.data and not self.recipients:
            self.form_errors.append(_l("Choose at least one recipient and channel, or turn the rule off."))
            ok = False
        return ok


def recipient_field(code: str, channel: str) -> str:
    return f"to_{code}_{channel}"
