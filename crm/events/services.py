"""Operations on events, invitations, registrations, check-in and feedback. They flush; the caller commits.

Every change to who holds a seat (registering, cancelling, promoting from the waiting list, changing the
capacity) first locks the event row (``SELECT ... FOR UPDATE`` on PostgreSQL), then counts and writes: two
enterprises racing for the last seat are served one after the other, and the second joins the waiting list.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from crm.core.files import DOCUMENTS, StoredFile, delete_stored, save_upload
from crm.core.models import utcnow
from crm.core.permissions import Role
from crm.core.scope import scope_of
from crm.core.settings import get_setting
from crm.core.timeutil import local_date, local_today
from crm.enterprises.models import Contact, Enterprise
from crm.events import emails
from crm.events.access import can_organise_with
from crm.events.models import (
    CheckInMethod,
    Event,
    EventKind,
    EventStatus,
    EventTaskCompletion,
    Feedback,
    Invitation,
    InvitationSource,
    Registration,
    RegistrationStatus,
)
from crm.events.tokens import checkin_payload, new_token, parse_checkin_payload
from crm.extensions import db
from crm.plans.models import CultivationTask, TaskStatus, cultivation_task_items
from crm.plans.services import active_plan, complete_task
from crm.reference.models import RecommendingUnit
from crm.standards.models import StandardItem

logger = logging.getLogger(__name__)

MATERIAL_OWNER = "event_material"
CERTIFICATE_OWNER = "event_certificate"
QR_OWNER = "event_registration_qr"
#: At most this many enterprises are invited by one action (a larger filter is narrowed first).
MAX_INVITATIONS_PER_ACTION = 5_000
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
MAX_CAPACITY = 100_000


class EventError(ValueError):
    """A rule refused the operation; the message is shown to the user."""


class EventValidationError(ValueError):
    """Invalid values, by field; nothing was changed."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


# --- events -----------------------------------------------------------------------------------------------


@dataclass
class EventValues:
    title: str
    kind: EventKind
    starts_at: datetime
    ends_at: datetime
    organisers: list[RecommendingUnit]
    venue: str = ""
    online_url: str = ""
    capacity: int | None = None
    seats_per_enterprise: int | None = None
    registration_closes_at: datetime | None = None
    description: str = ""
    topics: list[StandardItem] = field(default_factory=list)


EVENT_FIELDS = (
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "venue",
    "online_url",
    "capacity",
    "seats_per_enterprise",
    "registration_closes_at",
    "description",
)


