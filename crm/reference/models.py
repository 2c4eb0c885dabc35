"""Reference data: areas, customs offices, business types, key-enterprise categories, recommending units,
the notice's support measures and the AEO mutual-recognition partners. Seeded from ``data/`` and editable
by administrators."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.i18n import is_chinese
from crm.core.models import LabelledEnum, TimestampMixin, enum_type
from crm.extensions import db


class ReferenceMixin(TimestampMixin):
    """A coded row with a Chinese and an English name, an order and an active flag."""

    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    @property
    def display_name(self) -> str:
        return self.name_zh if is_chinese() or not self.name_en else self.name_en

    def __str__(self) -> str:
        return self.name_zh


office_areas = Table(
    "office_areas",
    db.metadata,
    Column("office_id", ForeignKey("customs_offices.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Area(ReferenceMixin, db.Model):
    """A 设区市 or 平潭综合实验区, keyed by its administrative code (350100 ...)."""

    __tablename__ = "areas"

    offices: Mapped[list[CustomsOffice]] = relationship(
        secondary=office_areas, back_populates="areas", order_by="(CustomsOffice.sort_order, CustomsOffice.code)"
    )


class CustomsOffice(ReferenceMixin, db.Model):
    """A 直属海关 (no parent) or a 隶属海关 under one; serves one or more areas."""

    __tablename__ = "customs_offices"

    parent_id: Mapped[int | None] = mapped_column(ForeignKey("customs_offices.id"), index=True)
    #: False until the customs district has confirmed the office and the areas it serves.
    is_confirmed: Mapped[bool] = mapped_column(default=False)

    parent: Mapped[CustomsOffice | None] = relationship(remote_side="CustomsOffice.id", back_populates="children")
    children: Mapped[list[CustomsOffice]] = relationship(
        back_populates="parent", order_by="(CustomsOffice.sort_order, CustomsOffice.code)"
    )
    areas: Mapped[list[Area]] = relationship(
        secondary=office_areas, back_populates="offices", order_by="(Area.sort_order, Area.code)"
    )

    @property
    def is_district(self) -> bool:
        """A 直属海关 (district) rather than a subordinate office."""
        return self.parent_id is None

    def serves(self, area: Area | None) -> bool:
        return area is not None and any(a.id == area.id for a in self.areas)


class BusinessType(ReferenceMixin, db.Model):
    """A business line with its own 单项标准 (进出口货物收发货人, 报关企业, ...)."""

    __tablename__ = "business_types"


class KeyCategory(ReferenceMixin, db.Model):
    """A key-enterprise category of measure 1 (高新技术企业, 专精特新企业, ...)."""

    __tablename__ = "key_categories"


class UnitKind(LabelledEnum):
    COMMERCE = "commerce"
    INDUSTRY = "industry"
    SCIENCE = "science"
    CUSTOMS = "customs"
    OTHER = "other"

    @classmethod
    def _labels(cls):
        return {
            cls.COMMERCE: _l("Commerce"),
            cls.INDUSTRY: _l("Industry and IT"),
            cls.SCIENCE: _l("Science and technology"),
            cls.CUSTOMS: _l("Customs"),
            cls.OTHER: _l("Other"),
        }


class RecommendingUnit(ReferenceMixin, db.Model):
    """A unit that recommends enterprises into the pool (省商务厅, 福州海关, 泉州市商务局 ...)."""

    __tablename__ = "recommending_units"

    kind: Mapped[UnitKind] = mapped_column(enum_type(UnitKind), default=UnitKind.OTHER)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("customs_offices.id"), index=True)

    area: Mapped[Area | None] = relationship()
    office: Mapped[CustomsOffice | None] = relationship()


class SupportMeasure(ReferenceMixin, db.Model):
    """One of the 24 measures of 闽商务〔2025〕104号; ``code`` is its number."""

    __tablename__ = "support_measures"

    number: Mapped[int] = mapped_column(unique=True)
    responsible_units: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")


class MraPartner(ReferenceMixin, db.Model):
    """An AEO mutual-recognition partner economy, with the dates of its arrangement."""

    __tablename__ = "mra_partners"

    signed_on: Mapped[date | None] = mapped_column()
    implemented_on: Mapped[date | None] = mapped_column()
    #: Which of the partner's AEO tiers are recognised, as stated in the arrangement.
    tiers_recognised: Mapped[str] = mapped_column(String(200), default="")
    is_confirmed: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
