"""Training events (measure 3): the event, its invitations (one per enterprise, each with its own link), the
named attendees registered through them, feedback, and the plan tasks that attendance completed."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import AuthorMixin, LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class EventKind(LabelledEnum):
    POLICY_BRIEFING = "policy_briefing"
    STANDARD_INTERPRETATION = "standard_interpretation"
    WORKSHOP = "workshop"
    SALON = "salon"
    ONLINE_COURSE = "online_course"

    @classmethod
    def _labels(cls):
        return {
            cls.POLICY_BRIEFING: _l("Policy briefing"),
            cls.STANDARD_INTERPRETATION: _l("Standard interpretation"),
            cls.WORKSHOP: _l("Thematic training"),
            cls.SALON: _l("Salon"),
            cls.ONLINE_COURSE: _l("Online course"),
        }


class EventStatus(LabelledEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    FINISHED = "finished"
    CANCELLED = "cancelled"

    @classmethod
    def _labels(cls):
        return {
            cls.DRAFT: _l("Draft"),
            cls.PUBLISHED: _l("Published"),
            cls.FINISHED: _l("Finished"),
            cls.CANCELLED: _l("Cancelled"),
        }


class InvitationSource(LabelledEnum):
    """How the enterprise came to be invited."""

    FILTER = "filter"
    COHORT = "cohort"
    SINGLE = "single"
    STAFF = "staff"
    API = "api"

    @classmethod
    def _labels(cls):
        return {
            cls.FILTER: _l("Invited by filter"),
            cls.COHORT: _l("Invited with a cohort"),
            cls.SINGLE: _l("Invited individually"),
            cls.STAFF: _l("Registered by staff"),
            cls.API: _l("Invited through the API"),
        }


class RegistrationStatus(LabelledEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"

    @classmethod
    def _labels(cls):
        return {
            cls.REGISTERED: _l("Registered"),
            cls.WAITLISTED: _l("On the waiting list"),
            cls.CANCELLED: _l("Registration cancelled"),
        }


class CheckInMethod(LabelledEnum):
    QR = "qr"
    SEARCH = "search"
    BULK = "bulk"
    API = "api"

    @classmethod
    def _labels(cls):
        return {
            cls.QR: _l("QR code"),
            cls.SEARCH: _l("Name search"),
            cls.BULK: _l("Bulk from the list"),
            cls.API: _l("API"),
        }


event_organisers = Table(
    "event_organisers",
    db.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("recommending_units.id"), primary_key=True, index=True),
)

event_topics = Table(
    "event_topics",
    db.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("standard_items.id"), primary_key=True, index=True),
)


class Event(TimestampMixin, AuthorMixin, db.Model):
    """A training event: policy briefing, standard interpretation, workshop, salon or online course."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_starts_at", "status", "starts_at"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 30))
    status: Mapped[EventStatus] = mapped_column(enum_type(EventStatus, 12), default=EventStatus.DRAFT)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    venue: Mapped[str] = mapped_column(String(300), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    #: Seats; NULL for no limit. Registrations beyond it join the waiting list.
    capacity: Mapped[int | None] = mapped_column()
    #: At most this many attendees per enterprise (e.g. 每家企业限报2人); NULL for no limit.
    seats_per_enterprise: Mapped[int | None] = mapped_column()
    #: Registration through the links closes then; NULL closes it when the event starts.
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    organisers = relationship(
        "RecommendingUnit", secondary=event_organisers, order_by="(RecommendingUnit.sort_order, RecommendingUnit.code)"
    )
    topics = relationship("StandardItem", secondary=event_topics, order_by="StandardItem.number")
    created_by = relationship("User", foreign_keys="Event.created_by_id")
    invitations: Mapped[list[Invitation]] = relationship(back_populates="event", cascade="all, delete-orphan")

    @property
    def registration_deadline(self) -> datetime:
        return self.registration_closes_at or self.starts_at

    def registration_open(self, now: datetime | None = None) -> bool:
        return self.status == EventStatus.PUBLISHED and (now or utcnow()) < self.registration_deadline

    def has_started(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.starts_at

    def has_ended(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.ends_at

    @property
    def is_open_for_check_in(self) -> bool:
        return self.status in (EventStatus.PUBLISHED, EventStatus.FINISHED)

    def __str__(self) -> str:
        return self.title

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"


class Invitation(TimestampMixin, db.Model):
    """One enterprise invited to one event, with the hash of its personal registration link's token."""

    __tablename__ = "event_invitations"
    __table_args__ = (UniqueConstraint("event_id", "enterprise_id"),)
    __audit__ = True
    __audit_mask__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the link's token; the token itself is only ever in the link that was sent or shown.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[InvitationSource] = mapped_column(enum_type(InvitationSource, 12), default=InvitationSource.SINGLE)
    #: The contact the link was emailed to, and the address used.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: When the current link was issued (a reissued link replaces the old one).
    link_issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="invitations")
    enterprise = relationship("Enterprise")
    contact = relationship("Contact")
    invited_by = relationship("User")
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", order_by="Registration.id"
    )
    feedback: Mapped[Feedback | None] = relationship(back_populates="invitation", cascade="all, delete-orphan")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.event_id}/{self.enterprise_id}"