def is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def event_value_errors(values: EventValues, *, user: Any) -> dict[str, list[str]]:
    """Every reason the values cannot make an event, by field (empty when they can)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not values.title.strip():
        add("title", _("Enter a title."))
    elif len(values.title.strip()) > 200:
        add("title", _("At most %(n)s characters.", n=200))
    if values.starts_at and values.ends_at and values.ends_at <= values.starts_at:
        add("ends_at", _("The end must be after the start."))
    if values.online_url and not is_web_url(values.online_url):
        add("online_url", _("Enter a web address starting with http:// or https://."))
    if values.kind == EventKind.ONLINE_COURSE and not values.online_url:
        add("online_url", _("An online course needs its online link."))
    if not values.venue.strip() and not values.online_url:
        add("venue", _("Give a venue, an online link, or both."))
    if values.capacity is not None and not 1 <= values.capacity <= MAX_CAPACITY:
        add("capacity", _("Seats must be between 1 and %(n)s, or left empty for no limit.", n=MAX_CAPACITY))
    if values.seats_per_enterprise is not None:
        if values.seats_per_enterprise < 1:
            add("seats_per_enterprise", _("Allow at least one attendee per enterprise, or leave it empty."))
        elif values.capacity is not None and values.seats_per_enterprise > values.capacity:
            add("seats_per_enterprise", _("This cannot exceed the number of seats."))
    if values.registration_closes_at and values.ends_at and values.registration_closes_at > values.ends_at:
        add("registration_closes_at", _("Registration must close before the event ends."))
    if not values.organisers:
        add("organisers", _("Choose at least one organising unit."))
    elif not can_organise_with(values.organisers, user):
        add("organisers", _("Include an organising unit of your own jurisdiction (or a provincial unit)."))
    return errors


def create_event(values: EventValues, *, by: Any) -> Event:
    """Create a draft event."""
    errors = event_value_errors(values, user=by)
    if errors:
        raise EventValidationError(errors)
    event = Event(status=EventStatus.DRAFT, created_by_id=getattr(by, "id", None))
    _apply_values(event, values)
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event: Event, values: EventValues, *, by: Any) -> list[Registration]:
    """Change an event; returns the attendees promoted from the waiting list by a larger capacity.

    Registered attendees are told by email when the time or the place changes.
    """
    if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
        raise EventError(_("A cancelled or finished event cannot be changed."))
    errors = event_value_errors(values, user=by)
    if errors:
        raise EventValidationError(errors)
    lock_event(event.id)
    before = (event.starts_at, event.ends_at, event.venue, event.online_url)
    _apply_values(event, values)
    db.session.flush()
    if event.status == EventStatus.PUBLISHED and before != (
        event.starts_at,
        event.ends_at,
        event.venue,
        event.online_url,
    ):
        emails.send_event_changed(event, _attendee_registrations(event))
    return promote_waitlist(event)


def _apply_values(event: Event, values: EventValues) -> None:
    event.title = values.title.strip()
    event.kind = EventKind(values.kind)
    event.starts_at = values.starts_at
    event.ends_at = values.ends_at
    event.venue = values.venue.strip()
    event.online_url = values.online_url.strip()
    event.capacity = values.capacity
    event.seats_per_enterprise = values.seats_per_enterprise
    event.registration_closes_at = values.registration_closes_at
    event.description = values.description.strip()
    event.organisers = list(dict.fromkeys(values.organisers))
    event.topics = list(dict.fromkeys(values.topics))


def publish_event(event: Event, *, by: Any = None) -> None:
    if event.status != EventStatus.DRAFT:
        raise EventError(_("Only a draft can be published."))
    if event.has_ended():
        raise EventError(_("This event has already ended; correct its dates before publishing it."))
    event.status = EventStatus.PUBLISHED
    event.published_at = utcnow()
    db.session.flush()


def finish_event(event: Event, *, by: Any = None) -> None:
    if event.status != EventStatus.PUBLISHED:
        raise EventError(_("Only a published event can be marked as finished."))
    if not event.has_started():
        raise EventError(_("An event can be marked as finished once it has started."))
    event.status = EventStatus.FINISHED
    db.session.flush()


def cancel_event(event: Event, *, by: Any = None, reason: str = "") -> None:
    """Cancel an event; everyone registered or waiting is told by email. Their links then say so."""
    if event.status in (EventStatus.CANCELLED, EventStatus.FINISHED):
        raise EventError(_("This event is already cancelled or finished."))
    reason = (reason or "").strip()
    if event.status == EventStatus.PUBLISHED and not reason:
        raise EventValidationError({"reason": [_("Say why the event is cancelled; invitees will read it.")]})
    lock_event(event.id)
    was_published = event.status == EventStatus.PUBLISHED
    event.status = EventStatus.CANCELLED
    event.cancelled_at = utcnow()
    event.cancel_reason = reason
    db.session.flush()
    if was_published:
        emails.send_event_cancelled(event, _attendee_registrations(event, waiting=True))


def _attendee_registrations(event: Event, *, waiting: bool = False) -> list[Registration]:
    statuses = [RegistrationStatus.REGISTERED] + ([RegistrationStatus.WAITLISTED] if waiting else [])
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(statuses))
            .order_by(Registration.id)
        )
    )


def lock_event(event_id: int) -> Event:
    """Lock the event row until the transaction ends (a no-op on SQLite, which serialises writers anyway)."""
    return db.session.scalars(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def add_material(event: Event, upload: FileStorage, *, by: Any = None) -> StoredFile:
    """Attach a document (PDF, Office file or image) that invitees can download through their links."""
    return save_upload(
        upload, owner_type=MATERIAL_OWNER, owner_id=event.id, enterprise_id=None, allowed=DOCUMENTS, uploaded_by=by
    )


def event_materials(event: Event) -> list[StoredFile]:
    return list(
        db.session.scalars(
            select(StoredFile)
            .where(StoredFile.owner_type == MATERIAL_OWNER, StoredFile.owner_id == event.id)
            .order_by(StoredFile.id)
        )
    )


def get_material(event: Event, file_id: int) -> StoredFile | None:
    stored = db.session.get(StoredFile, file_id)
    if stored is None or stored.owner_type != MATERIAL_OWNER or stored.owner_id != event.id:
        return None
    return stored


def remove_material(stored: StoredFile) -> None:
    delete_stored(stored)


# --- invitations ------------------------------------------------------------------------------------------


@dataclass
class IssuedLink:
    invitation: Invitation
    token: str
    emailed: bool


@dataclass
class InviteResult:
    issued: list[IssuedLink] = field(default_factory=list)
    already_invited: int = 0
    out_of_scope: int = 0

    @property
    def created(self) -> int:
        return len(self.issued)

    @property
    def emailed(self) -> int:
        return sum(1 for link in self.issued if link.emailed)

    @property
    def without_email(self) -> int:
        return self.created - self.emailed


def invitation_contact(enterprise: Enterprise) -> Contact | None:
    """Who receives the link: the head of customs affairs, else the primary contact, else any contact with email."""
    candidates = [enterprise.customs_contact, enterprise.primary_contact, *enterprise.contacts]
    return next((c for c in candidates if c is not None and c.email), None)


def invite_enterprises(
    event: Event,
    enterprise_ids: Iterable[int],
    *,
    by: Any,
    source: InvitationSource = InvitationSource.SINGLE,
    send_email: bool = True,
    email: str | None = None,
) -> InviteResult:
    """Invite enterprises (by filter, by cohort, one by one: any list of ids) within the inviting user's scope.

    Each new invitation gets its own link; the link is emailed to the enterprise's contact when it has an email
    address (or to ``email`` for a single invitation) and returned so staff can pass it on. Enterprises already
    invited are left alone; ids outside the user's scope are counted and skipped.
    """
    if event.status != EventStatus.PUBLISHED:
        raise EventError(_("Publish the event before inviting enterprises."))
    if event.has_ended():
        raise EventError(_("This event has ended; it can take no more invitations."))
    wanted = list(dict.fromkeys(int(i) for i in enterprise_ids))
    if len(wanted) > MAX_INVITATIONS_PER_ACTION:
        raise EventError(
            _("At most %(n)s enterprises can be invited at once; narrow the selection.", n=MAX_INVITATIONS_PER_ACTION)
        )
    result = InviteResult()
    if not wanted:
        return result
    scope = scope_of(by)
    enterprises: dict[int, Enterprise] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        stmt = (
            select(Enterprise)
            .where(Enterprise.id.in_(chunk), scope.enterprise_filter())
            .options(selectinload(Enterprise.contacts))
        )
        enterprises.update((e.id, e) for e in db.session.scalars(stmt))
    result.out_of_scope = len(wanted) - len(enterprises)
    invited = set(
        db.session.scalars(
            select(Invitation.enterprise_id).where(
                Invitation.event_id == event.id, Invitation.enterprise_id.in_(list(enterprises))
            )
        )
    )
    result.already_invited = len(invited)
    for enterprise_id in wanted:
        enterprise = enterprises.get(enterprise_id)
        if enterprise is None or enterprise_id in invited:
            continue
        token, token_hash = new_token()
        contact = invitation_contact(enterprise) if not email else None
        address = (email or (contact.email if contact else "")).strip()
        invitation = Invitation(
            event=event,
            enterprise_id=enterprise.id,
            token_hash=token_hash,
            source=InvitationSource(source),
            contact_id=contact.id if contact else None,
            email=address,
            invited_by_id=getattr(by, "id", None),
            link_issued_at=utcnow(),
        )
        invitation.enterprise = enterprise
        db.session.add(invitation)
        result.issued.append(IssuedLink(invitation, token, emailed=False))
    db.session.flush()
    if send_email:
        for link in result.issued:
            if link.invitation.email:
                emails.send_invitation(link.invitation, link.token)
                link.emailed = True
    return result


def ensure_invitation(event: Event, enterprise: Enterprise, *, by: Any) -> Invitation:
    """The enterprise's invitation to the event, created (without sending a link) for a direct registration."""
    existing = db.session.scalars(
        select(Invitation).where(Invitation.event_id == event.id, Invitation.enterprise_id == enterprise.id)
    ).first()
    if existing is not None:
        return existing
    if not scope_of(by).contains(enterprise):
        raise EventError(_("This enterprise is outside your jurisdiction."))
    if event.status not in (EventStatus.PUBLISHED, EventStatus.FINISHED):
        raise EventError(_("Attendees can be registered only for a published event."))
    _token, token_hash = new_token()
    invitation = Invitation(
        event=event,
        enterprise_id=enterprise.id,
        token_hash=token_hash,
        source=InvitationSource.STAFF,
        invited_by_id=getattr(by, "id", None),
        link_issued_at=utcnow(),
    )
    invitation.enterprise = enterprise
    db.session.add(invitation)
    db.session.flush()
    return invitation


