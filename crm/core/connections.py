"""Pooled PostgreSQL connections are checked before each use without a round trip to the server.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout, one extra round trip per request. A server
that closes a connection (a restart, an idle timeout, ``pg_terminate_backend``) tells the client first: the
socket of the idle connection then has something to read (the error, then the end of the stream). So a
connection is pinged only when its socket is readable or when it has been idle for ``PING_AFTER_IDLE_SECONDS``
(the case of a network device that dropped it silently and answers the next packet with a reset). A failed ping
discards it and every connection older than it, and the pool connects again, as with ``pool_pre_ping``.
"""

from __future__ import annotations

import logging
import select
import time
import weakref
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError

logger = logging.getLogger(__name__)

#: A connection idle for longer than this is pinged before use, whatever its socket says.
PING_AFTER_IDLE_SECONDS = 10.0
_RETURNED_AT = "crm_returned_at"
_installed: weakref.WeakSet[Engine] = weakref.WeakSet()


def uses_socket_check(database_uri: str) -> bool:
    """True for the databases this module checks (PostgreSQL through psycopg); the others keep ``pool_pre_ping``."""
    return database_uri.startswith("postgresql+psycopg")


def init_app(app: Flask) -> None:
    if not uses_socket_check(app.config["SQLALCHEMY_DATABASE_URI"]):
        return
    from crm.extensions import db

    with app.app_context():
        install(db.engine)


def install(engine: Engine) -> None:
    """Check ``engine``'s connections on checkout (once per engine)."""
    if engine in _installed:
        return
    _installed.add(engine)
    dialect = engine.dialect

    def check_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if not needs_ping(dbapi_connection, record.info.pop(_RETURNED_AT, None)):
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure to answer means the connection is gone
            logger.info("A pooled database connection was closed by the server, connecting again: %s", exc)
            raise InvalidatePoolError(str(exc)) from exc
        if not alive:
            raise InvalidatePoolError("the database connection did not answer")

    event.listen(engine, "checkin", _note_return)
    event.listen(engine, "checkout", check_on_checkout)


def _note_return(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_RETURNED_AT] = time.monotonic()


def needs_ping(dbapi_connection: Any, returned_at: float | None, now: float | None = None) -> bool:
    """Whether a pooled connection must be pinged: idle too long, or the server sent something while it was idle."""
    if returned_at is None:  # connected for this checkout: nothing to check
        return False
    if (time.monotonic() if now is None else now) - returned_at > PING_AFTER_IDLE_SECONDS:
        return True
    try:
        poller = select.poll()  # not select.select: it refuses descriptors past 1023
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(poller.poll(0))  # data, the end of the stream, a hang-up or an error
    except Exception:  # closed, no socket any more: the ping fails and the pool connects again
        return True