class Registration(TimestampMixin, db.Model):
    """A named attendee of an enterprise, registered through its link or by staff."""

    __tablename__ = "event_registrations"
    __table_args__ = (
        Index("ix_event_registrations_event_id_status", "event_id", "status"),
        Index("ix_event_registrations_enterprise_id_checked_in_at", "enterprise_id", "checked_in_at"),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Denormalised from the invitation: the capacity count and the row lock work per event.
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    invitation_id: Mapped[int] = mapped_column(ForeignKey("event_invitations.id", ondelete="CASCADE"), index=True)
    #: Denormalised from the invitation so scope filters need no join.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    #: The attendee's role in the enterprise (职务), e.g. 关务经理.
    role: Mapped[str] = mapped_column(String(60), default="")
    #: A mainland mobile number, normalised to 11 digits.
    mobile: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_type(RegistrationStatus, 12), default=RegistrationStatus.REGISTERED
    )
    #: Staff who registered the attendee; NULL when the enterprise did, through its link.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the attendee moved up from the waiting list.
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    check_in_method: Mapped[CheckInMethod | None] = mapped_column(enum_type(CheckInMethod, 10))
    #: Issued with the first certificate, then kept (the certificate can be generated again).
    certificate_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))

    event: Mapped[Event] = relationship()
    invitation: Mapped[Invitation] = relationship(back_populates="registrations")
    enterprise = relationship("Enterprise")
    checked_in_by = relationship("User", foreign_keys=[checked_in_by_id])
    registered_by = relationship("User", foreign_keys=[registered_by_id])
    certificate_file = relationship("StoredFile")

    @property
    def is_active(self) -> bool:
        return self.status != RegistrationStatus.CANCELLED

    @property
    def is_checked_in(self) -> bool:
        return self.checked_in_at is not None

    @property
    def masked_mobile(self) -> str:
        return f"{self.mobile[:3]}****{self.mobile[-4:]}" if len(self.mobile) >= 7 else self.mobile

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.name


class Feedback(TimestampMixin, db.Model):
    """An enterprise's feedback on an event (ratings 1-5 and a comment), given through its link."""

    __tablename__ = "event_feedback"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("event_invitations.id", ondelete="CASCADE"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    rating_overall: Mapped[int] = mapped_column()
    rating_content: Mapped[int] = mapped_column()
    rating_organisation: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")

    invitation: Mapped[Invitation] = relationship(back_populates="feedback")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id


class EventTaskCompletion(db.Model):
    """A plan task that attending an event completed; kept so undoing the check-in can reopen it."""

    __tablename__ = "event_task_completions"
    __table_args__ = (UniqueConstraint("event_id", "task_id"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("cultivation_tasks.id", ondelete="CASCADE"), index=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: True when the task had no source and this completion set it to the event.
    set_source: Mapped[bool] = mapped_column(default=False)

    task = relationship("CultivationTask")
    event = relationship("Event")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id