def reissue_link(invitation: Invitation, *, by: Any = None, send_email: bool = True, email: str | None = None) -> str:
    """Replace an invitation's link (the old one stops working); returns the new token."""
    if invitation.is_revoked:
        raise EventError(_("This invitation was withdrawn."))
    if invitation.event.status == EventStatus.CANCELLED:
        raise EventError(_("This event has been cancelled."))
    token, token_hash = new_token()
    invitation.token_hash = token_hash
    invitation.link_issued_at = utcnow()
    if email is not None:
        invitation.email = email.strip()
    db.session.flush()
    if send_email and invitation.email:
        emails.send_invitation(invitation, token)
    return token


def revoke_invitation(invitation: Invitation, *, by: Any = None) -> None:
    """Withdraw an invitation: its link stops working and its attendees' places are released."""
    if invitation.is_revoked:
        return
    if any(r.is_checked_in for r in invitation.registrations):
        raise EventError(_("Attendees of this enterprise have checked in; the invitation cannot be withdrawn."))
    lock_event(invitation.event_id)
    now = utcnow()
    invitation.revoked_at = now
    for registration in invitation.registrations:
        if registration.is_active:
            registration.status = RegistrationStatus.CANCELLED
            registration.cancelled_at = now
            registration.cancelled_by_id = getattr(by, "id", None)
    db.session.flush()
    promote_waitlist(invitation.event)


