"""Forms of the plans package: the plan, its tasks, task completion and plan templates."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from crm.auth.models import User
from crm.core.permissions import Role
from crm.core.scope import build_scope
from crm.enterprises.models import Contact, Enterprise, TargetTier
from crm.extensions import db
from crm.plans.models import OffsetAnchor, PlanStatus, PlanTemplate, TaskStatus


def users_who_see(enterprise: Enterprise, roles: tuple[Role, ...]) -> list[User]:
    """Active users of these roles whose jurisdiction includes the enterprise."""
    users = db.session.scalars(
        select(User).where(User.is_active.is_(True), User.role.in_(roles)).order_by(User.display_name, User.id)
    ).all()
    return [u for u in users if build_scope(u).contains(enterprise)]


def parse_item_numbers(text: str | None) -> list[int]:
    """ "3, 9、13 50" -> [3, 9, 13, 50]; raises ValueError on anything that is not a number."""
    parts = [p for p in re.split(r"[\s,，、;；]+", text or "") if p]
    numbers = []
    for part in parts:
        part = part.strip("()（）")
        if not part.isdigit():
            raise ValueError(part)
        numbers.append(int(part))
    return sorted(set(numbers))


class ItemNumbersField(StringField):
    """Standard item numbers typed as "3, 9, 13"."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            self.numbers = parse_item_numbers(self.data)
        except ValueError:
            self.numbers = []
            raise ValueError(_l("Enter item numbers separated by commas, e.g. 3, 9, 13.")) from None

    def _value(self):
        if isinstance(self.data, (list, tuple)):
            return ", ".join(map(str, self.data))
        return super()._value()


class PlanForm(FlaskForm):
    goal = TextAreaField(_l("Goal"), [DataRequired(), Length(max=2000)])
    target_tier = SelectField(_l("Target tier"), choices=[])
    started_on = DateField(_l("Start date"), [Optional()])
    target_application_on = DateField(_l("Target application date"), [Optional()])
    status = SelectField(_l("Status"), choices=[])
    commerce_officer_id = SelectField(_l("Responsible commerce staff"), coerce=int, choices=[])
    customs_officer_id = SelectField(_l("Responsible customs officer"), coerce=int, choices=[])
    contact_id = SelectField(_l("Enterprise contact"), coerce=int, choices=[])
    measures = TextAreaField(
        _l("Tailored measures"),
        [Optional(), Length(max=20000)],
        description=_l("The support measures and coaching planned for this enterprise (一企一策)."),
    )
    template_id = SelectField(_l("Start from a template"), coerce=int, choices=[])

    def __init__(self, *args, enterprise: Enterprise, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.enterprise = enterprise
        self.target_tier.choices = TargetTier.choices()
        statuses = [PlanStatus.ACTIVE, PlanStatus.DRAFT] if creating else list(PlanStatus)
        self.status.choices = [(s.value, s.label) for s in statuses]
        none = [(0, "—")]
        self.commerce_officer_id.choices = none + [(u.id, str(u)) for u in users_who_see(enterprise, (Role.BUREAU,))]
        self.customs_officer_id.choices = none + [(u.id, str(u)) for u in users_who_see(enterprise, (Role.CUSTOMS,))]
        contacts = db.session.scalars(
            select(Contact).where(Contact.enterprise_id == enterprise.id).order_by(Contact.id)
        )
        self.contact_id.choices = none + [(c.id, f"{c.name} ({c.role.label})") for c in contacts]
        if creating:
            templates = db.session.scalars(
                select(PlanTemplate).where(PlanTemplate.is_active.is_(True)).order_by(PlanTemplate.name)
            )
            self.template_id.choices = [(0, _l("No template"))] + [(t.id, t.name) for t in templates]
        else:
            del self.template_id

    def validate_target_application_on(self, field) -> None:
        if field.data and self.started_on.data and field.data < self.started_on.data:
            raise ValidationError(_l("The target application date cannot be before the start date."))


class TaskForm(FlaskForm):
    title = StringField(_l("Title"), [DataRequired(), Length(max=300)])
    items = ItemNumbersField(
        _l("Standard items"), [Optional()], description=_l("Item numbers of the standard, e.g. 9, 13.")
    )
    owner = SelectField(_l("Owner"), choices=[])
    due_on = DateField(_l("Due date"), [Optional()])
    status = SelectField(_l("Status"), choices=[])
    description = TextAreaField(_l("Description"), [Optional(), Length(max=10000)])
    completion_note = TextAreaField(_l("Completion note"), [Optional(), Length(max=10000)])

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = TaskStatus.choices()
        users = users_who_see(enterprise, (Role.BUREAU, Role.CUSTOMS, Role.ADMIN))
        contacts = db.session.scalars(
            select(Contact).where(Contact.enterprise_id == enterprise.id).order_by(Contact.id)
        )
        self.owner.choices = (
            [("", "—")]
            + [(f"user:{u.id}", str(u)) for u in users]
            + [(f"contact:{c.id}", f"{c.name} ({_l('enterprise contact')})") for c in contacts]
        )


class CompleteTaskForm(FlaskForm):
    completed_on = DateField(_l("Completed on"), [DataRequired()])
    completion_note = TextAreaField(_l("Completion note"), [Optional(), Length(max=10000)])


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), [Optional(), Length(max=4000)])
    is_active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, template: PlanTemplate | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template

    def validate_name(self, field) -> None:
        existing = db.session.scalars(select(PlanTemplate).where(PlanTemplate.name == field.data.strip())).first()
        if existing is not None and (self.template is None or existing.id != self.template.id):
            raise ValidationError(_l("Another template has this name."))


class TemplateTaskForm(FlaskForm):
    title = StringField(_l("Title"), [DataRequired(), Length(max=300)])
    anchor = SelectField(_l("Date"), choices=[])
    offset_days = IntegerField(
        _l("Days"), [InputRequired(message=_l("Enter a number of days.")), NumberRange(min=0, max=3650)]
    )
    item_numbers = ItemNumbersField(
        _l("Standard items"), [Optional()], description=_l("Item numbers of the standard, e.g. 9, 13.")
    )
    description = TextAreaField(_l("Description"), [Optional(), Length(max=4000)])
    sort_order = IntegerField(_l("Order"), [Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.anchor.choices = OffsetAnchor.choices()
