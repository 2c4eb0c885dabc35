"""Read side of the audit trail: a record's history, an enterprise's history, and the administrators' search.

Every function returns a ``select()`` newest first; the caller paginates (``crm.core.pagination.paginate`` for
a record's history, ``keyset_page`` for the search, whose offsets would grow with millions of rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select

from crm.core.audit import AuditLog
from crm.core.timeutil import local_midnight
from crm.extensions import db


def record_history(record_type: str, record_id: Any) -> Select:
    """Every audit row about one record (its changes and the events that named it), newest first."""
    return (
        select(AuditLog)
        .where(AuditLog.record_type == record_type, AuditLog.record_id == str(record_id))
        .order_by(AuditLog.id.desc())
    )


def enterprise_history(enterprise_id: int) -> Select:
    """Every audit row about an enterprise and the records that belong to it (contacts, plans, tasks, visits,
    files ...: every audited model with an ``audit_enterprise_id``), newest first."""
    return select(AuditLog).where(AuditLog.enterprise_id == enterprise_id).order_by(AuditLog.id.desc())


@dataclass
class AuditFilters:
    """The search's filters; empty ones do not filter."""

    #: A username (matches the user's rows even after a rename) or an actor label such as "cli:" or "job:".
    user: str = ""
    action: str = ""
    record_type: str = ""
    record_id: str = ""
    enterprise_id: int | None = None
    #: Local calendar days, both included.
    date_from: date | None = None
    date_to: date | None = None
    #: Text in the summary.
    q: str = ""
    #: Filled by ``audit_search`` for display: the user the ``user`` filter matched.
    matched_user_id: int | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, for the export's own audit row and for links."""
        values = {
            "user": self.user,
            "action": self.action,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "enterprise_id": self.enterprise_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


def audit_search(filters: AuditFilters) -> Select:
    """Audit rows matching the filters, newest first."""
    from crm.auth.models import User

    stmt = select(AuditLog)
    user = filters.user.strip()
    if user:
        found = db.session.scalars(select(User.id).where(func.lower(User.username) == user.lower())).first()
        filters.matched_user_id = found
        if found is not None:
            stmt = stmt.where(or_(AuditLog.actor_id == found, AuditLog.actor_label == user))
        else:
            stmt = stmt.where(AuditLog.actor_label.like(_prefix_pattern(user), escape="\\"))
    if filters.action:
        stmt = stmt.where(AuditLog.action == filters.action)
    if filters.record_type:
        stmt = stmt.where(AuditLog.record_type == filters.record_type)
    if filters.record_id:
        stmt = stmt.where(AuditLog.record_id == filters.record_id.strip())
    if filters.enterprise_id is not None:
        stmt = stmt.where(AuditLog.enterprise_id == filters.enterprise_id)
    if filters.date_from is not None:
        stmt = stmt.where(AuditLog.created_at >= local_midnight(filters.date_from))
    if filters.date_to is not None:
        stmt = stmt.where(AuditLog.created_at < local_midnight(date.fromordinal(filters.date_to.toordinal() + 1)))
    if filters.q.strip():
        stmt = stmt.where(AuditLog.summary.like(f"%{_escape_like(filters.q.strip())}%", escape="\\"))
    return stmt.order_by(AuditLog.id.desc())


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_pattern(value: str) -> str:
    return _escape_like(value) + "%"


@dataclass
class KeysetPage:
    """One page of a newest-first list, with the ids that lead to the older and the newer page."""

    items: Sequence[AuditLog]
    per_page: int
    older_than: int | None
    newer_than: int | None


def keyset_page(stmt: Select, *, per_page: int, before: int | None = None, after: int | None = None) -> KeysetPage:
    """A page of ``stmt`` (ordered by ``AuditLog.id`` descending) before or after an id, without OFFSET."""
    if after is not None:
        ascending = stmt.order_by(None).where(AuditLog.id > after).order_by(AuditLog.id.asc()).limit(per_page + 1)
        rows = list(db.session.scalars(ascending))
        has_newer = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        has_older = bool(items) and db.session.scalar(
            stmt.order_by(None).where(AuditLog.id < items[-1].id).with_only_columns(AuditLog.id).limit(1)
        )
    else:
        if before is not None:
            stmt = stmt.where(AuditLog.id < before)
        rows = list(db.session.scalars(stmt.limit(per_page + 1)))
        has_older = len(rows) > per_page
        items = rows[:per_page]
        has_newer = before is not None and bool(items)
    return KeysetPage(
        items=items,
        per_page=per_page,
        older_than=items[-1].id if items and has_older else None,
        newer_than=items[0].id if items and has_newer else None,
    )


def audited_models() -> dict[str, type]:
    """Every model whose changes are audited, by class name (the ``record_type`` of its rows)."""
    models: dict[str, type] = {}
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__audit__", False):
            models[mapper.class_.__name__] = mapper.class_
    return dict(sorted(models.items()))
