"""Forms of the cohorts package: the cohort, a member, the joint actions, and the enterprise list's bulk action."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.auth.models import User
from crm.cohorts.models import CohortKind, MemberRelation
from crm.cohorts.services import NAME_MAX, NOTES_MAX
from crm.core.permissions import Role
from crm.extensions import db


def _staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_((Role.BUREAU, Role.CUSTOMS, Role.MANAGER, Role.ADMIN)))
            .order_by(User.role, User.display_name, User.id)
        )
    )


class CohortForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=NAME_MAX)])
    kind = SelectField(_l("Kind"), choices=[], validators=[DataRequired()])
    lead = StringField(
        _l("Lead enterprise"),
        [Optional(), Length(max=30)],
        description=_l("Unified social credit code or customs registration code of the group parent or chain leader."),
    )
    target_date = DateField(_l("Target date"), [Optional()])
    responsibles = SelectMultipleField(_l("Responsible people"), coerce=int, choices=[])
    notes = TextAreaField(_l("Notes"), [Optional(), Length(max=NOTES_MAX)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = CohortKind.choices()
        self.responsibles.choices = [(u.id, f"{u.display_name} ({u.role_enum.label})") for u in _staff()]


class MemberForm(FlaskForm):
    enterprise = StringField(
        _l("Enterprise"),
        [DataRequired(), Length(max=30)],
        description=_l("Unified social credit code or customs registration code."),
    )
    relation = SelectField(_l("Relation to the lead"), choices=[], validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relation.choices = MemberRelation.choices()


class JointVisitForm(FlaskForm):
    day = DateField(_l("Date"), [InputRequired()])
    at = TimeField(_l("Time"), [InputRequired()])
    duration_minutes = IntegerField(
        _l("Duration (minutes)"), [InputRequired(), NumberRange(min=5, max=1440)], default=120
    )
    officer = SelectField(_l("Lead officer"), coerce=int, choices=[], validators=[InputRequired()])
    location = StringField(_l("Location"), [Optional(), Length(max=200)])
    summary = TextAreaField(_l("Purpose"), [Optional(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.officer.choices = [(u.id, f"{u.display_name} ({u.role_enum.label})") for u in _staff()]
        if not self.is_submitted() and getattr(current_user, "id", None) in {c[0] for c in self.officer.choices}:
            self.officer.data = current_user.id


class TrainingForm(FlaskForm):
    event = SelectField(_l("Training event"), coerce=int, choices=[], validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.core.models import utcnow
        from crm.events.models import Event, EventStatus

        events = db.session.scalars(
            select(Event)
            .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > utcnow())
            .order_by(Event.starts_at, Event.id)
            .limit(200)
        )
        self.event.choices = [(e.id, e.title) for e in events]


class TemplateForm(FlaskForm):
    template = SelectField(_l("Plan template"), coerce=int, choices=[], validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.plans.models import PlanTemplate

        templates = db.session.scalars(
            select(PlanTemplate).where(PlanTemplate.is_active.is_(True)).order_by(PlanTemplate.name)
        )
        self.template.choices = [(t.id, t.name) for t in templates]


class CohortBulkForm(FlaskForm):
    """The enterprise list's "add to a cohort" bulk action: which cohort, and the relation to its lead."""

    cohort = SelectField(_l("Cohort"), coerce=int, choices=[], validators=[InputRequired()])
    relation = SelectField(_l("Relation to the lead"), choices=[], validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.cohorts.queries import visible_cohorts

        self.cohort.choices = [(c.id, c.name) for c in visible_cohorts(current_user)]
        self.relation.choices = MemberRelation.choices()