def link_state(invitation: Invitation | None, now: datetime | None = None) -> str:
    """ "ok", or why the link cannot be used: "invalid", "revoked", "cancelled", "expired"."""
    if invitation is None:
        return "invalid"
    if invitation.is_revoked:
        return "revoked"
    event = invitation.event
    if event.status == EventStatus.CANCELLED:
        return "cancelled"
    if event.status == EventStatus.DRAFT:
        return "invalid"
    if (now or utcnow()) > link_expires_at(event):
        return "expired"
    return "ok"


def link_expires_at(event: Event) -> datetime:
    return event.ends_at + timedelta(days=int(get_setting("event_link_valid_days")))


# --- registrations ----------------------------------------------------------------------------------------


@dataclass
class Attendee:
    name: str
    role: str
    mobile: str
    email: str = ""


def normalise_mobile(value: str | None) -> str:
    """Half-width digits without spaces or hyphens, and without the +86 / 0086 country prefix."""
    text = unicodedata.normalize("NFKC", value or "")
    text = re.sub(r"[\s\-()]", "", text)
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if len(text) == 13 and text.startswith("86"):
        text = text[2:]
    return text


def attendee_errors(attendee: Attendee) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = attendee.name.strip()
    if not name:
        errors["name"] = [_("Enter the attendee's name.")]
    elif len(name) > 60:
        errors["name"] = [_("At most %(n)s characters.", n=60)]
    role = attendee.role.strip()
    if not role:
        errors["role"] = [_("Enter the attendee's role in the enterprise.")]
    elif len(role) > 60:
        errors["role"] = [_("At most %(n)s characters.", n=60)]
    if not MOBILE_PATTERN.match(normalise_mobile(attendee.mobile)):
        errors["mobile"] = [_("Enter an 11-digit mainland mobile number, e.g. 13800138000.")]
    if attendee.email.strip():
        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(attendee.email.strip(), check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = [_("Enter a valid email address, or leave it empty.")]
    return errors


def seats_taken(event_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.event_id == event_id, Registration.status == RegistrationStatus.REGISTERED
            )
        )
        or 0
    )


