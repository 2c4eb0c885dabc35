"""Pipeline stages as data, the history of every stage change, and what follows certification."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.i18n import is_chinese
from crm.core.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.enterprises.models import TargetTier
from crm.extensions import db
from crm.reference.models import ReferenceMixin


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
    __table_args__ = (
        Index("ix_stage_changes_enterprise_id_changed_at", "enterprise_id", "changed_at"),
        # The dashboard's monthly entries, applications and certifications.
        Index("ix_stage_changes_to_stage_changed_at", "to_stage", "changed_at"),
        # The moves of a period; on PostgreSQL the reports' conversions and days in stage read them from the index
        # alone.
        Index(
            "ix_stage_changes_changed_at",
            "changed_at",
            postgresql_include=["enterprise_id", "from_stage", "to_stage", "from_stage_entered_at"],
        ),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    #: NULL for the entry into the first stage.
    from_stage: Mapped[str | None] = mapped_column(ForeignKey("stages.code"))
    to_stage: Mapped[str] = mapped_column(ForeignKey("stages.code"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the enterprise entered ``from_stage``: the ``changed_at`` of its previous stage change (NULL for its
    #: first). Kept so the days spent in a stage are read from one row, without ordering the whole history.
    from_stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
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


class TransitionReason(ReferenceMixin, db.Model):
    """An administrator-editable reason for moving an enterprise into ``withdrawn`` or ``not_passed``."""

    __tablename__ = "transition_reasons"

    #: The stage this reason is offered for (``withdrawn`` or ``not_passed``).
    stage_code: Mapped[str] = mapped_column(ForeignKey("stages.code"), index=True)

    stage = relationship("Stage")


class CertificationOutcome(LabelledEnum):
    CERTIFIED = "certified"
    NOT_PASSED = "not_passed"
    WITHDRAWN = "withdrawn"

    @classmethod
    def _labels(cls):
        return {
            cls.CERTIFIED: _l("Certified"),
            cls.NOT_PASSED: _l("Not passed"),
            cls.WITHDRAWN: _l("Withdrawn from cultivation"),
        }


class LockoutCause(LabelledEnum):
    """Why an enterprise may not apply again for a year (Order 251 practice, see the domain brief 1.3)."""

    NOT_PASSED = "not_passed"
    WITHDRAWN = "withdrawn"
    DOWNGRADED = "downgraded"
    UPGRADED = "upgraded"

    @classmethod
    def _labels(cls):
        return {
            cls.NOT_PASSED: _l("Failed certification or re-verification"),
            cls.WITHDRAWN: _l("Withdrew the application or gave up the status"),
            cls.DOWNGRADED: _l("Credit downgrade"),
            cls.UPGRADED: _l("Upgraded from discredited"),
        }


class Certification(TimestampMixin, db.Model):
    """The enterprise's current AEO application, certificate and deadlines: one row per enterprise.

    Dates are columns so reminders and list filters can query them; the stage history keeps what each
    move recorded, so starting a new application may overwrite the previous one's dates here.
    """

    __tablename__ = "certifications"
    __audit__ = True

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    applied_on: Mapped[date | None] = mapped_column()
    accepted_on: Mapped[date | None] = mapped_column()
    #: When customs extended the decision deadline by 30 days; NULL when not extended.
    extended_on: Mapped[date | None] = mapped_column()
    extension_note: Mapped[str] = mapped_column(Text, default="")
    #: accepted_on + 90 days, or + 120 with the extension.
    decision_due_on: Mapped[date | None] = mapped_column(index=True)
    decided_on: Mapped[date | None] = mapped_column()
    outcome: Mapped[CertificationOutcome | None] = mapped_column(enum_type(CertificationOutcome, 12))
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("transition_reasons.id"), index=True)
    #: The certificate or decision number.
    certificate_no: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[TargetTier | None] = mapped_column(enum_type(TargetTier, 20))
    #: The customs district that decided.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("customs_offices.id"), index=True)
    #: The re-verification cycle runs from here: the certification decision, then each passed re-verification.
    cycle_start_on: Mapped[date | None] = mapped_column(index=True)
    last_reverified_on: Mapped[date | None] = mapped_column()
    #: Earliest date the enterprise may apply again (one year after a failure, withdrawal or downgrade).
    reapply_on: Mapped[date | None] = mapped_column(index=True)
    lockout_cause: Mapped[LockoutCause | None] = mapped_column(enum_type(LockoutCause, 12))

    enterprise = relationship("Enterprise")
    office = relationship("CustomsOffice")
    reason = relationship("TransitionReason")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    @property
    def is_extended(self) -> bool:
        return self.extended_on is not None

    def __str__(self) -> str:
        return self.certificate_no or f"{self.enterprise_id}"


class ComplianceYear(TimestampMixin, db.Model):
    """A certified enterprise's yearly obligations: the internal audit and the audited report due by 30 June."""

    __tablename__ = "compliance_years"
    __table_args__ = (UniqueConstraint("enterprise_id", "year"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column()
    internal_audit_done: Mapped[bool] = mapped_column(default=False)
    internal_audit_on: Mapped[date | None] = mapped_column()
    #: The previous year's audited financial report, sent to customs by 30 June of ``year``.
    report_submitted: Mapped[bool] = mapped_column(default=False)
    report_submitted_on: Mapped[date | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    recorded_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.year}"


class BenefitRecord(TimestampMixin, db.Model):
    """One use of a support measure of the notice (measures 4-24) by a certified enterprise."""

    __tablename__ = "benefit_records"
    __table_args__ = (Index("ix_benefit_records_enterprise_id_used_on", "enterprise_id", "used_on"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("support_measures.id"), index=True)
    used_on: Mapped[date] = mapped_column()
    #: A figure that shows the benefit, e.g. 2 (working days for an export tax refund) or 50 (万元 of support).
    figure: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    unit: Mapped[str] = mapped_column(String(30), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    measure = relationship("SupportMeasure")
    recorded_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.measure_id} {self.used_on}"
