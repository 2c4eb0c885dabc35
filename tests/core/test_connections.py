"""Pooled PostgreSQL connections are checked on checkout without a round trip, and replaced when the server
closed them."""

import time

import pytest
from sqlalchemy import create_engine, text

from crm.core import connections


class _Socketless:
    def fileno(self) -> int:
        raise OSError("closed")


def test_a_fresh_connection_is_not_pinged():
    assert not connections.needs_ping(_Socketless(), None)


def test_a_connection_idle_too_long_or_without_a_socket_is_pinged():
    now = time.monotonic()
    assert connections.needs_ping(object(), now - connections.PING_AFTER_IDLE_SECONDS - 1, now)
    assert connections.needs_ping(_Socketless(), now, now)


@pytest.fixture
def engine(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not connections.uses_socket_check(url):
        pytest.skip("PostgreSQL only")
    engine = create_engine(url, pool_size=2)
    connections.install(engine)
    pings = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(1) or ping(dbapi_connection)
    yield engine, pings
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_live_connection_is_reused_without_a_ping(engine):
    engine, pings = engine
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first
    assert pings == []


def test_a_connection_the_server_closed_is_replaced(engine, app):
    engine, pings = engine
    first = _backend_pid(engine)
    killer = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=None)
    with killer.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        conn.commit()
    killer.dispose()
    time.sleep(0.1)  # the server's goodbye reaches the idle socket
    second = _backend_pid(engine)  # no error: the pool noticed and connected again
    assert second != first and pings == [1]
    assert _backend_pid(engine) == second and pings == [1]
