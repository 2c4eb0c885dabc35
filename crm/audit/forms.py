"""The audit search's filters (a GET form: no CSRF token, nothing changes)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, IntegerField, SearchField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from crm.audit.labels import action_label, record_type_label
from crm.audit.queries import AuditFilters, audited_models
from crm.core.audit import AuditAction


class AuditSearchForm(Form):
    user = StringField(
        _l("User"), [Optional(), Length(max=120)], description=_l("A username, or cli: / job: for commands and jobs.")
    )
    action = SelectField(_l("Action"), choices=[], validators=[Optional()])
    record_type = StringField(
        _l("Record type"),
        [Optional(), Length(max=60)],
        description=_l("A model such as Enterprise, or an export's kind."),
    )
    record_id = StringField(_l("Record ID"), [Optional(), Length(max=60)])
    enterprise_id = IntegerField(_l("Enterprise ID"), [Optional(), NumberRange(min=1)])
    date_from = DateField(_l("From"), [Optional()])
    date_to = DateField(_l("To"), [Optional()])
    q = SearchField(_l("Summary contains"), [Optional(), Length(max=100)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [("", _l("All actions"))] + [
            (value, action_label(value)) for value in AuditAction.values()
        ]

    @staticmethod
    def record_types() -> list[tuple[str, str]]:
        """Suggestions for the record type: every audited model, with its label."""
        return [(name, record_type_label(name)) for name in audited_models()]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))

    def filters(self) -> AuditFilters:
        """The valid filters (a field with an error does not filter)."""

        def ok(field):
            return field.data if not field.errors else None

        return AuditFilters(
            user=(ok(self.user) or "").strip(),
            action=ok(self.action) or "",
            record_type=ok(self.record_type) or "",
            record_id=(ok(self.record_id) or "").strip(),
            enterprise_id=ok(self.enterprise_id),
            date_from=ok(self.date_from),
            date_to=ok(self.date_to),
            q=(ok(self.q) or "").strip(),
        )
