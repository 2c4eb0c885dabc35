"""Forms of the event pages (staff) and of the registration link (enterprises)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, ValidationError

from crm.core.timeutil import local_tz, to_local
from crm.events.models import EventKind
from crm.events.services import MAX_CAPACITY, MOBILE_PATTERN, normalise_mobile
from crm.extensions import db
from crm.reference.models import RecommendingUnit
from crm.standards.models import StandardItem, StandardVersion


def to_utc(value: datetime | None) -> datetime | None:
    """A naive datetime typed in the CRM's time zone, as an aware instant."""
    return None if value is None else value.replace(tzinfo=local_tz())


def to_form(value: datetime | None) -> datetime | None:
    return None if value is None else to_local(value).replace(tzinfo=None)


class EventForm(FlaskForm):
    title = StringField(_l("Title"), [DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), [DataRequired()], choices=[])
    organisers = SelectMultipleField(
        _l("Organising units"),
        coerce=int,
        description=_l("Commerce bureaus and customs offices that run the event together (hold Ctrl to pick several)."),
        render_kw={"size": 8},
    )
    starts_at = DateTimeLocalField(_l("Starts"), [DataRequired()], format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField(_l("Ends"), [DataRequired()], format="%Y-%m-%dT%H:%M")
    venue = StringField(_l("Venue"), [Optional(), Length(max=300)])
    online_url = StringField(
        _l("Online link"), [Optional(), Length(max=500), URL(require_tld=False, message=_l("Enter a web address."))]
    )
    capacity = IntegerField(
        _l("Seats"),
        [Optional(), NumberRange(min=1, max=MAX_CAPACITY)],
        description=_l("Leave empty for no limit; registrations beyond it join the waiting list."),
    )
    seats_per_enterprise = IntegerField(
        _l("Attendees per enterprise"),
        [Optional(), NumberRange(min=1, max=1000)],
        description=_l("Leave empty for no limit."),
    )
    registration_closes_at = DateTimeLocalField(
        _l("Registration closes"),
        [Optional()],
        format="%Y-%m-%dT%H:%M",
        description=_l("Leave empty to close registration when the event starts."),
    )
    description = TextAreaField(_l("Description"), [Optional(), Length(max=10_000)], render_kw={"rows": 5})
    topics = SelectMultipleField(
        _l("Topics (items of the standard)"),
        coerce=int,
        description=_l("Attending completes the open plan tasks linked to these items."),
        render_kw={"size": 10},
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind.choices = EventKind.choices()
        units = db.session.scalars(
            select(RecommendingUnit)
            .where(RecommendingUnit.is_active.is_(True))
            .order_by(RecommendingUnit.sort_order, RecommendingUnit.code)
        )
        self.organisers.choices = [(u.id, u.display_name) for u in units]
        self.topics.choices = topic_choices()

    def selected_units(self) -> list[RecommendingUnit]:
        ids = self.organisers.data or []
        return list(db.session.scalars(select(RecommendingUnit).where(RecommendingUnit.id.in_(ids)))) if ids else []

    def selected_topics(self) -> list[StandardItem]:
        ids = self.topics.data or []
        return list(db.session.scalars(select(StandardItem).where(StandardItem.id.in_(ids)))) if ids else []


def topic_choices() -> list[tuple[int, str]]:
    """Items of every standard version, grouped by version in the labels."""
    rows = db.session.execute(
        select(StandardItem, StandardVersion.title)
        .join(StandardVersion, StandardVersion.id == StandardItem.version_id)
        .order_by(StandardVersion.effective_on.desc().nulls_last(), StandardVersion.id.desc(), StandardItem.number)
    ).all()
    return [(item.id, f"{title} · ({item.number}) {item.display_title}") for item, title in rows]


def validate_mobile(form: Any, field: Any) -> None:
    field.data = normalise_mobile(field.data)
    if not MOBILE_PATTERN.match(field.data or ""):
        raise ValidationError(_l("Enter an 11-digit mainland mobile number, e.g. 13800138000."))


class AttendeeForm(FlaskForm):
    name = StringField(_l("Full name"), [DataRequired(message=_l("Enter the attendee's name.")), Length(max=60)])
    role = StringField(
        _l("Role in the enterprise"),
        [DataRequired(message=_l("Enter the attendee's role in the enterprise.")), Length(max=60)],
        description=_l("e.g. 关务经理, 财务负责人"),
    )
    mobile = StringField(
        _l("Mobile"), [DataRequired(message=_l("Enter the attendee's mobile number.")), validate_mobile]
    )
    email = EmailField(
        _l("Email (optional)"),
        [Optional(), Email(message=_l("Enter a valid email address, or leave it empty.")), Length(max=200)],
        description=_l("The confirmation and the check-in QR code are sent there."),
    )


class FeedbackForm(FlaskForm):
    RATINGS = [(str(n), str(n)) for n in range(5, 0, -1)]

    rating_overall = RadioField(
        _l("Overall"), [DataRequired(message=_l("Choose a rating from 1 to 5."))], choices=RATINGS
    )
    rating_content = RadioField(
        _l("Usefulness of the content"), [DataRequired(message=_l("Choose a rating from 1 to 5."))], choices=RATINGS
    )
    rating_organisation = RadioField(
        _l("Organisation"), [DataRequired(message=_l("Choose a rating from 1 to 5."))], choices=RATINGS
    )
    comment = TextAreaField(_l("Comments and suggestions"), [Optional(), Length(max=2000)], render_kw={"rows": 4})


class CancelEventForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        [DataRequired(message=_l("Say why the event is cancelled; invitees will read it.")), Length(max=2000)],
    )


class MaterialForm(FlaskForm):
    file = FileField(_l("File"), [FileRequired(message=_l("Choose a file."))])


class InviteOneForm(FlaskForm):
    enterprise_id = HiddenField(validators=[DataRequired()])
    email = EmailField(
        _l("Send the link to"),
        [Optional(), Email(message=_l("Enter a valid email address, or leave it empty.")), Length(max=200)],
        description=_l("Leave empty to use the enterprise's head of customs affairs or primary contact."),
    )


class ReissueForm(FlaskForm):
    email = EmailField(
        _l("Send the new link to"),
        [Optional(), Email(message=_l("Enter a valid email address, or leave it empty.")), Length(max=200)],
    )
