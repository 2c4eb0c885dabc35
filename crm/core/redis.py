"""The Redis client of the per-process caches (the stage counts' and the reference data's), one per URL, and a
pause after a failure: when Redis does not answer, ``client()`` says there is none for ``PAUSE_SECONDS``, so the
caches work as if it were absent instead of each request waiting on a dead server.

The caches' keys are named per database (``key``): two databases whose applications share a Redis database
(a test database and a benchmark copy, staging and production) never read each other's versions or entries."""

from __future__ import annotations

import hashlib
import logging
import time
from functools import lru_cache
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

#: How long Redis counts as absent after it failed to answer.
PAUSE_SECONDS = 30
#: Connecting and answering each get this long (seconds): a cache must not slow a page down much when Redis hangs.
TIMEOUT_SECONDS = 0.2

_clients: dict[str, Any] = {}
_down_until: dict[str, float] = {}


def client() -> Any | None:
    """The client of ``REDIS_URL``; None without an app, without ``REDIS_URL`` or for a while after a failure."""
    if not has_app_context():
        return None
    url = current_app.config.get("REDIS_URL")
    if not url or _down_until.get(url, 0.0) > time.monotonic():
        return None
    found = _clients.get(url)
    if found is None:
        import redis

        found = _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
    return found


def key(name: str) -> str:
    """``name`` ("crm:thing:...") in the namespace of the application's database: "crm:<namespace>:thing:..."."""
    namespace = database_namespace()
    return f"crm:{namespace}:{name.removeprefix('crm:')}"


def database_namespace() -> str:
    """A short name of the application's database: a hash of its backend, host, port and name."""
    return _namespace_of(str(current_app.config.get("SQLALCHEMY_DATABASE_URI") or ""))


@lru_cache(maxsize=16)
def _namespace_of(database_uri: str) -> str:
    try:
        url = make_url(database_uri)
    except Exception:  # not a URL SQLAlchemy reads: the whole string names the database
        identity = database_uri
    else:
        identity = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return hashlib.sha1(identity.encode()).hexdigest()[:10]


def failed(exc: Exception, consequence: str) -> None:
    """Note that Redis did not answer: ``client()`` returns None for ``PAUSE_SECONDS``. ``consequence`` says
    what the caller does meanwhile, for the log ("counting directly")."""
    url = current_app.config.get("REDIS_URL") if has_app_context() else None
    if url:
        _down_until[url] = time.monotonic() + PAUSE_SECONDS
    logger.warning("Redis did not answer, %s for %d s: %s", consequence, PAUSE_SECONDS, exc)


def reset() -> None:
    """Forget every pause (tests)."""
    _down_until.clear()
