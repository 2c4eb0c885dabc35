"""A short-lived cache of counts and aggregates in Redis, invalidated by every committed change of what they count.

Counting 100,000 enterprises by stage is the most expensive part of the list page, and it is the same for
every page of the same filters and scope; the statistics pages and the totals of the visit, task, plan and event
lists are in the same case. The data is divided into topics, each with its own data version in Redis:

- ``ENTERPRISES``: the enterprises and what the list filters them by (``WATCHED_TABLES``);
- ``VISITS``, ``PLANS`` (with their cultivation tasks) and ``EVENTS`` (with their invitations and registrations):
  the activity around the enterprises (``ACTIVITY``).

A transaction that writes a topic's tables (a flush of one of its rows, an ORM or Core INSERT/UPDATE/DELETE
statement on one, rows copied in with ``crm.core.bulk``) bumps that topic's version once it has committed, and
only that one. A figure is cached with the versions of the topics it depends on (``cached_counts(...,
topics=...)``: an aggregate over visits scoped by the enterprises' area depends on both), and an entry of other
versions than the current ones is counted again, so a cached figure never outlives the data it was counted from
(a reader that raced the commit stores its result with the old versions, which nobody takes). A request reads
each version once (several topics, and the first entry, in one ``MGET``). Entries also expire after
``TTL_SECONDS``, which bounds the effect of writes made outside the application and of the reference data
(areas, offices, stages) that some figures read.

Every key is named per database (``crm.core.redis.key``), so two databases sharing a Redis database never read
each other's versions or entries.

The cache is used only when Redis is configured (``REDIS_URL``) and, under tests, only when a test enables
``ENTERPRISE_COUNTS_CACHE`` (the suite's rolled-back transactions would otherwise leave counts behind).
When Redis does not answer, the counts are computed as if there were no cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import Select, event
from sqlalchemy.orm import Session

from crm.core import redis
from crm.core.bulk import rows_copied

#: The topics: each has its own data version, bumped by the committed writes of its tables.
ENTERPRISES = "enterprises"
VISITS = "visits"
PLANS = "plans"
EVENTS = "events"
TOPICS = (ENTERPRISES, VISITS, PLANS, EVENTS)
#: Visits, plans with their tasks, and events with their invitations and registrations: the activity around the
#: enterprises, which the statistics pages and the lists of visits, plans, tasks and events count.
ACTIVITY = (VISITS, PLANS, EVENTS)

#: An execution option naming the topics a DML statement changes, where its table's topic would say too much:
#: ``enterprises.last_visit_at`` is kept from the visits, and only what reads the visits depends on it.
DATA_TOPICS_OPTION = "crm_data_topics"

#: The enterprises' version (the key it has always had, within the database's namespace).
VERSION_KEY = "crm:enterprise-counts:version"
TTL_SECONDS = 300
#: Tables whose changes can change a stage count or another value kept per data version (``cached_per_version``:
#: the list's filter options, the saved views; the reports' figures, which read the stage history): the
#: ``ENTERPRISES`` topic.
WATCHED_TABLES = frozenset(
    {
        "enterprises",
        "stage_changes",
        "certifications",
        "enterprise_key_categories",
        "enterprise_business_types",
        "cohorts",
        "cohort_members",
        "saved_views",
    }
)
VISIT_TABLES = frozenset({"visits", "visit_participants", "visit_contacts", "visit_items", "visit_findings"})
PLAN_TABLES = frozenset({"plans", "cultivation_tasks", "cultivation_task_items"})
EVENT_TABLES = frozenset(
    {
        "events",
        "event_organisers",
        "event_topics",
        "event_invitations",
        "event_registrations",
        "event_feedback",
        "event_task_completions",
        # Which events a user sees depends on the organising units' jurisdictions.
        "recommending_units",
    }
)
_TOPICS: dict[str, tuple[str, frozenset[str]]] = {
    ENTERPRISES: (VERSION_KEY, WATCHED_TABLES),
    VISITS: ("crm:visits:version", VISIT_TABLES),
    PLANS: ("crm:plans:version", PLAN_TABLES),
    EVENTS: ("crm:events:version", EVENT_TABLES),
}
#: Where a session keeps the topics its transaction wrote (``session.info``), to bump them after the commit.
_STALE_KEY = "crm_enterprise_counts_stale"
#: Where the request keeps the data versions it read (``g``: {topic: version}), so a page reads each once.
_REQUEST_VERSIONS_KEY = "_crm_data_versions"
_kept_version: list[str | None] = [None]


def _client() -> Any:
    """A Redis client when the cache is on, else None (also for a while after Redis failed to answer)."""
    if not has_app_context() or not current_app.config.get("ENTERPRISE_COUNTS_CACHE", not current_app.testing):
        return None
    return redis.client()


def _failed(exc: Exception) -> None:
    redis.failed(exc, "the stage counts are counted directly")


def version_key(topic: str) -> str:
    """The Redis key of a topic's data version, named per database."""
    return redis.key(_TOPICS[topic][0])


