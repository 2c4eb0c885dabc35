"""The outbox (every email and in-app notification passes through it) and the in-app notification centre."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import LabelledEnum, UTCDateTime, enum_type, utcnow
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
    __table_args__ = (Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),)

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
    __table_args__ = (Index("ix_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"))

    def __str__(self) -> str:
        return self.title
