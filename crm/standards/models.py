"""The AEO standard as versioned reference data, and assessments of enterprises against it."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.i18n import is_chinese
from crm.core.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_type
from crm.enterprises.models import TargetTier
from crm.extensions import db


class Judgement(LabelledEnum):
    """The judgement of one item: 达标 (0), 基本达标 (−1), 不达标 (−2), 不适用 (not counted), 待评估 (not yet)."""

    PASS = "pass"
    BASIC = "basic"
    FAIL = "fail"
    NOT_APPLICABLE = "na"
    PENDING = "pending"

    @classmethod
    def _labels(cls):
        return {
            cls.PASS: _l("Meets (达标)"),
            cls.BASIC: _l("Basically meets (基本达标)"),
            cls.FAIL: _l("Does not meet (不达标)"),
            cls.NOT_APPLICABLE: _l("Not applicable (不适用)"),
            cls.PENDING: _l("To be assessed (待评估)"),
        }


class AssessmentKind(LabelledEnum):
    SELF = "self"
    OFFICER = "officer"

    @classmethod
    def _labels(cls):
        return {cls.SELF: _l("Enterprise self-assessment"), cls.OFFICER: _l("Officer pre-assessment")}


class AssessmentOutcome(LabelledEnum):
    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"

    @classmethod
    def _labels(cls):
        return {cls.PASS: _l("Passes"), cls.FAIL: _l("Fails"), cls.INCOMPLETE: _l("Incomplete")}


class StandardVersion(TimestampMixin, db.Model):
    """One version of a certification standard (e.g. the 2026 高级认证企业标准, 公告2026年第34号)."""

    __tablename__ = "standard_versions"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: The instrument that issued it, e.g. 海关总署公告2026年第34号.
    instrument: Mapped[str] = mapped_column(String(200), default="")
    effective_on: Mapped[date | None] = mapped_column()
    tier: Mapped[TargetTier] = mapped_column(enum_type(TargetTier, 20))
    #: Set by an administrator once the items were checked against the official text.
    is_verified: Mapped[bool] = mapped_column(default=False)
    #: Pass-rule settings: {"pass_line": 95, "base": 100, "bonus_per_item": 1, "bonus_cap": 2,
    #: "max_basic": 3, "max_basic_categories": ["internal_control", "trade_security"], "no_fail": true}.
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    #: What is known about the text: its source, what remains unconfirmed.
    note: Mapped[str] = mapped_column(Text, default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    verified_by = relationship("User")
    categories: Mapped[list[StandardCategory]] = relationship(
        back_populates="version",
        cascade="all, delete-orphan",
        order_by="(StandardCategory.sort_order, StandardCategory.id)",
    )
    items: Mapped[list[StandardItem]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="StandardItem.number"
    )

    def __str__(self) -> str:
        return self.title


class StandardCategory(db.Model):
    """内部控制, 财务状况, 守法规范, 贸易安全, 附加标准."""

    __tablename__ = "standard_categories"
    __audit__ = True
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    #: Bonus (附加标准) categories score positive points with a cap instead of deductions.
    is_bonus: Mapped[bool] = mapped_column(default=False)

    version: Mapped[StandardVersion] = relationship(back_populates="categories")
    clauses: Mapped[list[StandardClause]] = relationship(back_populates="category", order_by="StandardClause.number")

    @property
    def display_name(self) -> str:
        return self.name_zh if is_chinese() or not self.name_en else self.name_en


class StandardClause(db.Model):
    """A 条, numbered across the whole standard."""

    __tablename__ = "standard_clauses"
    __audit__ = True
    __table_args__ = (UniqueConstraint("category_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("standard_categories.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    title_zh: Mapped[str] = mapped_column(String(100))
    title_en: Mapped[str] = mapped_column(String(150), default="")

    category: Mapped[StandardCategory] = relationship(back_populates="clauses")


standard_item_business_types = Table(
    "standard_item_business_types",
    db.metadata,
    Column("item_id", ForeignKey("standard_items.id", ondelete="CASCADE"), primary_key=True),
    Column("business_type_id", ForeignKey("business_types.id"), primary_key=True),
)


class StandardItem(db.Model):
    """A 项: one checklist row, numbered across the whole standard."""

    __tablename__ = "standard_items"
    __audit__ = True
    __table_args__ = (UniqueConstraint("version_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id", ondelete="CASCADE"), index=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("standard_clauses.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text, default="")
    guidance: Mapped[str] = mapped_column(Text, default="")
    is_bonus: Mapped[bool] = mapped_column(default=False)
    #: "audit_opinion", "solvency" or "profitability" when the judgement can be computed from figures.
    computed_from: Mapped[str | None] = mapped_column(String(30))

    version: Mapped[StandardVersion] = relationship(back_populates="items")
    clause: Mapped[StandardClause] = relationship()
    #: Empty: the item applies to every enterprise (通用标准); otherwise only to these business types.
    business_types = relationship(
        "BusinessType", secondary=standard_item_business_types, order_by="(BusinessType.sort_order, BusinessType.code)"
    )

    @property
    def display_title(self) -> str:
        return self.title_zh if is_chinese() or not self.title_en else self.title_en

    def __str__(self) -> str:
        return f"({self.number}) {self.title_zh}"


class Assessment(TimestampMixin, db.Model):
    """An enterprise's self-assessment or an officer's pre-assessment under one standard version."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_enterprise_id_kind_assessed_on", "enterprise_id", "kind", "assessed_on"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id"), index=True)
    kind: Mapped[AssessmentKind] = mapped_column(enum_type(AssessmentKind, 10))
    assessed_on: Mapped[date] = mapped_column()
    #: A draft is still being filled in (e.g. started from a visit) and does not count as the latest.
    is_draft: Mapped[bool] = mapped_column(default=False)
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Results of the pass rule, stored when the assessment is saved.
    outcome: Mapped[AssessmentOutcome | None] = mapped_column(enum_type(AssessmentOutcome, 12))
    total: Mapped[int | None] = mapped_column()
    bonus: Mapped[int | None] = mapped_column()
    #: Entered financial statement lines, for the computed items (12-14).
    financials: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")

    enterprise = relationship("Enterprise")
    version: Mapped[StandardVersion] = relationship()
    assessor = relationship("User")
    results: Mapped[list[AssessmentResult]] = relationship(back_populates="assessment", cascade="all, delete-orphan")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.kind.label} {self.assessed_on}"


class AssessmentResult(TimestampMixin, db.Model):
    __tablename__ = "assessment_results"
    __table_args__ = (UniqueConstraint("assessment_id", "item_id"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("standard_items.id"), index=True)
    judgement: Mapped[Judgement] = mapped_column(enum_type(Judgement, 10), default=Judgement.PENDING)
    evidence: Mapped[str] = mapped_column(Text, default="")
    judged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    judged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assessment: Mapped[Assessment] = relationship(back_populates="results")
    item: Mapped[StandardItem] = relationship()
    judged_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int | None:
        return self.assessment.enterprise_id if self.assessment is not None else None