def topics_of_table(table_name: str | None) -> set[str]:
    """The topics whose versions a write to ``table_name`` bumps."""
    return {topic for topic, (_key, tables) in _TOPICS.items() if table_name in tables}


def _request_versions() -> dict[str, str]:
    return g.setdefault(_REQUEST_VERSIONS_KEY, {}) if has_request_context() else {}


def _read(client: Any, topics: tuple[str, ...], entry_key: str | None = None) -> tuple[dict[str, str], Any]:
    """The versions of ``topics`` and the value at ``entry_key``, in one round trip: the versions this request
    has not read yet and the entry come in one ``MGET`` (a ``GET`` of the entry when every version is known)."""
    known = _request_versions()
    missing = [topic for topic in topics if topic not in known]
    keys = [version_key(topic) for topic in missing] + ([entry_key] if entry_key else [])
    values = (client.mget(*keys) if missing else [client.get(entry_key)]) if keys else []
    for topic, raw in zip(missing, values, strict=False):
        known[topic] = (raw or b"0").decode()
    versions = {topic: known[topic] for topic in topics}
    return versions, values[-1] if entry_key else None


def _topics(topics: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(sorted(set(topics)))
    unknown = [topic for topic in chosen if topic not in _TOPICS]
    if unknown or not chosen:
        raise ValueError(f"unknown data topics {unknown or chosen!r}")
    return chosen


def cached_counts(
    parts: dict[str, Any],
    compute: Callable[[], dict[str, Any]],
    *,
    topics: Iterable[str] = (ENTERPRISES,),
    versioned: bool = True,
    ttl: int = TTL_SECONDS,
) -> dict[str, Any]:
    """``compute()``'s counts, from the cache when the same ``parts`` (scope, filters) were counted since the
    last change of the ``topics`` they depend on (the enterprises by default). ``versioned=False`` keeps a figure
    that one change hardly moves (a percentile over a year of history) for ``ttl`` seconds whatever changes.

    A versioned entry holds the data versions it was counted at; the versions the request has not read yet and
    the entry come in one round trip (``MGET``), and the entry counts only if its versions are the current ones."""
    client = _client()
    if client is None:
        return compute()
    topics = _topics(topics)
    digest = hashlib.sha1(json.dumps([parts, topics], sort_keys=True, default=str).encode()).hexdigest()
    if not versioned:
        return _cached_for_ttl(client, redis.key(f"crm:counts:ttl:{digest}"), compute, ttl)
    if _written_in_transaction(topics):  # its own writes, not yet committed, are in no version: count them
        return compute()
    key = redis.key(f"crm:counts:{digest}")
    try:
        versions, hit = _read(client, topics, key)
    except Exception as exc:  # any Redis failure: count directly
        _failed(exc)
        return compute()
    if hit is not None:
        entry = json.loads(hit)
        if entry.get("versions") == versions:
            return entry["counts"]
    counts = compute()
    try:
        client.set(key, json.dumps({"versions": versions, "counts": counts}, default=str), ex=ttl)
    except Exception as exc:  # the counts are right; only caching failed
        _failed(exc)
    return counts


def _written_in_transaction(topics: tuple[str, ...]) -> bool:
    """Whether the session's transaction wrote one of ``topics`` (or holds changes not flushed yet)."""
    from crm.extensions import db

    session = db.session()
    written = session.info.get(_STALE_KEY)
    return bool(written and written.intersection(topics)) or bool(session.new or session.dirty or session.deleted)


def cached_count(stmt: Select, *, topics: Iterable[str]) -> int:
    """How many rows ``stmt`` gives (``count_rows``), cached under its SQL and parameters until a change of the
    ``topics`` its tables belong to: a list's total, whatever its filters, scope, user or day (all of which are
    in the statement)."""
    from crm.core.pagination import count_rows

    if _client() is None:
        return count_rows(stmt)
    parts = {"count": statement_key(stmt.order_by(None))}
    return int(cached_counts(parts, lambda: {"rows": count_rows(stmt)}, topics=topics)["rows"])


def statement_key(stmt: Select) -> dict[str, Any]:
    """A statement's SQL and parameters, for the key of a figure that depends on nothing else than the data."""
    from crm.extensions import db

    compiled = stmt.compile(dialect=db.session.get_bind().dialect)
    return {"sql": compiled.string, "params": compiled.params}


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
        client.set(key, json.dumps(counts, default=str), ex=ttl)
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
    try:
        versions, _entry = _read(client, (ENTERPRISES,))
    except Exception as exc:  # no version, no caching
        _failed(exc)
        return None
    return versions[ENTERPRISES]


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


def bump_versions(topics: Iterable[str]) -> None:
    """Count ``topics`` as changed: a new version each (one round trip)."""
    client = _client()
    if client is None:
        return
    try:
        pipeline = client.pipeline(transaction=False)
        for topic in sorted(set(topics)):
            pipeline.incr(version_key(topic))
        pipeline.execute()
    except Exception as exc:  # entries still expire after TTL_SECONDS
        _failed(exc)


def note_written(session: Session, topics: Iterable[str] = (ENTERPRISES,)) -> None:
    """A write to a topic's tables that the session does not see (``COPY``): bump the topic's version once the
    transaction commits, as for any other write."""
    session.info.setdefault(_STALE_KEY, set()).update(topics)


@rows_copied.connect
def _note_copied(table_name: str, session: Session) -> None:
    topics = topics_of_table(table_name)
    if topics:
        note_written(session, topics)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        statement = state.statement
        if getattr(statement, "is_dml", False):
            topics = state.execution_options.get(DATA_TOPICS_OPTION)
            if topics is None:
                topics = topics_of_table(getattr(getattr(statement, "table", None), "name", None))
            if topics:
                note_written(state.session, topics)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context: Any) -> None:
    found = _topics_flushed(session)
    if found:
        note_written(session, found)


def _topics_flushed(session: Session) -> set[str]:
    from crm.enterprises.models import Enterprise

    found: set[str] = set()
    tables_seen: set[Any] = set()
    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            table_name = "enterprises" if isinstance(obj, Enterprise) else getattr(obj, "__tablename__", None)
            if table_name not in tables_seen:
                tables_seen.add(table_name)
                found |= topics_of_table(table_name)
                if len(found) == len(_TOPICS):
                    return found
    return found


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    topics = session.info.pop(_STALE_KEY, None)
    if topics:
        bump_versions(topics)
        if has_request_context():  # the rest of this request reads the new versions
            known = g.get(_REQUEST_VERSIONS_KEY) or {}
            for topic in topics:
                known.pop(topic, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    # A savepoint rolled back (one check-in of many failed) leaves the transaction's earlier writes to commit.
    if not previous_transaction.nested:
        session.info.pop(_STALE_KEY, None)