def register_attendee(
    invitation: Invitation, attendee: Attendee, *, by: Any = None, link: str | None = None
) -> Registration:
    """Register a named attendee of the invited enterprise: a seat if one is free, else the waiting list.

    ``by`` is the staff member registering directly (they may also do so after registration closed and while
    the event runs, e.g. for a walk-in); None means the enterprise, through its link. ``link`` is the
    enterprise's link, quoted in the confirmation email when known.
    """
    errors = attendee_errors(attendee)
    if errors:
        raise EventValidationError(errors)
    if invitation.is_revoked:
        raise EventError(_("This invitation was withdrawn."))
    event = lock_event(invitation.event_id)
    now = utcnow()
    if by is None:
        if not event.registration_open(now):
            raise EventError(_("Registration for this event is closed."))
    elif event.status not in (EventStatus.PUBLISHED, EventStatus.FINISHED):
        raise EventError(_("Attendees can be registered only for a published event."))
    mobile = normalise_mobile(attendee.mobile)
    duplicate = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == event.id,
            Registration.mobile == mobile,
            Registration.status != RegistrationStatus.CANCELLED,
        )
    )
    if duplicate:
        raise EventValidationError({"mobile": [_("This mobile number is already registered for the event.")]})
    if event.seats_per_enterprise is not None:
        mine = db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.invitation_id == invitation.id, Registration.status != RegistrationStatus.CANCELLED
            )
        )
        if mine >= event.seats_per_enterprise:
            raise EventError(
                _("Each enterprise may register at most %(n)s attendees for this event.", n=event.seats_per_enterprise)
            )
    full = event.capacity is not None and seats_taken(event.id) >= event.capacity
    registration = Registration(
        event_id=event.id,
        invitation=invitation,
        enterprise_id=invitation.enterprise_id,
        name=attendee.name.strip(),
        role=attendee.role.strip(),
        mobile=mobile,
        email=attendee.email.strip(),
        status=RegistrationStatus.WAITLISTED if full else RegistrationStatus.REGISTERED,
        registered_by_id=getattr(by, "id", None),
    )
    db.session.add(registration)
    db.session.flush()
    emails.send_registration_confirmation(registration, link=link)
    if not full and event.capacity is not None and seats_taken(event.id) >= event.capacity:
        emails.notify_event_full(event)
    return registration


def cancel_registration(registration: Registration, *, by: Any = None) -> list[Registration]:
    """Cancel an attendee's registration; the waiting list moves up into a freed seat. Returns who moved up."""
    if registration.status == RegistrationStatus.CANCELLED:
        return []
    if registration.is_checked_in:
        raise EventError(_("This attendee has checked in; undo the check-in first."))
    event = lock_event(registration.event_id)
    if by is None and event.has_started():
        raise EventError(_("The event has started; registrations can no longer be cancelled here."))
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED:
        return []
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    registration.cancelled_by_id = getattr(by, "id", None)
    db.session.flush()
    return promote_waitlist(event)


