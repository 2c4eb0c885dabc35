"""Pipeline stages as data, and the history of every stage change."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.i18n import is_chinese
from crm.core.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class StageKind(LabelledEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"

    @classmethod
    def _labels(cls):
        return {cls.OPEN: _l("Open"), cls.WON: _l("Won"), cls.LOST: _l("Lost")}


class Stage(TimestampMixin, db.Model):
    """A pipeline stage. The code is fixed (the transition rules rely on it); names, order and SLA are editable."""

    __tablename__ = "stages"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(default=0)
    #: Days an enterprise may stay in this stage before it counts as stale; NULL for no limit.
    sla_days: Mapped[int | None] = mapped_column()
    kind: Mapped[StageKind] = mapped_column(enum_type(StageKind, 10), default=StageKind.OPEN)

    @property
    def display_name(self) -> str:
        return self.name_zh if is_chinese() else self.name_en

    def __str__(self) -> str:
        return self.name_zh


class StageChange(db.Model):
    """One move of an enterprise between stages, with who made it, why, and the data entered."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_enterprise_id_changed_at", "enterprise_id", "changed_at"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    #: NULL for the entry into the first stage.
    from_stage: Mapped[str | None] = mapped_column(ForeignKey("stages.code"))
    to_stage: Mapped[str] = mapped_column(ForeignKey("stages.code"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    #: A manager's written reason for moving past a guard that was not met.
    override_reason: Mapped[str | None] = mapped_column(Text)
    #: What the guard asked for: dates, certificate number, tier, reason code.
    data: Mapped[dict | None] = mapped_column(JSON)

    changed_by = relationship("User")
    enterprise = relationship("Enterprise")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.from_stage or '-'} → {self.to_stage}"
