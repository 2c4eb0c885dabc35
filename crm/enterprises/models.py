"""Enterprises of the 优选培育推荐库, their contacts, recommendations and credit-status history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import AuthorMixin, LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class CreditStatus(LabelledEnum):
    """Customs credit tiers under Order 282 (from 1 April 2026)."""

    AEO_ADVANCED = "aeo_advanced"
    AEO = "aeo"
    REGULAR = "regular"
    DISCREDITED = "discredited"
    SEVERELY_DISCREDITED = "severely_discredited"

    @classmethod
    def _labels(cls):
        return {
            cls.AEO_ADVANCED: _l("Advanced certified enterprise"),
            cls.AEO: _l("Certified enterprise"),
            cls.REGULAR: _l("Regular enterprise"),
            cls.DISCREDITED: _l("Discredited enterprise"),
            cls.SEVERELY_DISCREDITED: _l("Severely discredited enterprise"),
        }

    @property
    def is_aeo(self) -> bool:
        return self in (CreditStatus.AEO_ADVANCED, CreditStatus.AEO)

    @property
    def is_discredited(self) -> bool:
        return self in (CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED)


class TargetTier(LabelledEnum):
    """The AEO tier a candidate aims at."""

    AEO_ADVANCED = "aeo_advanced"
    AEO = "aeo"

    @classmethod
    def _labels(cls):
        return {cls.AEO_ADVANCED: _l("Advanced certified enterprise"), cls.AEO: _l("Certified enterprise")}


class Priority(LabelledEnum):
    A = "A"
    B = "B"
    C = "C"

    @classmethod
    def _labels(cls):
        return {cls.A: _l("A (highest)"), cls.B: _l("B"), cls.C: _l("C")}


class ContactRole(LabelledEnum):
    LEGAL_REPRESENTATIVE = "legal_rep"
    CUSTOMS_LEAD = "customs_lead"
    FINANCE_LEAD = "finance_lead"
    LIAISON = "liaison"
    OTHER = "other"

    @classmethod
    def _labels(cls):
        return {
            cls.LEGAL_REPRESENTATIVE: _l("Legal representative"),
            cls.CUSTOMS_LEAD: _l("Head of customs affairs"),
            cls.FINANCE_LEAD: _l("Head of finance"),
            cls.LIAISON: _l("Liaison"),
            cls.OTHER: _l("Other"),
        }


enterprise_business_types = Table(
    "enterprise_business_types",
    db.metadata,
    Column("enterprise_id", ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True),
    Column("business_type_id", ForeignKey("business_types.id"), primary_key=True, index=True),
)

enterprise_key_categories = Table(
    "enterprise_key_categories",
    db.metadata,
    Column("enterprise_id", ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True),
    Column("key_category_id", ForeignKey("key_categories.id"), primary_key=True, index=True),
)

recommendation_key_categories = Table(
    "recommendation_key_categories",
    db.metadata,
    Column("recommendation_id", ForeignKey("recommendations.id", ondelete="CASCADE"), primary_key=True),
    Column("key_category_id", ForeignKey("key_categories.id"), primary_key=True),
)


class Enterprise(TimestampMixin, AuthorMixin, db.Model):
    __tablename__ = "enterprises"
    __table_args__ = (
        Index("ix_enterprises_area_id_stage", "area_id", "stage"),
        Index("ix_enterprises_office_id_stage", "office_id", "stage"),
        Index("ix_enterprises_stage_stage_entered_at", "stage", "stage_entered_at"),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    #: The name without company-form words, brackets and spaces: the key for "similar name" warnings.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    #: 统一社会信用代码, normalised (half-width, no spaces, upper case) and checked with stdnum.cn.uscc.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    #: 海关注册编码 (10 characters), unique when present.
    customs_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: The competent customs office; it must serve the enterprise's area.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("customs_offices.id"))
    industry: Mapped[str] = mapped_column(String(100), default="")
    target_tier: Mapped[TargetTier] = mapped_column(enum_type(TargetTier, 20), default=TargetTier.AEO_ADVANCED)
    #: Last year's import and export value, in 万美元 (ten thousand US dollars).
    trade_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    employees: Mapped[int | None] = mapped_column()
    address: Mapped[str] = mapped_column(String(300), default="")
    #: The current tier; its dated history is in credit_status_changes.
    credit_status: Mapped[CreditStatus] = mapped_column(
        enum_type(CreditStatus, 24), default=CreditStatus.REGULAR, index=True
    )
    #: Recommendation priority (A/B/C), the highest of the enterprise's recommendations unless set by hand.
    priority: Mapped[Priority | None] = mapped_column(enum_type(Priority, 1), index=True)
    commerce_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customs_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The customs 企业协调员 assigned once the enterprise is certified.
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    stage: Mapped[str] = mapped_column(ForeignKey("stages.code"), default="candidate")
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Outcome of the latest assessment ("pass", "fail", "incomplete"), kept by the assessment service.
    readiness_outcome: Mapped[str | None] = mapped_column(String(12))
    readiness_total: Mapped[int | None] = mapped_column()
    #: Set by a credit downgrade (measure 22): the notice's incentives stop applying.
    incentives_suspended: Mapped[bool] = mapped_column(default=False, index=True)

    area = relationship("Area")
    office = relationship("CustomsOffice")
    stage_ref = relationship("Stage", lazy="joined", viewonly=True)
    commerce_officer = relationship("User", foreign_keys=[commerce_officer_id])
    customs_officer = relationship("User", foreign_keys=[customs_officer_id])
    coordinator = relationship("User", foreign_keys=[coordinator_id])
    business_types = relationship(
        "BusinessType", secondary=enterprise_business_types, order_by="BusinessType.sort_order"
    )
    categories = relationship("KeyCategory", secondary=enterprise_key_categories, order_by="KeyCategory.sort_order")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="enterprise",
        cascade="all, delete-orphan",
        order_by="(Contact.is_primary.desc(), Contact.id)",
    )
    recommendations: Mapped[list[Recommendation]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="Recommendation.recommended_on.desc()"
    )
    credit_history: Mapped[list[CreditStatusChange]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="CreditStatusChange.effective_on.desc()"
    )

    @property
    def audit_enterprise_id(self) -> int:
        return self.id

    @property
    def customs_contact(self) -> Contact | None:
        """The enterprise's own 关务 contact: its head of customs affairs (关务负责人)."""
        return next((c for c in self.contacts if c.role == ContactRole.CUSTOMS_LEAD), None)

    @property
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary), self.contacts[0] if self.contacts else None)

    @property
    def aeo_code(self) -> str | None:
        """The code used abroad under mutual recognition: AEOCN + the customs registration code."""
        return f"AEOCN{self.customs_code}" if self.customs_code else None

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Enterprise {self.id} {self.uscc}>"


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[ContactRole] = mapped_column(enum_type(ContactRole, 20), default=ContactRole.LIAISON)
    #: A free-text title when the role is "other" or needs precision (e.g. 关务专员).
    title: Mapped[str] = mapped_column(String(60), default="")
    mobile: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)

    enterprise: Mapped[Enterprise] = relationship(back_populates="contacts")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.name


