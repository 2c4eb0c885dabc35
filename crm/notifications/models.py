"""The outbox (every email and in-app notification passes through it) and the in-app notification centre."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.i18n import is_chinese
from crm.core.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class Channel(LabelledEnum):
    EMAIL = "email"
    IN_APP = "in_app"

    @classmethod
    def _labels(cls):
        return {cls.EMAIL: _l("Email"), cls.IN_APP: _l("In the CRM")}


class OutboxStatus(LabelledEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @classmethod
    def _labels(cls):
        return {
            cls.PENDING: _l("Waiting"),
            cls.SENT: _l("Sent"),
            cls.FAILED: _l("Failed"),
            cls.CANCELLED: _l("Cancelled"),
            cls.SKIPPED: _l("Skipped"),
        }


class OutboxMessage(db.Model):
    """One message to deliver. Mail is never sent directly: it is queued here in the transaction that
    justified it and delivered after the commit, with retries."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        # The operations page's outbox filtered by status, newest first (keyset on id), and its capped counts.
        Index("ix_outbox_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, 10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    to_address: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    #: Ids of StoredFile rows sent as attachments.
    attachments: Mapped[list | None] = mapped_column(JSON)
    #: A link to the record the message is about (in-app notifications).
    url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[OutboxStatus] = mapped_column(enum_type(OutboxStatus, 12), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Makes a message unique (e.g. "reminder:<rule>:<record>:<recipient>:<due date>"); NULL for ad-hoc mail.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    user = relationship("User")

    def __str__(self) -> str:
        return self.subject


class Notification(db.Model):
    """An in-app notification shown in the user's notification centre."""

    __tablename__ = "notifications"
    # A user's notifications newest first, all of them or (the index after the class) the unread ones, which also
    # counts the unread for the navigation's badge: pages read their ids from these indexes alone
    # (``paginate(..., id_column=...)``).
    __table_args__ = (Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Indexed for the housekeeping that deletes old outbox messages: each deletion sets this to NULL here.
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True)

    def __str__(self) -> str:
        return self.title


_UNREAD = Notification.read_at.is_(None)
Index(
    "ix_notifications_unread_user_id_created_at_id",
    Notification.user_id,
    Notification.created_at,
    Notification.id,
    sqlite_where=_UNREAD,
    postgresql_where=_UNREAD,
)


class EmailMode(LabelledEnum):
    """How a user wants reminder emails: one by one, or bundled into one email a day."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"

    @classmethod
    def _labels(cls):
        return {cls.IMMEDIATE: _l("Each reminder as it comes"), cls.DIGEST: _l("One daily digest email")}


class NotificationPreference(db.Model):
    """A user's notification choices; a user without a row gets the defaults (reminder emails one by one)."""

    __tablename__ = "notification_preferences"
    __audit__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email_mode: Mapped[EmailMode] = mapped_column(enum_type(EmailMode, 12), default=EmailMode.IMMEDIATE)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.email_mode}"


class ReminderRule(TimestampMixin, db.Model):
    """An administrator-editable reminder: what it watches, when (offset from the watched date), to whom, how.

    ``recipients`` maps a recipient code of the watcher (e.g. "owner", "owner_manager") to the channels used for
    it (["in_app", "email"]). Subjects and bodies are sandboxed Jinja templates in Chinese and English.
    """

    __tablename__ = "reminder_rules"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Fixed identity of a seeded rule (``task_due_3d``); rules added by administrators get ``custom_<n>``.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    is_active: Mapped[bool] = mapped_column(default=True)
    #: The watcher code (``crm.notifications.registry.WATCHERS``) that finds the records this rule is about.
    watch: Mapped[str] = mapped_column(String(40), index=True)
    #: Days from the watched date to the day the reminder fires: -3 = three days before, 1 = the day after.
    offset_days: Mapped[int] = mapped_column(default=0)
    #: {recipient code: [channel, ...]}
    recipients: Mapped[dict] = mapped_column(JSON, default=dict)
    subject_zh: Mapped[str] = mapped_column(String(300))
    subject_en: Mapped[str] = mapped_column(String(300))
    body_zh: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")

    @property
    def display_name(self) -> str:
        return self.name_zh if is_chinese() else self.name_en

    def name_in(self, language: str) -> str:
        return self.name_zh if language.startswith("zh") else self.name_en

    def channels_for(self, recipient_code: str) -> list[Channel]:
        return [Channel(c) for c in (self.recipients or {}).get(recipient_code, []) if c in Channel._value2member_map_]

    def __str__(self) -> str:
        return self.name_zh


class ReminderStatus(LabelledEnum):
    SENT = "sent"
    DIGEST = "digest"
    DIGESTED = "digested"
    SKIPPED = "skipped"

    @classmethod
    def _labels(cls):
        return {
            cls.SENT: _l("Sent"),
            cls.DIGEST: _l("Waiting for the daily digest"),
            cls.DIGESTED: _l("Sent in a digest"),
            cls.SKIPPED: _l("Skipped (too late)"),
        }


class Reminder(db.Model):
    """The ledger of reminders: one row per rule, record, recipient and due date, ever.

    The unique constraint is what makes a reminder go out exactly once, however often the sweep runs and however
    many workers run it: a second sweep's insert finds the row and does nothing.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("rule_id", "record_type", "record_id", "recipient_key", "due_on", name="uq_reminders_once"),
        Index("ix_reminders_status_user_id", "status", "user_id"),
        Index("ix_reminders_rule_id_fires_on", "rule_id", "fires_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("reminder_rules.id"))
    #: The watched record: its table name and id (e.g. "cultivation_tasks", 12).
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column()
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    #: "user:<id>" for a CRM user, "email:<address>" for a person outside the CRM.
    recipient_key: Mapped[str] = mapped_column(String(220))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    to_address: Mapped[str | None] = mapped_column(String(200))
    #: The watched date (task due date, visit date ...); part of the once-only key.
    due_on: Mapped[date] = mapped_column()
    #: The local day the reminder was due to go out: due_on + the rule's offset.
    fires_on: Mapped[date] = mapped_column()
    status: Mapped[ReminderStatus] = mapped_column(enum_type(ReminderStatus, 10))
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: The digest email this reminder went out in.
    digest_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )

    rule: Mapped[ReminderRule] = relationship()
    user = relationship("User")
    enterprise = relationship("Enterprise")

    @property
    def audit_enterprise_id(self) -> int | None:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.title
