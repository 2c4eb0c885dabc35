"""Read side of the audit trail: a record's history, an enterprise's history, and the administrators' search.

Every function returns a ``select()`` newest first (``NEWEST_FIRST``); the caller paginates
(``crm.core.pagination.paginate`` for a record's history, ``keyset_page`` for the search, whose offsets would grow
with millions of rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, tuple_

from crm.core.audit import AuditLog
from crm.core.timeutil import local_midnight
from crm.extensions import db

#: Newest first, everywhere in the trail: by time, then by id among the rows one flush wrote (they share their
#: ``created_at``). Each filter's index ends with (created_at, id), so a page reads its rows in this order: the
#: ids alone would leave a date filter nothing to range over.
NEWEST_FIRST = (AuditLog.created_at.desc(), AuditLog.id.desc())
_OLDEST_FIRST = (AuditLog.created_at.asc(), AuditLog.id.asc())
#: A row's place in that order.
_POSITION = tuple_(AuditLog.created_at, AuditLog.id)


def record_history(record_type: str, record_id: Any) -> Select:
    """Every audit row about one record (its changes and the events that named it), newest first."""
    return (
        select(AuditLog)
        .where(AuditLog.record_type == record_type, AuditLog.record_id == str(record_id))
        .order_by(*NEWEST_FIRST)
    )


def enterprise_history(enterprise_id: int) -> Select:
    """Every audit row about an enterprise and the records that belong to it (contacts, plans, tasks, visits,
    files ...: every audited model with an ``audit_enterprise_id``), newest first."""
    return select(AuditLog).where(AuditLog.enterprise_id == enterprise_id).order_by(*NEWEST_FIRST)


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
    """Audit rows matching the filters, newest first.

    Each filter has an index ending with (created_at, id) that gives its rows in order. The summary text goes
    through a trigram index on PostgreSQL, whose cost grows with the number of matching rows (1 to 10 ms for
    typical text at 3 million rows); text in most rows is read newest first instead. The costly case is text
    that is common but only in old rows: 75 to 350 ms at 3 million rows, with neither the index nor the order to
    narrow it."""
    from crm.auth.models import User

    stmt = select(AuditLog)
    user = filters.user.strip()
    if user:
        found = db.session.scalars(select(User.id).where(func.lower(User.username) == user.lower())).first()
        filters.matched_user_id = found
        if found is not None and _labelled_for_others(user, found):
            stmt = stmt.where(or_(AuditLog.actor_id == found, AuditLog.actor_label == user))
        elif found is not None:
            stmt = stmt.where(AuditLog.actor_id == found)
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
    return stmt.order_by(*NEWEST_FIRST)


def _labelled_for_others(label: str, user_id: int) -> bool:
    """Whether rows carry ``label`` without being user ``user_id``'s (failed logins under a name nobody had yet,
    another user's from before a rename). Usually none: the user's filter is then ``actor_id`` alone, which its
    index reads newest first; ``actor_id = ... OR actor_label = ...`` has no such index."""
    labelled = select(AuditLog.id).where(AuditLog.actor_label == label)
    probes = (
        labelled.where(AuditLog.actor_id.is_(None)),
        labelled.where(AuditLog.actor_id < user_id),
        labelled.where(AuditLog.actor_id > user_id),
    )
    return bool(db.session.scalar(select(or_(*(probe.exists() for probe in probes)))))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_pattern(value: str) -> str:
    return _escape_like(value) + "%"


Position = tuple[datetime, int]


def older_than(stmt: Select, position: Position) -> Select:
    """The rows of ``stmt`` that come after ``position`` (a row's created_at and id) in newest-first order."""
    return stmt.where(_POSITION < position)


def newer_than(stmt: Select, position: Position) -> Select:
    """The rows of ``stmt`` that come before ``position`` in newest-first order."""
    return stmt.where(_POSITION > position)


def position_of(row: Any) -> Position:
    """A row's place in newest-first order (an ``AuditLog`` or a result row with ``created_at`` and ``id``)."""
    return (row.created_at, row.id)


def link_position(entry_id: int, *, newer: bool = False) -> Position | None:
    """The place of entry ``entry_id`` (a page link's ``before`` or ``after``) in newest-first order.

    Links name an entry by id. Should that id not exist, the nearest entry on the side the link looks at (the
    greatest id below it for ``before``, the least above it for ``after``) gives the time, paired with the id
    asked for; None when there is no such entry (nothing lies beyond it)."""
    found = select(AuditLog.created_at)
    if newer:
        found = found.where(AuditLog.id >= entry_id).order_by(AuditLog.id.asc())
    else:
        found = found.where(AuditLog.id <= entry_id).order_by(AuditLog.id.desc())
    created_at = db.session.scalar(found.limit(1))
    return None if created_at is None else (created_at, entry_id)


@dataclass
class KeysetPage:
    """One page of a newest-first list, with the ids that lead to the older and the newer page."""

    items: Sequence[AuditLog]
    per_page: int
    older_than: int | None
    newer_than: int | None


def keyset_page(stmt: Select, *, per_page: int, before: int | None = None, after: int | None = None) -> KeysetPage:
    """A page of ``stmt`` (ordered ``NEWEST_FIRST``) older than entry ``before`` or newer than entry ``after``,
    without OFFSET. The links carry entry ids; the page continues from that entry's (created_at, id)."""
    if after is not None:
        anchor = link_position(after, newer=True)
        rows = []
        if anchor is not None:
            ascending = newer_than(stmt.order_by(None), anchor).order_by(*_OLDEST_FIRST).limit(per_page + 1)
            rows = list(db.session.scalars(ascending))
        has_newer = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        has_older = bool(items) and _exists(older_than(stmt, position_of(items[-1])))
    else:
        anchor = None if before is None else link_position(before)
        if anchor is not None:
            stmt = older_than(stmt, anchor)
        # A "before" with no entry at or below it: nothing is older.
        rows = [] if before is not None and anchor is None else list(db.session.scalars(stmt.limit(per_page + 1)))
        has_older = len(rows) > per_page
        items = rows[:per_page]
        has_newer = before is not None and bool(items)
    return KeysetPage(
        items=items,
        per_page=per_page,
        older_than=items[-1].id if items and has_older else None,
        newer_than=items[0].id if items and has_newer else None,
    )


def _exists(stmt: Select) -> bool:
    return db.session.scalar(stmt.with_only_columns(AuditLog.id).limit(1)) is not None


def audited_models() -> dict[str, type]:
    """Every model whose changes are audited, by class name (the ``record_type`` of its rows)."""
    models: dict[str, type] = {}
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__audit__", False):
            models[mapper.class_.__name__] = mapper.class_
    return dict(sorted(models.items()))
