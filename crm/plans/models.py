"""一企一策 cultivation plans, their cultivation tasks, and plan templates."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import AuthorMixin, LabelledEnum, TimestampMixin, enum_type
from crm.enterprises.models import TargetTier
from crm.extensions import db


class PlanStatus(LabelledEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"

    @classmethod
    def _labels(cls):
        return {
            cls.DRAFT: _l("Draft"),
            cls.ACTIVE: _l("In force"),
            cls.COMPLETED: _l("Completed"),
            cls.ABANDONED: _l("Abandoned"),
        }


class TaskStatus(LabelledEnum):
    TODO = "todo"
    DOING = "doing"
    DONE = "done"
    BLOCKED = "blocked"

    @classmethod
    def _labels(cls):
        return {cls.TODO: _l("To do"), cls.DOING: _l("In progress"), cls.DONE: _l("Done"), cls.BLOCKED: _l("Blocked")}

    @property
    def is_open(self) -> bool:
        return self is not TaskStatus.DONE


class Plan(TimestampMixin, AuthorMixin, db.Model):
    """The 一企一策培育方案 of an enterprise; at most one is active at a time."""

    __tablename__ = "plans"
    __table_args__ = (
        Index("ix_plans_enterprise_id_status", "enterprise_id", "status"),
        # At most one active plan per enterprise, whatever writes the row.
        Index(
            "uq_plans_enterprise_id_active",
            "enterprise_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    status: Mapped[PlanStatus] = mapped_column(enum_type(PlanStatus, 12), default=PlanStatus.DRAFT)
    goal: Mapped[str] = mapped_column(Text, default="")
    target_tier: Mapped[TargetTier] = mapped_column(enum_type(TargetTier, 20), default=TargetTier.AEO_ADVANCED)
    started_on: Mapped[date | None] = mapped_column()
    #: Indexed with the id in the plan list's order (``ix_plans_target_application_on_id``).
    target_application_on: Mapped[date | None] = mapped_column()
    commerce_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customs_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    #: Tailored measures (free text).
    measures: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[int | None] = mapped_column(ForeignKey("plan_templates.id", ondelete="SET NULL"))

    enterprise = relationship("Enterprise")
    commerce_officer = relationship("User", foreign_keys=[commerce_officer_id])
    customs_officer = relationship("User", foreign_keys=[customs_officer_id])
    contact = relationship("Contact")
    template = relationship("PlanTemplate")
    tasks: Mapped[list[CultivationTask]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="(CultivationTask.due_on, CultivationTask.id)"
    )

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.enterprise_id}: {self.goal[:40]}"


#: The plan list's order: the target application date first (none last), the newest plan first among equals.
Index("ix_plans_target_application_on_id", Plan.target_application_on, Plan.id.desc())


cultivation_task_items = Table(
    "cultivation_task_items",
    db.metadata,
    Column("task_id", ForeignKey("cultivation_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("standard_items.id"), primary_key=True, index=True),
)


class CultivationTask(TimestampMixin, db.Model):
    """One piece of rectification or preparation work on a plan (the domain's "task"; Celery work is a "job")."""

    __tablename__ = "cultivation_tasks"
    __table_args__ = (
        Index("ix_cultivation_tasks_plan_id_status", "plan_id", "status"),
        Index("ix_cultivation_tasks_status_due_on", "status", "due_on"),
        # A person's open tasks by due date (My work's overdue follow-ups), without the done ones.
        Index(
            "ix_cultivation_tasks_owner_id_due_on_id_open",
            "owner_id",
            "due_on",
            "id",
            sqlite_where=text("status != 'done'"),
            postgresql_where=text("status != 'done'"),
        ),
        # The task list's order (due first, then id), for every task and for the open ones (the default list, with
        # the enterprise for the scope): its pages, far down too, read the index instead of sorting the tasks.
        Index("ix_cultivation_tasks_due_on_id", "due_on", "id"),
        Index(
            "ix_cultivation_tasks_open_due_on_id",
            "due_on",
            "id",
            "enterprise_id",
            sqlite_where=text("status != 'done'"),
            postgresql_where=text("status != 'done'"),
        ),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    #: Denormalised from the plan so scope filters and reminders need no join.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The owner is a user, or a contact of the enterprise.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[date | None] = mapped_column()
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus, 10), default=TaskStatus.TODO)
    completed_on: Mapped[date | None] = mapped_column()
    completion_note: Mapped[str] = mapped_column(Text, default="")
    #: The template task this came from; its date moves with the plan's target date while unfinished.
    template_task_id: Mapped[int | None] = mapped_column(ForeignKey("plan_template_tasks.id", ondelete="SET NULL"))
    #: Where the task came from, e.g. {"kind": "visit", "id": 12} or {"kind": "event", "id": 3}.
    source_kind: Mapped[str | None] = mapped_column(String(20))
    source_id: Mapped[int | None] = mapped_column()

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    owner = relationship("User")
    owner_contact = relationship("Contact")
    items = relationship(
        "StandardItem", secondary=cultivation_task_items, order_by="(StandardItem.number, StandardItem.id)"
    )
    template_task = relationship("PlanTemplateTask")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.title


class PlanTemplate(TimestampMixin, db.Model):
    __tablename__ = "plan_templates"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    tasks: Mapped[list[PlanTemplateTask]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        order_by="(PlanTemplateTask.sort_order, PlanTemplateTask.id)",
    )

    def __str__(self) -> str:
        return self.name


class OffsetAnchor(LabelledEnum):
    START = "start"
    TARGET = "target"

    @classmethod
    def _labels(cls):
        return {cls.START: _l("Days after the plan starts"), cls.TARGET: _l("Days before the target date")}


class PlanTemplateTask(db.Model):
    __tablename__ = "plan_template_tasks"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("plan_templates.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    anchor: Mapped[OffsetAnchor] = mapped_column(enum_type(OffsetAnchor, 10), default=OffsetAnchor.START)
    offset_days: Mapped[int] = mapped_column(default=0)
    sort_order: Mapped[int] = mapped_column(default=0)
    #: Numbers of the standard items (项) the task addresses, resolved against the plan's standard version.
    item_numbers: Mapped[list] = mapped_column(JSON, default=list)

    template: Mapped[PlanTemplate] = relationship(back_populates="tasks")

    def __str__(self) -> str:
        return self.title