def promote_waitlist(event: Event) -> list[Registration]:
    """Move waiting attendees, first come first served, into free seats (the caller holds the event lock)."""
    if event.status not in (EventStatus.PUBLISHED,) or event.has_started():
        return []
    promoted: list[Registration] = []
    free = None if event.capacity is None else event.capacity - seats_taken(event.id)
    if free is not None and free <= 0:
        return promoted
    waiting = select(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.WAITLISTED
    )
    waiting = waiting.order_by(Registration.created_at, Registration.id)
    if free is not None:
        waiting = waiting.limit(free)
    now = utcnow()
    for registration in db.session.scalars(waiting).all():
        registration.status = RegistrationStatus.REGISTERED
        registration.promoted_at = now
        promoted.append(registration)
    db.session.flush()
    for registration in promoted:
        emails.send_promotion(registration)
    return promoted


# --- check-in ---------------------------------------------------------------------------------------------


@dataclass
class CheckInOutcome:
    registration: Registration
    #: "checked_in", or "already" when the attendee had checked in before.
    status: str
    #: True when the attendee was on the waiting list and was admitted at the door.
    admitted_from_waitlist: bool = False
    completed_tasks: list[CultivationTask] = field(default_factory=list)


def check_in(
    registration: Registration, *, by: Any, method: CheckInMethod = CheckInMethod.SEARCH, at: datetime | None = None
) -> CheckInOutcome:
    """Record an attendee's attendance. The enterprise's first attendance completes its matching plan tasks."""
    event = registration.event
    if not event.is_open_for_check_in:
        raise EventError(_("Check-in is possible only for a published or finished event."))
    if registration.status == RegistrationStatus.CANCELLED:
        raise EventError(_("This registration was cancelled."))
    now = at or utcnow()
    if local_date(now) < local_date(event.starts_at):
        raise EventError(_("Check-in opens on the day of the event."))
    if registration.is_checked_in:
        return CheckInOutcome(registration, "already")
    admitted = registration.status == RegistrationStatus.WAITLISTED
    if admitted:
        registration.status = RegistrationStatus.REGISTERED
        registration.promoted_at = now
    first = not enterprise_attended(event.id, registration.enterprise_id)
    registration.checked_in_at = now
    registration.checked_in_by_id = getattr(by, "id", None)
    registration.check_in_method = CheckInMethod(method)
    db.session.flush()
    completed = apply_attendance_to_plan(event, registration.enterprise_id) if first else []
    return CheckInOutcome(registration, "checked_in", admitted_from_waitlist=admitted, completed_tasks=completed)


def check_in_by_payload(event: Event, payload: str, *, by: Any) -> CheckInOutcome:
    """Check in from a scanned QR code; a code of another event, or outside the user's scope, is refused."""
    parsed = parse_checkin_payload(payload)
    if parsed is None:
        raise EventError(_("This is not a check-in code of this CRM."))
    event_id, registration_id = parsed
    if event_id != event.id:
        raise EventError(_("This code belongs to another event."))
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id or not scope_of(by).contains(registration.enterprise):
        raise EventError(_("No registration of this event matches the code."))
    return check_in(registration, by=by, method=CheckInMethod.QR)


def undo_check_in(registration: Registration, *, by: Any = None) -> None:
    """Undo a check-in; when it was the enterprise's last attendance, the plan tasks it completed reopen."""
    if not registration.is_checked_in:
        return
    registration.checked_in_at = None
    registration.checked_in_by_id = None
    registration.check_in_method = None
    if registration.certificate_file is not None:
        delete_stored(registration.certificate_file)
        registration.certificate_file = None
    db.session.flush()
    if not enterprise_attended(registration.event_id, registration.enterprise_id):
        revert_attendance_from_plan(registration.event_id, registration.enterprise_id)


def enterprise_attended(event_id: int, enterprise_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.event_id == event_id,
                Registration.enterprise_id == enterprise_id,
                Registration.checked_in_at.isnot(None),
            )
        )
    )


# --- plans ------------------------------------------------------------------------------------------------


