"""The visit form (plan, log, edit), built for a phone: one column, native pickers, no tables."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import Select

from crm.auth.models import User
from crm.core.files import UploadError, check_upload
from crm.core.models import utcnow
from crm.core.permissions import Role
from crm.core.timeutil import local_today, to_local
from crm.enterprises.models import Contact, Enterprise
from crm.extensions import db
from crm.standards.models import Judgement, StandardItem
from crm.standards.services import current_version
from crm.visits.models import Visit, VisitKind, VisitStatus
from crm.visits.services import (
    ATTACHMENT_KINDS,
    MAX_TITLE_LENGTH,
    MINUTES_OWNER,
    PHOTO_OWNER,
    PROBLEM_JUDGEMENTS,
    Finding,
    FollowUp,
    VisitData,
    local_datetime,
    split_list,
)

DURATIONS = (15, 30, 45, 60, 90, 120, 180, 240, 480)
#: Empty rows the form offers for problems and follow-ups (the page can add more).
BLANK_ROWS = 1
MAX_ROWS = 30


class SelectWithBlank(Select):
    """A select that starts with an empty option, also when its choices are grouped."""

    def __call__(self, field, **kwargs):
        html = super().__call__(field, **kwargs)
        blank = Markup('<option value=""{}>—</option>').format(Markup(" selected") if not field.data else "")
        opening_end = html.index(">") + 1
        return Markup(html[:opening_end]) + blank + Markup(html[opening_end:])


def _optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


def _duration_label(minutes: int) -> str:
    if minutes < 60:
        return str(_l("%(n)s minutes", n=minutes))
    if minutes % 60:
        return str(_l("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60))
    return str(_l("%(n)s hours", n=minutes // 60))


class FindingForm(Form):
    item_id = SelectField(
        _l("Item of the standard"), coerce=_optional_int, validate_choice=False, widget=SelectWithBlank()
    )
    description = TextAreaField(_l("Problem found"), [Optional(), Length(max=2000)], render_kw={"rows": 2})
    judgement = SelectField(
        _l("Judgement in the officer pre-assessment"),
        validate_choice=False,
        description=_l("Records the item's judgement in the enterprise's officer pre-assessment draft."),
    )


class FollowUpForm(Form):
    title = StringField(_l("Follow-up task"), [Optional(), Length(max=MAX_TITLE_LENGTH)])
    item_id = SelectField(
        _l("Item of the standard"), coerce=_optional_int, validate_choice=False, widget=SelectWithBlank()
    )
    owner = SelectField(_l("Owner"), validate_choice=False, widget=SelectWithBlank())
    due_on = DateField(_l("Due on"), [Optional()])


class VisitForm(FlaskForm):
    status = RadioField(_l("This visit"), choices=[], default=VisitStatus.DONE.value)
    kind = SelectField(_l("Kind of visit"), choices=[], default=VisitKind.ONSITE.value)
    visit_date = DateField(_l("Date"), [InputRequired(message=_l("Give the date of the visit."))])
    visit_time = TimeField(_l("Time"), [InputRequired(message=_l("Give the time of the visit."))])
    duration_minutes = SelectField(_l("Length of the visit"), coerce=int, choices=[], default=60)
    location = StringField(_l("Location"), [Optional(), Length(max=200)])
    officer_id = SelectField(_l("Lead officer"), coerce=int, choices=[])
    participants = SelectMultipleField(
        _l("Our people"),
        coerce=int,
        description=_l("Everyone from the bureau and customs who took part, from any agency."),
        render_kw={"size": 6},
    )
    contacts = SelectMultipleField(_l("The enterprise's contacts"), coerce=int, render_kw={"size": 4})
    attendee_names = StringField(
        _l("Other people of the enterprise"),
        [Optional(), Length(max=1000)],
        description=_l("Names and titles, separated by commas."),
    )
    items = SelectMultipleField(
        _l("Items of the standard discussed"), coerce=int, validate_choice=False, render_kw={"size": 8}
    )
    free_topics = TextAreaField(
        _l("Other topics"), [Optional(), Length(max=2000)], description=_l("One per line."), render_kw={"rows": 2}
    )
    summary = TextAreaField(_l("Summary"), [Optional(), Length(max=20000)], render_kw={"rows": 5})
    requests = TextAreaField(_l("The enterprise's requests"), [Optional(), Length(max=10000)], render_kw={"rows": 3})
    findings = FieldList(FormField(FindingForm), min_entries=BLANK_ROWS, max_entries=MAX_ROWS)
    follow_ups = FieldList(FormField(FollowUpForm), min_entries=BLANK_ROWS, max_entries=MAX_ROWS)
    next_visit_on = DateField(_l("Next visit"), [Optional()])
    plan_next = BooleanField(_l("Put the next visit on the calendar as a planned visit"))
    photos = MultipleFileField(_l("Photos"), render_kw={"accept": "image/*"})
    minutes = MultipleFileField(
        _l("Signed minutes and documents"),
        description=_l("PDF, Word, Excel or photos of signed pages."),
        render_kw={"accept": "image/*,.pdf,.doc,.docx,.xls,.xlsx"},
    )

    def __init__(
        self, *args, enterprise: Enterprise, user: Any, visit: Visit | None = None, planning: bool = False, **kwargs
    ):
        if visit is not None and "obj" not in kwargs and not kwargs.get("formdata"):
            kwargs.setdefault("data", visit_form_data(visit))
        super().__init__(*args, **kwargs)
        self.enterprise = enterprise
        self.visit = visit
        self.user = user
        self.status.choices = [
            (VisitStatus.DONE.value, _l("Took place: log it")),
            (VisitStatus.PLANNED.value, _l("Planned")),
        ]
        if visit is not None and visit.status == VisitStatus.DONE:
            self.status.choices = [(VisitStatus.DONE.value, _l("Took place: log it"))]
        self.kind.choices = VisitKind.choices()
        self.duration_minutes.choices = [(m, _duration_label(m)) for m in DURATIONS]
        people = eligible_people()
        self._people = {u.id: u for u in people}
        person_choices = [(u.id, person_label(u)) for u in people]
        self.officer_id.choices = person_choices
        self.participants.choices = person_choices
        contacts = list(enterprise.contacts)
        self._contacts = {c.id: c for c in contacts}
        self.contacts.choices = [(c.id, contact_label(c)) for c in contacts]
        items = items_for(enterprise, visit)
        self._items = {i.id: i for i in items}
        grouped = item_choices(items)
        self.items.choices = grouped
        for entry in self.findings:
            entry.form.item_id.choices = grouped
            entry.form.judgement.choices = [("", str(_l("Keep as it is")))] + [
                (j.value, str(j.label)) for j in PROBLEM_JUDGEMENTS
            ]
        owner_choices = {
            str(_l("Our people")): [(f"u:{u.id}", u.display_name) for u in people],
        }
        if contacts:
            owner_choices[str(_l("The enterprise"))] = [(f"c:{c.id}", contact_label(c)) for c in contacts]
        for entry in self.follow_ups:
            entry.form.item_id.choices = grouped
            entry.form.owner.choices = owner_choices
        if not self.is_submitted() and visit is None:
            self._defaults_for_new(planning)

    def _defaults_for_new(self, planning: bool) -> None:
        now = to_local(utcnow())
        self.status.data = VisitStatus.PLANNED.value if planning else VisitStatus.DONE.value
        if planning:
            self.visit_date.data = local_today() + timedelta(days=1)
            self.visit_time.data = time(9, 30)
        else:
            self.visit_date.data = now.date()
            self.visit_time.data = time(now.hour, 0 if now.minute < 30 else 30)
        self.location.data = self.enterprise.address or ""
        if self.user.id in self._people:
            self.officer_id.data = self.user.id
            self.participants.data = [self.user.id]

    # --- validation -------------------------------------------------------------------------------------

    def validate_officer_id(self, field) -> None:
        if field.data not in self._people:
            raise ValidationError(_l("Choose the lead officer from the list."))

    def validate_participants(self, field) -> None:
        if any(pid not in self._people for pid in field.data or []):
            raise ValidationError(_l("Choose people from the list."))

    def validate_contacts(self, field) -> None:
        if any(cid not in self._contacts for cid in field.data or []):
            raise ValidationError(_l("Choose contacts of this enterprise."))

    def validate_items(self, field) -> None:
        if any(iid not in self._items for iid in field.data or []):
            raise ValidationError(_l("Choose items from the list."))

    def validate_findings(self, field) -> None:
        for entry in field:
            form = entry.form
            if form.item_id.data is not None and form.item_id.data not in self._items:
                form.item_id.errors.append(_l("Choose items from the list."))
            if form.judgement.data and form.judgement.data not in {j.value for j in PROBLEM_JUDGEMENTS}:
                form.judgement.errors.append(_l("Choose a judgement from the list."))
            if form.judgement.data and form.item_id.data is None:
                form.item_id.errors.append(_l("A judgement needs the item of the standard it applies to."))
        if any(entry.form.errors for entry in field):
            raise ValidationError(_l("Check the problems found."))

    def validate_follow_ups(self, field) -> None:
        for entry in field:
            form = entry.form
            if form.item_id.data is not None and form.item_id.data not in self._items:
                form.item_id.errors.append(_l("Choose items from the list."))
            if form.owner.data and self._owner(form.owner.data) == (None, None):
                form.owner.errors.append(_l("Choose the owner from the list."))
            filled = form.item_id.data is not None or form.owner.data or form.due_on.data
            if filled and not (form.title.data or "").strip():
                form.title.errors.append(_l("Give each follow-up a title."))
        if any(entry.form.errors for entry in field):
            raise ValidationError(_l("Check the follow-ups."))

    def validate_photos(self, field) -> None:
        _check_files(field, ATTACHMENT_KINDS[PHOTO_OWNER])

    def validate_minutes(self, field) -> None:
        _check_files(field, ATTACHMENT_KINDS[MINUTES_OWNER])

    def _owner(self, value: str) -> tuple[User | None, Contact | None]:
        kind, _sep, raw = (value or "").partition(":")
        if not raw.isdigit():
            return None, None
        if kind == "u" and int(raw) in self._people:
            return self._people[int(raw)], None
        if kind == "c" and int(raw) in self._contacts:
            return None, self._contacts[int(raw)]
        return None, None

    # --- results ----------------------------------------------------------------------------------------

    def to_data(self) -> VisitData:
        """The form's content as service input (call after it validated)."""
        findings = []
        for entry in self.findings:
            form = entry.form
            description = (form.description.data or "").strip()
            item = self._items.get(form.item_id.data) if form.item_id.data is not None else None
            if not description and item is None:
                continue
            findings.append(
                Finding(
                    description=description,
                    item=item,
                    judgement=Judgement(form.judgement.data) if form.judgement.data else None,
                )
            )
        follow_ups = []
        for entry in self.follow_ups:
            form = entry.form
            title = (form.title.data or "").strip()
            if not title:
                continue
            owner, contact = self._owner(form.owner.data)
            item = self._items.get(form.item_id.data) if form.item_id.data is not None else None
            follow_ups.append(
                FollowUp(
                    title=title,
                    items=[item] if item else [],
                    owner=owner,
                    owner_contact=contact,
                    due_on=form.due_on.data,
                )
            )
        status = VisitStatus(self.status.data)
        if status != VisitStatus.DONE:
            # The sections of a visit that took place are hidden while it is only planned: what is not shown is
            # not saved.
            findings, follow_ups = [], []
        took_place = status == VisitStatus.DONE
        return VisitData(
            status=status,
            kind=VisitKind(self.kind.data),
            starts_at=local_datetime(self.visit_date.data, self.visit_time.data),
            officer=self._people[self.officer_id.data],
            participants=[self._people[pid] for pid in self.participants.data or []],
            duration_minutes=self.duration_minutes.data,
            location=self.location.data or "",
            contacts=[self._contacts[cid] for cid in self.contacts.data or []],
            attendee_names=split_list(self.attendee_names.data),
            items=[self._items[iid] for iid in self.items.data or []],
            free_topics=split_list(self.free_topics.data, separators="\n"),
            summary=self.summary.data or "",
            requests=(self.requests.data or "") if took_place else "",
            next_visit_on=self.next_visit_on.data if took_place else None,
            findings=findings,
            follow_ups=follow_ups,
            plan_next=bool(self.plan_next.data) and took_place,
        )

    def uploads(self, field_name: str) -> list[Any]:
        return [f for f in (getattr(self, field_name).data or []) if getattr(f, "filename", "")]

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Show the service's rule violations beside the matching fields (or above the form)."""
        fields = {
            "starts_at": self.visit_date,
            "status": self.status,
            "duration_minutes": self.duration_minutes,
            "officer": self.officer_id,
            "participants": self.participants,
            "contacts": self.contacts,
            "attendee_names": self.attendee_names,
            "free_topics": self.free_topics,
            "location": self.location,
            "next_visit_on": self.next_visit_on,
        }
        for name, messages in errors.items():
            target = fields.get(name)
            for message in messages:
                if target is not None:
                    target.errors = [*target.errors, message]
                else:
                    self.form_errors.append(message)


