"""The yearly number of certifications each area aims at (the dashboard compares it with the year's result)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import TimestampMixin
from crm.extensions import db


class CertificationTarget(TimestampMixin, db.Model):
    """How many enterprises of an area should be certified in a calendar year (set by an administrator)."""

    __tablename__ = "certification_targets"
    __table_args__ = (UniqueConstraint("area_id", "year"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    #: Enterprises to be certified (moved into ``certified``) during ``year``.
    target: Mapped[int] = mapped_column()

    area = relationship("Area")

    def __str__(self) -> str:
        return f"{self.area} {self.year}: {self.target}"
