"""Visits to enterprises (planned and done), what was found on them, and per-user calendar feeds."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import AuthorMixin, LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db
from crm.standards.models import Judgement

#: How long a visit lasts when nobody said otherwise (calendar and iCalendar end times).
DEFAULT_DURATION_MINUTES = 60


class VisitKind(LabelledEnum):
    ONSITE = "onsite"
    ONLINE = "online"
    PHONE = "phone"
    MEETING = "meeting"
    JOINT = "joint"

    @classmethod
    def _labels(cls):
        return {
            cls.ONSITE: _l("On-site visit"),
            cls.ONLINE: _l("Online coaching"),
            cls.PHONE: _l("Phone call"),
            cls.MEETING: _l("Symposium"),
            cls.JOINT: _l("Joint visit"),
        }

    @property
    def icon(self) -> str:
        return {
            VisitKind.ONSITE: "geo-alt",
            VisitKind.ONLINE: "camera-video",
            VisitKind.PHONE: "telephone",
            VisitKind.MEETING: "people",
            VisitKind.JOINT: "people-fill",
        }[self]


class VisitStatus(LabelledEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"

    @classmethod
    def _labels(cls):
        return {cls.PLANNED: _l("Planned"), cls.DONE: _l("Took place"), cls.CANCELLED: _l("Cancelled")}


#: Our people on the visit (users of any agency), the lead officer included.
visit_participants = Table(
    "visit_participants",
    db.metadata,
    Column("visit_id", ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

#: The enterprise's people who took part, when they are recorded contacts.
visit_contacts = Table(
    "visit_contacts",
    db.metadata,
    Column("visit_id", ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
)

#: Items of the standard discussed on the visit.
visit_items = Table(
    "visit_items",
    db.metadata,
    Column("visit_id", ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("standard_items.id"), primary_key=True, index=True),
)


class Visit(TimestampMixin, AuthorMixin, db.Model):
    """One visit to an enterprise: planned, then logged as done (or cancelled)."""

    __tablename__ = "visits"
    __table_args__ = (
        # Last visit per enterprise, the enterprise's visit list and timeline.
        Index("ix_visits_enterprise_id_status_starts_at", "enterprise_id", "status", "starts_at"),
        # Calendars, reminders ("planned visits between X and Y") and statistics.
        Index("ix_visits_status_starts_at", "status", "starts_at"),
        # The newest-first list of every visit in scope, in its order (starts_at, id), so a page far down the list
        # reads its ids from the index alone (``paginate(..., id_column=...)``).
        Index("ix_visits_starts_at_id", "starts_at", "id"),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    status: Mapped[VisitStatus] = mapped_column(enum_type(VisitStatus, 12), default=VisitStatus.PLANNED)
    kind: Mapped[VisitKind] = mapped_column(enum_type(VisitKind, 12), default=VisitKind.ONSITE)
    #: When the visit starts (planned) or started (done), as a UTC instant.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(default=DEFAULT_DURATION_MINUTES)
    location: Mapped[str] = mapped_column(String(200), default="")
    #: The officer who leads the visit and answers for its record; also one of the participants.
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The enterprise's people recorded by name only (not contacts of the enterprise).
    attendee_names: Mapped[list] = mapped_column(JSON, default=list)
    #: Topics that are not items of the standard (free text, one per entry).
    free_topics: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    #: What the enterprise asked of us (诉求).
    requests: Mapped[str] = mapped_column(Text, default="")
    next_visit_on: Mapped[date | None] = mapped_column()
    #: When a planned visit was logged as done.
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    #: Follow-ups entered while the enterprise had no active plan, kept until they can become tasks:
    #: [{"title", "item_ids", "owner_id", "owner_contact_id", "due_on", "description"}].
    pending_follow_ups: Mapped[list] = mapped_column(JSON, default=list)

    enterprise = relationship("Enterprise")
    officer = relationship("User", foreign_keys=[officer_id])
    participants = relationship("User", secondary=visit_participants, order_by="(User.display_name, User.id)")
    contacts = relationship("Contact", secondary=visit_contacts, order_by="Contact.id")
    items = relationship("StandardItem", secondary=visit_items, order_by="StandardItem.number")
    findings: Mapped[list[VisitFinding]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="(VisitFinding.sort_order, VisitFinding.id)"
    )

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes or DEFAULT_DURATION_MINUTES)

    @property
    def is_planned(self) -> bool:
        return self.status == VisitStatus.PLANNED

    @property
    def is_done(self) -> bool:
        return self.status == VisitStatus.DONE

    @property
    def is_overdue(self) -> bool:
        """A planned visit whose time has passed without being logged."""
        return self.status == VisitStatus.PLANNED and self.starts_at < utcnow()

    def __str__(self) -> str:
        return f"{self.kind.label} {self.starts_at:%Y-%m-%d}"


class VisitFinding(TimestampMixin, db.Model):
    """A problem found on a visit, on an item of the standard or not; it may set the item's judgement in the
    enterprise's officer pre-assessment draft."""

    __tablename__ = "visit_findings"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("standard_items.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The judgement this finding gave the item; recorded in the officer draft named by ``assessment_id``.
    judgement: Mapped[Judgement | None] = mapped_column(enum_type(Judgement, 10))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"), index=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    visit: Mapped[Visit] = relationship(back_populates="findings")
    item = relationship("StandardItem")
    assessment = relationship("Assessment")

    @property
    def audit_enterprise_id(self) -> int | None:
        return self.visit.enterprise_id if self.visit is not None else None

    def __str__(self) -> str:
        return self.description[:80]


class CalendarFeed(TimestampMixin, db.Model):
    """A user's secret iCalendar subscription URL; only the hash of its secret is kept."""

    __tablename__ = "calendar_feeds"
    __audit__ = True
    __audit_mask__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __str__(self) -> str:
        return f"calendar feed {self.id} of user {self.user_id}"