class Recommendation(TimestampMixin, db.Model):
    """One unit's recommendation of an enterprise into the pool (入库推荐)."""

    __tablename__ = "recommendations"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("recommending_units.id"), index=True)
    recommended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recommended_on: Mapped[date] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[Priority] = mapped_column(enum_type(Priority, 1), default=Priority.B)

    enterprise: Mapped[Enterprise] = relationship(back_populates="recommendations")
    unit = relationship("RecommendingUnit")
    recommended_by = relationship("User")
    categories = relationship("KeyCategory", secondary=recommendation_key_categories)

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.unit} → {self.enterprise_id}" if self.unit else str(self.enterprise_id)


class CreditStatusChange(TimestampMixin, db.Model):
    """A dated entry of the enterprise's credit-status history (certification, downgrade, restoration ...)."""

    __tablename__ = "credit_status_changes"
    __table_args__ = (Index("ix_credit_status_changes_enterprise_id_effective_on", "enterprise_id", "effective_on"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    status: Mapped[CreditStatus] = mapped_column(enum_type(CreditStatus, 24))
    effective_on: Mapped[date] = mapped_column()
    #: Where the information came from (a customs notice, 信用中国, a decision number ...).
    source: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    enterprise: Mapped[Enterprise] = relationship(back_populates="credit_history")
    recorded_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.status.label} ({self.effective_on})"