def _check_files(field, allowed) -> None:
    for upload in field.data or []:
        if not getattr(upload, "filename", ""):
            continue
        try:
            check_upload(upload.stream, upload.filename, allowed=allowed)
        except UploadError as exc:
            raise ValidationError(f"{upload.filename}: {exc}") from None


def visit_form_data(visit: Visit) -> dict[str, Any]:
    """An existing visit as form data (findings included; follow-ups start empty: new ones only)."""
    local = to_local(visit.starts_at)
    findings = [
        {
            "item_id": f.item_id,
            "description": f.description,
            "judgement": f.judgement.value if f.judgement else "",
        }
        for f in visit.findings
    ]
    return {
        "status": visit.status.value,
        "kind": visit.kind.value,
        "visit_date": local.date(),
        "visit_time": local.time().replace(second=0, microsecond=0),
        "duration_minutes": visit.duration_minutes,
        "location": visit.location,
        "officer_id": visit.officer_id,
        "participants": [u.id for u in visit.participants],
        "contacts": [c.id for c in visit.contacts],
        "attendee_names": "、".join(visit.attendee_names or []),
        "items": [i.id for i in visit.items],
        "free_topics": "\n".join(visit.free_topics or []),
        "summary": visit.summary,
        "requests": visit.requests,
        "findings": [*findings, {}],
        "follow_ups": [{}],
        "next_visit_on": visit.next_visit_on,
    }