def apply_attendance_to_plan(event: Event, enterprise_id: int) -> list[CultivationTask]:
    """Complete the open tasks of the enterprise's active plan that require one of the event's topics."""
    topic_ids = [item.id for item in event.topics]
    plan = active_plan(enterprise_id) if topic_ids else None
    if plan is None:
        return []
    tasks = db.session.scalars(
        select(CultivationTask)
        .where(
            CultivationTask.plan_id == plan.id,
            CultivationTask.status != TaskStatus.DONE,
            CultivationTask.id.in_(
                select(cultivation_task_items.c.task_id).where(cultivation_task_items.c.item_id.in_(topic_ids))
            ),
        )
        .order_by(CultivationTask.id)
    ).all()
    on = local_date(event.starts_at)
    if on > local_today():
        on = local_today()
    note = emails.task_completion_note(event)
    for task in tasks:
        set_source = task.source_kind is None
        complete_task(task, note=note, on=on)
        if set_source:
            task.source_kind = "event"
            task.source_id = event.id
        db.session.add(
            EventTaskCompletion(event_id=event.id, enterprise_id=enterprise_id, task_id=task.id, set_source=set_source)
        )
        if task.owner is not None:
            emails.notify_task_completed(task, event)
    db.session.flush()
    return list(tasks)


def revert_attendance_from_plan(event_id: int, enterprise_id: int) -> list[CultivationTask]:
    """Reopen the tasks an attendance completed (when they are still as it left them)."""
    reopened = []
    completions = db.session.scalars(
        select(EventTaskCompletion)
        .where(EventTaskCompletion.event_id == event_id, EventTaskCompletion.enterprise_id == enterprise_id)
        .order_by(EventTaskCompletion.id)
    ).all()
    for completion in completions:
        task = completion.task
        if task is not None and task.status == TaskStatus.DONE:
            task.status = TaskStatus.TODO
            task.completed_on = None
            task.completion_note = ""
            if completion.set_source and task.source_kind == "event" and task.source_id == event_id:
                task.source_kind = None
                task.source_id = None
            reopened.append(task)
        db.session.delete(completion)
    db.session.flush()
    return reopened


# --- feedback ---------------------------------------------------------------------------------------------


def feedback_errors(overall: Any, content: Any, organisation: Any, comment: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in (
        ("rating_overall", overall),
        ("rating_content", content),
        ("rating_organisation", organisation),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            errors[name] = [_("Choose a rating from 1 to 5.")]
    if len(comment or "") > 2000:
        errors["comment"] = [_("At most %(n)s characters.", n=2000)]
    return errors


def can_give_feedback(invitation: Invitation, now: datetime | None = None) -> bool:
    return invitation.event.has_started(now) and any(r.is_active for r in invitation.registrations)


def save_feedback(
    invitation: Invitation, *, overall: int, content: int, organisation: int, comment: str = ""
) -> Feedback:
    """Record (or update) the enterprise's feedback; possible once the event has started."""
    if not can_give_feedback(invitation):
        raise EventError(_("Feedback opens when the event starts, for enterprises that registered attendees."))
    errors = feedback_errors(overall, content, organisation, comment)
    if errors:
        raise EventValidationError(errors)
    feedback = invitation.feedback
    if feedback is None:
        feedback = Feedback(event_id=invitation.event_id, invitation=invitation, enterprise_id=invitation.enterprise_id)
        db.session.add(feedback)
    feedback.rating_overall = overall
    feedback.rating_content = content
    feedback.rating_organisation = organisation
    feedback.comment = (comment or "").strip()
    db.session.flush()
    return feedback


# --- helpers for views ------------------------------------------------------------------------------------


def registration_qr_payload(registration: Registration) -> str:
    return checkin_payload(registration)


def default_organisers(user: Any) -> list[RecommendingUnit]:
    """The units a new event is organised by unless the user changes it: those of the user's jurisdiction."""
    from crm.events.access import jurisdiction_unit_ids

    if Role(user.role).sees_everything:
        return []
    ids = jurisdiction_unit_ids(user)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(RecommendingUnit)
            .where(RecommendingUnit.id.in_(sorted(ids)), RecommendingUnit.is_active.is_(True))
            .order_by(RecommendingUnit.sort_order, RecommendingUnit.code)
        )
    )
