"""Reference rows kept per process: areas, customs offices, stages, key categories, business types, the active
officers, and each user's scope. Every list and detail page needs them, and they change a few times a year.

The rows are plain snapshots (``RefRow``, ``OfficerRow``), never ORM instances, so they outlive the request's
session. They are dropped:

- at once in the process that writes one of ``WATCHED_TABLES`` (a flush of such a row, or an UPDATE/DELETE
  statement on the table), and again after that transaction commits or rolls back;
- in every other process within ``CHECK_SECONDS``: a commit that wrote one of them bumps a version in Redis,
  which each process reads at most once per ``CHECK_SECONDS``;
- after ``TTL_SECONDS`` in any case (which bounds writes made outside the application, and runs without Redis).

Under tests the cache is off unless a test sets ``REFERENCE_CACHE`` (the suite's rolled-back transactions
would otherwise leave rows behind); it is then read straight from the database, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from crm.core import redis
from crm.core.i18n import is_chinese

#: The version's key, within the database's namespace (``version_key``).
VERSION_KEY = "crm:reference:version"
TTL_SECONDS = 300
CHECK_SECONDS = 2.0
#: At most this many entries per process; past it the oldest go first.
MAX_ENTRIES = 2_000
#: Tables whose rows are cached here (users and their areas and offices: the officers and the scopes).
WATCHED_TABLES = frozenset(
    {
        "areas",
        "customs_offices",
        "office_areas",
        "stages",
        "key_categories",
        "business_types",
        "transition_reasons",
        "standard_versions",
        "standard_categories",
        "standard_clauses",
        "standard_items",
        "standard_item_business_types",
        "settings",
        "users",
        "user_areas",
        "user_offices",
    }
)
_STALE_KEY = "crm_reference_stale"

_lock = threading.Lock()
_entries: dict[Any, tuple[float, Any]] = {}
_state = {"version": None, "checked": 0.0}


class RefRow:
    """A snapshot of a reference row (every column), with the model's ``display_name``."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    @property
    def display_name(self) -> str:
        name_en = self.__dict__.get("name_en")
        return self.name_zh if is_chinese() or not name_en else name_en

    def __str__(self) -> str:
        return self.name_zh

    def __repr__(self) -> str:
        return f"<RefRow {self.__dict__.get('code') or self.__dict__.get('id')}>"


class OfficerRow:
    """A snapshot of a user for filters and rows: id, display name, role."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    @property
    def role_enum(self) -> Any:
        from crm.core.permissions import Role

        return Role(self.role)

    def __str__(self) -> str:
        return self.display_name


def snapshot(obj: Any, cls: type = RefRow) -> Any:
    """Every column attribute of an ORM instance, copied into ``cls``."""
    mapper = inspect(obj).mapper
    return cls({attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs})


def enabled() -> bool:
    if not has_app_context():
        return False
    return bool(current_app.config.get("REFERENCE_CACHE", not current_app.testing))


def version_key() -> str:
    """The Redis key of the reference data's version, named per database (``crm.core.redis.key``)."""
    return redis.key(VERSION_KEY)


def _check_version(now: float) -> None:
    """Drop everything when another process committed a change (read from Redis at most every few seconds)."""
    if now - _state["checked"] < CHECK_SECONDS:
        return
    _state["checked"] = now
    client = redis.client()
    if client is None:
        return
    try:
        version = int(client.get(version_key()) or 0)
    except Exception as exc:  # entries still expire after TTL_SECONDS
        redis.failed(exc, "reference rows are kept until they expire")
        return
    if version != _state["version"]:
        _entries.clear()
        _state["version"] = version


def cached(key: Any, load: Callable[[], Any]) -> Any:
    """``load()``'s value, kept per process until a change of the reference tables (or ``TTL_SECONDS``)."""
    if not enabled():
        return load()
    now = time.monotonic()
    with _lock:
        _check_version(now)
        entry = _entries.get(key)
    if entry is not None and now - entry[0] < TTL_SECONDS:
        return entry[1]
    value = load()
    with _lock:
        _entries.pop(key, None)
        _entries[key] = (now, value)
        if len(_entries) > MAX_ENTRIES:
            for old in list(_entries)[: MAX_ENTRIES // 4]:
                del _entries[old]
    return value


def drop(keep: Callable[[Any], bool]) -> None:
    """Forget the entries whose key ``keep(key)`` rejects (e.g. values of an older data version)."""
    with _lock:
        for key in [key for key in _entries if not keep(key)]:
            del _entries[key]


def clear() -> None:
    with _lock:
        _entries.clear()


def _bump_version() -> None:
    if not enabled():
        return
    client = redis.client()
    if client is None:
        return
    try:
        version = client.incr(version_key())
    except Exception as exc:  # other processes drop their entries after TTL_SECONDS
        redis.failed(exc, "other processes keep their reference rows until they expire")
        return
    with _lock:
        # This process dropped its entries when it committed. When the version it knew is the one just before,
        # no other process changed anything since: it takes the new version as known, instead of dropping its
        # entries a second time (those loaded since the commit) at its next check.
        if _state["version"] == version - 1:
            _state["version"] = version


def _mark_stale(session: Session) -> None:
    session.info[_STALE_KEY] = True
    clear()


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED_TABLES:
            _mark_stale(state.session)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context: Any) -> None:
    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            if getattr(obj, "__tablename__", None) in WATCHED_TABLES:
                _mark_stale(session)
                return


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_STALE_KEY, False):
        clear()
        _bump_version()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if session.info.pop(_STALE_KEY, False):
        clear()


def user_names() -> dict[int, str]:
    """{user id: the name pages show for that user (display name, else username)} for every user, kept per
    process like the other reference rows (``users`` is watched): record authors and officers without a query."""

    def load() -> dict[int, str]:
        from sqlalchemy import select

        from crm.auth.models import User
        from crm.extensions import db

        rows = db.session.execute(select(User.id, User.display_name, User.username))
        return {user_id: display_name or username for user_id, display_name, username in rows}

    return cached(("users", "names"), load)
