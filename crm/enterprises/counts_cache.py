"""A short-lived cache of the list's stage counts in Redis, invalidated by every committed change.

Counting 100,000 enterprises by stage is the most expensive part of the list page, and it is the same for
every page of the same filters and scope. The counts are kept in Redis with the data version they were
counted at; any transaction that writes the enterprises (or their categories and business types) bumps the
version once it has committed, and an entry of another version than the current one is counted again, so a
cached count never outlives the data it was counted from (a reader that raced the commit stores its result
with the old version, which nobody takes). Entries also expire after ``TTL_SECONDS``, which bounds the effect
of writes made outside the application.

The cache is used only when Redis is configured (``REDIS_URL``) and, under tests, only when a test enables
``ENTERPRISE_COUNTS_CACHE`` (the suite's rolled-back transactions would otherwise leave counts behind).
When Redis does not answer, the counts are computed as if there were no cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from crm.core import redis
from crm.core.bulk import rows_copied

VERSION_KEY = "crm:enterprise-counts:version"
TTL_SECONDS = 300
#: Tables whose changes can change a stage count or another value kept per data version (``cached_per_version``:
#: the list's filter options, the saved views; the reports' figures, which read the stage history).
WATCHED_TABLES = frozenset(
    {
        "enterprises",
        "stage_changes",
        "enterprise_key_categories",
        "enterprise_business_types",
        "cohorts",
        "cohort_members",
        "saved_views",
    }
)
_STALE_KEY = "crm_enterprise_counts_stale"
#: Where the request keeps the data version it read (``g``), so a page reads it from Redis once.
_REQUEST_VERSION_KEY = "_crm_data_version"
_kept_version: list[str | None] = [None]


def _client() -> Any:
    """A Redis client when the cache is on, else None (also for a while after Redis failed to answer)."""
    if not has_app_context() or not current_app.config.get("ENTERPRISE_COUNTS_CACHE", not current_app.testing):
        return None
    return redis.client()


def _failed(exc: Exception) -> None:
    redis.failed(exc, "the stage counts are counted directly")


def cached_counts(
    parts: dict[str, Any],
    compute: Callable[[], dict[str, Any]],
    *,
    versioned: bool = True,
    ttl: int = TTL_SECONDS,
) -> dict[str, Any]:
    """``compute()``'s counts, from the cache when the same ``parts`` (scope, filters) were counted since the
    last change. ``versioned=False`` keeps a figure that one change hardly moves (a percentile over a year of
    history) for ``ttl`` seconds whatever changes.

    A versioned entry holds the data version it was counted at; when the request has not read the version yet,
    the version and the entry come in one round trip (``MGET``), and the entry counts only if its version is the
    current one."""
    client = _client()
    if client is None:
        return compute()
    digest = hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    if not versioned:
        return _cached_for_ttl(client, f"crm:enterprise-counts:ttl:{digest}", compute, ttl)
    key = f"crm:enterprise-counts:{digest}"
    known = has_request_context() and _REQUEST_VERSION_KEY in g
    try:
        if known:
            version, hit = g.get(_REQUEST_VERSION_KEY), client.get(key)
        else:
            raw_version, hit = client.mget(VERSION_KEY, key)
            version = (raw_version or b"0").decode()
            if has_request_context():
                setattr(g, _REQUEST_VERSION_KEY, version)
    except Exception as exc:  # any Redis failure: count directly
        _failed(exc)
        return compute()
    if version is None:
        return compute()
    if hit is not None:
        entry = json.loads(hit)
        if entry.get("version") == version:
            return entry["counts"]
    counts = compute()
    try:
        client.set(key, json.dumps({"version": version, "counts": counts}), ex=ttl)
    except Exception as exc:  # the counts are right; only caching failed
        _failed(exc)
    return counts


def _cached_for_ttl(client: Any, key: str, compute: Callable[[], dict[str, Any]], ttl: int) -> dict[str, Any]:
    try:
        hit = client.get(key)
    except Exception as exc:  # any Redis failure: count directly
        _failed(exc)
        return compute()
    if hit is not None:
        return json.loads(hit)
    counts = compute()
    try:
        client.set(key, json.dumps(counts), ex=ttl)
    except Exception as exc:  # the counts are right; only caching failed
        _failed(exc)
    return counts


def data_version() -> str | None:
    """The version of the enterprise data (bumped by every committed change of ``WATCHED_TABLES``), read from
    Redis once per request; None when there is no cache (no Redis, tests, Redis down): then nothing that
    depends on the data may be cached."""
    client = _client()
    if client is None:
        return None
    if has_request_context() and _REQUEST_VERSION_KEY in g:
        return g.get(_REQUEST_VERSION_KEY)
    try:
        version = (client.get(VERSION_KEY) or b"0").decode()
    except Exception as exc:  # no version, no caching
        _failed(exc)
        version = None
    if has_request_context():
        setattr(g, _REQUEST_VERSION_KEY, version)
    return version


def cached_per_version(key: Any, load: Callable[[], Any]) -> Any:
    """``load()``'s value kept in this process until the enterprise data changes (``data_version``) or the
    reference data changes (``crm.reference.cache``): for what is cheap to keep and costly to rebuild per request,
    such as the list's filter options or the cohorts' priority flags."""
    version = data_version()
    if version is None:
        return load()
    from crm.reference.cache import cached, drop

    if _kept_version[0] != version:  # values of older versions are of no use any more
        _kept_version[0] = version
        drop(lambda k: not (isinstance(k, tuple) and k[:1] == ("data",) and k[1] != version))
    return cached(("data", version, key), load)


def bump_version() -> None:
    client = _client()
    if client is None:
        return
    try:
        client.incr(VERSION_KEY)
    except Exception as exc:  # entries still expire after TTL_SECONDS
        _failed(exc)


def note_written(session: Session) -> None:
    """A write to a watched table that the session does not see (``COPY``): bump the version once the
    transaction commits, as for any other write."""
    session.info[_STALE_KEY] = True


@rows_copied.connect
def _note_copied(table_name: str, session: Session) -> None:
    if table_name in WATCHED_TABLES:
        note_written(session)


def _touches_watched(statement: Any) -> bool:
    table = getattr(statement, "table", None)
    return bool(getattr(statement, "is_dml", False)) and getattr(table, "name", None) in WATCHED_TABLES


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _touches_watched(state.statement):
        state.session.info[_STALE_KEY] = True


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context: Any) -> None:
    from crm.enterprises.models import Enterprise

    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            if isinstance(obj, Enterprise) or getattr(obj, "__tablename__", None) in WATCHED_TABLES:
                session.info[_STALE_KEY] = True
                return


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    if session.info.pop(_STALE_KEY, False):
        bump_version()
        if has_request_context():  # the rest of this request reads the new version
            g.pop(_REQUEST_VERSION_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_STALE_KEY, None)