def eligible_people() -> list[User]:
    """Users who can take part in a visit: active staff of the bureaus and customs, and managers."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_((Role.BUREAU, Role.CUSTOMS, Role.MANAGER, Role.ADMIN)))
            .options(selectinload(User.areas), selectinload(User.offices))
            .order_by(User.role, User.display_name, User.id)
        )
    )


def person_label(user: User) -> str:
    """A name with the agency it belongs to: 张三（泉州海关）."""
    places = [o.name_zh for o in user.offices] or [a.name_zh for a in user.areas]
    agency = "、".join(places) if places else str(Role(user.role).label)
    return f"{user.display_name}（{agency}）"


def contact_label(contact: Contact) -> str:
    role = contact.title or str(contact.role.label)
    return f"{contact.name}（{role}）" if role else contact.name


def items_for(enterprise: Enterprise, visit: Visit | None = None) -> list[StandardItem]:
    """The items of the standard version in force for the enterprise's target tier, plus any item an existing
    visit already refers to."""
    version = current_version(enterprise.target_tier)
    items: dict[int, StandardItem] = {}
    if version is not None:
        for item in db.session.scalars(
            select(StandardItem)
            .where(StandardItem.version_id == version.id)
            .options(selectinload(StandardItem.clause))
            .order_by(StandardItem.number)
        ):
            items[item.id] = item
    if visit is not None:
        for item in [*visit.items, *(f.item for f in visit.findings if f.item is not None)]:
            items.setdefault(item.id, item)
    return list(items.values())


def item_choices(items: list[StandardItem]) -> dict[str, list[tuple[int, str]]]:
    """Items grouped by the category of the standard, for a select with option groups."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for item in items:
        category = item.clause.category.display_name if item.clause is not None else ""
        groups.setdefault(category, []).append((item.id, f"({item.number}) {_short(item.display_title)}"))
    return groups


def _short(text: str, length: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


class CancelVisitForm(FlaskForm):
    reason = TextAreaField(_l("Why is the visit cancelled?"), [DataRequired(), Length(max=2000)], render_kw={"rows": 2})
