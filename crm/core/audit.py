"""The audit trail: who changed what, when, from where.

Every flush is inspected: each created, changed or deleted row of an audited model (``__audit__ = True``)
becomes one ``AuditLog`` row with the changed fields and their old and new values. Events that are not
row changes (logins, failed logins, exports, token use) are recorded with ``record_event``.

Exports and imports are recorded with ``record_export`` and ``record_import`` (one line in the feature's
view or job).

The actor is the logged-in user of the request, or the job or CLI command named with ``acting_as``: every
``flask crm`` command runs as ``cli:<command>`` (``crm.core.cli.AuditedGroup``) and every Celery job as
``job:<name>`` (``crm.core.jobs``), so nothing is recorded as an anonymous "system" change.
The table is append-only for the application: a trigger refuses UPDATE and DELETE on both databases.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import DDL, JSON, BigInteger, Index, String, event, insert, inspect
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column
from sqlalchemy.orm.attributes import NO_VALUE

from crm.core.models import CREATE_PG_TRGM, UTCDateTime, json_value, utcnow
from crm.extensions import db

logger = logging.getLogger(__name__)


class AuditAction:
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    EXPORT = "export"
    TOKEN_USE = "token_use"
    IMPORT = "import"
    MERGE = "merge"
    BACKUP = "backup"
    RESTORE = "restore"

    @classmethod
    def values(cls) -> list[str]:
        return [value for name, value in vars(cls).items() if name.isupper() and isinstance(value, str)]


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    # Lists are newest first, (created_at, id) descending (crm.audit.queries.NEWEST_FIRST): each filter's index
    # ends with those columns, so a page, however deep and whatever the filter, reads its rows in order.
    __table_args__ = (
        Index("ix_audit_log_created_at_id", "created_at", "id"),
        Index("ix_audit_log_action_created_at_id", "action", "created_at", "id"),
        Index("ix_audit_log_actor_id_created_at_id", "actor_id", "created_at", "id"),
        Index("ix_audit_log_enterprise_id_created_at_id", "enterprise_id", "created_at", "id"),
        Index("ix_audit_log_record_created_at_id", "record_type", "record_id", "created_at", "id"),
        # The user filter: a label ("cli:" matches by prefix, hence the pattern operators on PostgreSQL) and
        # whether someone else's rows carry a username.
        Index(
            "ix_audit_log_actor_label_actor_id",
            "actor_label",
            "actor_id",
            postgresql_ops={"actor_label": "varchar_pattern_ops"},
        ),
        # "Summary contains" (LIKE '%...%') on PostgreSQL; SQLite scans.
        Index(
            "ix_audit_log_summary_trgm",
            "summary",
            postgresql_using="gin",
            postgresql_ops={"summary": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The user who acted; NULL for jobs and CLI commands (see actor_label).
    actor_id: Mapped[int | None] = mapped_column()
    #: A username, or "cli:<command>" / "job:<name>" / "system".
    actor_label: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(30))
    record_type: Mapped[str | None] = mapped_column(String(60))
    record_id: Mapped[str | None] = mapped_column(String(60))
    #: The enterprise the record belongs to, for its history tab; not a foreign key so history survives.
    enterprise_id: Mapped[int | None] = mapped_column()
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: {field: [old, new]} for row changes; free-form details for events.
    changes: Mapped[dict | None] = mapped_column(JSON)


# The summary's trigram index; create_all makes this table before the enterprises, which ask for it too.
event.listen(AuditLog.__table__, "before_create", CREATE_PG_TRGM)

# Append-only: the application may insert, never update or delete.
for _dialect, _statements in {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
}.items():
    for _statement in _statements:
        event.listen(AuditLog.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    ip: str | None = None


_actor: ContextVar[Actor | None] = ContextVar("crm_audit_actor", default=None)


@contextmanager
def acting_as(label: str, user: Any = None) -> Iterator[Actor]:
    """Attribute every change inside the block to a job or CLI command (optionally on a user's behalf)."""
    actor = Actor(user_id=getattr(user, "id", None), label=label if user is None else f"{label}:{user.username}")
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def push_actor(label: str, user: Any = None) -> Token:
    """Start acting as a job or command until ``pop_actor`` (for hooks that cannot use a ``with`` block)."""
    return _actor.set(
        Actor(user_id=getattr(user, "id", None), label=label if user is None else f"{label}:{user.username}")
    )


def pop_actor(token: Token) -> None:
    _actor.reset(token)


def current_actor() -> Actor:
    actor = _actor.get()
    if actor is not None:
        return actor
    if has_request_context():
        from flask_login import current_user

        ip = request.remote_addr
        if getattr(current_user, "is_authenticated", False):
            return Actor(user_id=current_user.id, label=current_user.username, ip=ip)
        return Actor(user_id=None, label="anonymous", ip=ip)
    return Actor(user_id=None, label="system")


def record_event(
    action: str,
    summary: str = "",
    *,
    record: Any = None,
    record_type: str | None = None,
    record_id: Any = None,
    enterprise_id: int | None = None,
    details: dict | None = None,
    actor: Actor | None = None,
) -> None:
    """Append an audit row for something that is not a row change (login, export, token use ...)."""
    actor = actor or current_actor()
    if record is not None:
        record_type = record_type or type(record).__name__
        record_id = record_id if record_id is not None else getattr(record, "id", None)
        enterprise_id = enterprise_id if enterprise_id is not None else _enterprise_id_of(record)
    db.session.execute(
        insert(AuditLog).values(
            created_at=utcnow(),
            actor_id=actor.user_id,
            actor_label=actor.label[:120],
            ip=actor.ip,
            action=action,
            record_type=record_type,
            record_id=None if record_id is None else str(record_id),
            enterprise_id=enterprise_id,
            summary=summary[:500],
            changes=json_value(details) if details else None,
        )
    )


def record_export(
    kind: str,
    filters: Mapping[str, Any] | None,
    row_count: int,
    *,
    file_format: str | None = None,
    enterprise_id: int | None = None,
) -> None:
    """Record that someone downloaded ``row_count`` rows of ``kind`` (e.g. "enterprises") with these filters.

    Call it in the view (or job) that produces the file, in the transaction it commits; ``filters`` are the
    query arguments that chose the rows (empty values are dropped)."""
    kept = {key: json_value(value) for key, value in (filters or {}).items() if value not in (None, "", [], ())}
    record_event(
        AuditAction.EXPORT,
        f"{kind}: {row_count}" + (f" ({file_format})" if file_format else ""),
        record_type=kind,
        enterprise_id=enterprise_id,
        details={"kind": kind, "filters": kept, "rows": row_count, "format": file_format},
    )


def record_import(
    kind: str,
    row_count: int,
    *,
    filename: str | None = None,
    created: int = 0,
    updated: int = 0,
    failed: int = 0,
    record: Any = None,
) -> None:
    """Record an import of ``row_count`` rows of ``kind`` from ``filename``, with what became of them.

    The rows it creates or changes are audited one by one anyway; this says where they came from. ``record``
    is the import batch row, when the feature keeps one."""
    record_event(
        AuditAction.IMPORT,
        f"{kind}: {row_count}" + (f" ({filename})" if filename else ""),
        record=record,
        record_type=None if record is not None else kind,
        details={
            "kind": kind,
            "filename": filename,
            "rows": row_count,
            "created": created,
            "updated": updated,
            "failed": failed,
        },
    )


def _enterprise_id_of(obj: Any) -> int | None:
    try:
        return getattr(obj, "audit_enterprise_id", None)
    except Exception:  # a detached or half-built object must not break the flush
        return None


def _primary_key(obj: Any) -> str | None:
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    if any(value is None for value in values):
        return None
    return ",".join(str(value) for value in values)


@event.listens_for(Mapper, "mapper_configured")
def _load_old_values_before_change(mapper: Mapper, class_: type) -> None:
    """Audited columns keep their old value when set without having been loaded, so diffs show old → new."""
    if getattr(class_, "__audit__", False):
        for column_attr in mapper.column_attrs:
            mapper.class_manager[column_attr.key].impl.active_history = True


def _describe(obj: Any) -> str:
    try:
        return str(obj)[:500]
    except Exception:
        return type(obj).__name__


def _related_key(obj: Any) -> Any:
    return getattr(obj, "code", None) or getattr(obj, "id", None) or _describe(obj)


def _diff(obj: Any, action: str) -> dict[str, Any]:
    """Changed fields as {name: [old, new]}; collections as {name: {"added": [...], "removed": [...]}}."""
    state = inspect(obj)
    mapper = state.mapper
    excluded = set(getattr(obj, "__audit_exclude__", ()))
    masked = set(getattr(obj, "__audit_mask__", ()))
    changes: dict[str, Any] = {}
    for column_attr in mapper.column_attrs:
        key = column_attr.key
        if key in excluded or key in ("created_at", "updated_at"):
            continue
        history = state.attrs[key].history
        if action == AuditAction.CREATE:
            value = state.attrs[key].loaded_value
            if value is NO_VALUE or value is None:
                continue
            changes[key] = [None, "***" if key in masked else json_value(value)]
        elif action == AuditAction.DELETE:
            value = state.attrs[key].loaded_value
            if value is NO_VALUE or value is None:
                continue
            changes[key] = ["***" if key in masked else json_value(value), None]
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
            changes[key] = ["***", "***"] if key in masked else [json_value(old), json_value(new)]
    if action != AuditAction.DELETE:
        for rel in mapper.relationships:
            if not rel.uselist or rel.key in excluded or rel.viewonly:
                continue
            history = state.attrs[rel.key].history
            if history.added or history.deleted:
                changes[rel.key] = {
                    "added": [json_value(_related_key(o)) for o in history.added],
                    "removed": [json_value(_related_key(o)) for o in history.deleted],
                }
    return changes


@event.listens_for(Session, "after_flush")
def _audit_after_flush(session: Session, flush_context: Any) -> None:
    """Compute each audited row change's diff while the flush still knows the old values; the rows are
    written once the flush has run (``_write_audit_rows``), when relationships of new rows can be loaded."""
    if session.info.get("audit_disabled"):
        return
    rows = []
    actor = current_actor()
    now = utcnow()
    for action, objects in (
        (AuditAction.CREATE, session.new),
        (AuditAction.UPDATE, session.dirty),
        (AuditAction.DELETE, session.deleted),
    ):
        for obj in objects:
            if not getattr(type(obj), "__audit__", False):
                continue
            if action == AuditAction.UPDATE and not session.is_modified(obj, include_collections=True):
                continue
            changes = _diff(obj, action)
            if action == AuditAction.UPDATE and not changes:
                continue
            rows.append(
                {
                    "created_at": now,
                    "actor_id": actor.user_id,
                    "actor_label": actor.label[:120],
                    "ip": actor.ip,
                    "action": action,
                    "record_type": type(obj).__name__,
                    "record_id": _primary_key(obj),
                    "enterprise_id": _enterprise_id_of(obj),
                    "summary": _describe(obj),
                    "changes": changes,
                    "_object": obj,
                }
            )
    if rows:
        session.info.setdefault(_PENDING_ROWS_KEY, []).extend(rows)


_PENDING_ROWS_KEY = "crm_audit_rows"


@event.listens_for(Session, "after_flush_postexec")
def _write_audit_rows(session: Session, flush_context: Any) -> None:
    """Insert the rows ``_audit_after_flush`` prepared. A new row's enterprise that is reached through a
    relationship (``audit_enterprise_id`` returning ``self.assessment.enterprise_id``) is known only now."""
    rows = session.info.pop(_PENDING_ROWS_KEY, None)
    if not rows:
        return
    for row in rows:
        obj = row.pop("_object")
        if row["enterprise_id"] is None and hasattr(type(obj), "audit_enterprise_id"):
            row["enterprise_id"] = _enterprise_id_of(obj)
        if row["action"] == AuditAction.CREATE and row["record_id"] is None:
            row["record_id"] = _primary_key(obj)
    session.connection().execute(insert(AuditLog), rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_audit_rows(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING_ROWS_KEY, None)


@contextmanager
def audit_disabled(session: Session | None = None) -> Iterator[None]:
    """Skip row-change auditing inside the block: only for bulk demo seeding, which records one event."""
    session = session or db.session()
    previous = session.info.get("audit_disabled")
    session.info["audit_disabled"] = True
    try:
        yield
    finally:
        session.info["audit_disabled"] = previous
