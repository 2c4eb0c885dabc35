"""1+N cohorts (measure 2 of the notice): a lead enterprise ("1") cultivated with its group or supply chain ("N")."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import AuthorMixin, LabelledEnum, TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.extensions import db


class CohortKind(LabelledEnum):
    GROUP = "group"
    SUPPLY_CHAIN = "supply_chain"

    @classmethod
    def _labels(cls):
        return {cls.GROUP: _l("Group cohort"), cls.SUPPLY_CHAIN: _l("Supply-chain cohort")}


class MemberRelation(LabelledEnum):
    """How a member is related to the cohort's lead enterprise."""

    SUBSIDIARY = "subsidiary"
    BRANCH = "branch"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    LOGISTICS = "logistics"
    OTHER = "other"

    @classmethod
    def _labels(cls):
        return {
            cls.SUBSIDIARY: _l("Subsidiary"),
            cls.BRANCH: _l("Branch"),
            cls.SUPPLIER: _l("Supplier"),
            cls.CUSTOMER: _l("Customer"),
            cls.LOGISTICS: _l("Logistics partner"),
            cls.OTHER: _l("Other"),
        }


class ActivityKind(LabelledEnum):
    CREATED = "created"
    MEMBERS_ADDED = "members_added"
    MEMBER_REMOVED = "member_removed"
    JOINT_VISIT = "joint_visit"
    TRAINING = "training"
    PLAN_TEMPLATE = "plan_template"
    TRANSITION = "transition"

    @classmethod
    def _labels(cls):
        return {
            cls.CREATED: _l("Cohort created"),
            cls.MEMBERS_ADDED: _l("Members added"),
            cls.MEMBER_REMOVED: _l("Member removed"),
            cls.JOINT_VISIT: _l("Joint visit planned"),
            cls.TRAINING: _l("Training invitation"),
            cls.PLAN_TEMPLATE: _l("Plan template applied"),
            cls.TRANSITION: _l("Group transition"),
        }


cohort_responsibles = Table(
    "cohort_responsibles",
    db.metadata,
    Column("cohort_id", ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Cohort(TimestampMixin, AuthorMixin, db.Model):
    """A 1+N cohort: one lead enterprise and the members cultivated with it."""

    __tablename__ = "cohorts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CohortKind] = mapped_column(enum_type(CohortKind, 20), default=CohortKind.GROUP)
    #: The "1": the group parent or the supply-chain leader.
    lead_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    #: When the cohort should have its members ready to apply.
    target_date: Mapped[date | None] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, default="")

    lead = relationship("Enterprise", foreign_keys=[lead_enterprise_id])
    responsibles = relationship("User", secondary=cohort_responsibles, order_by="User.id")
    members: Mapped[list[CohortMember]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan", order_by="CohortMember.id"
    )

    @property
    def audit_enterprise_id(self) -> int:
        return self.lead_enterprise_id

    def __str__(self) -> str:
        return self.name


class CohortMember(TimestampMixin, db.Model):
    """One of the "N": an enterprise in a cohort, with its relation to the lead."""

    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "enterprise_id"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    relation: Mapped[MemberRelation] = mapped_column(enum_type(MemberRelation, 12), default=MemberRelation.OTHER)

    cohort: Mapped[Cohort] = relationship(back_populates="members")
    enterprise = relationship("Enterprise")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.cohort_id}/{self.enterprise_id}"


class CohortActivity(db.Model):
    """One entry of a cohort's timeline: a joint action taken for its members, or a change of its membership."""

    __tablename__ = "cohort_activities"
    __table_args__ = (Index("ix_cohort_activities_cohort_id_occurred_at", "cohort_id", "occurred_at"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(enum_type(ActivityKind, 20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: What the action touched, e.g. {"enterprise_ids": [...], "moved": [...], "blocked": {...}, "event_id": 3}.
    data: Mapped[dict | None] = mapped_column(JSON)

    cohort = relationship("Cohort")
    actor = relationship("User")

    def __str__(self) -> str:
        return f"{self.cohort_id}: {self.kind}"
