"""Shared fixtures: the app (schema once per session), one rolled-back transaction per test, factories.

The database is ``DATABASE_URL`` when set (its name must contain "test": the suite drops every table) and a
SQLite file in a temporary folder otherwise. Reference data is seeded once per session; each test runs in a
transaction that is rolled back, so tests never see each other's rows. Views may commit: a commit only
releases a savepoint of the outer transaction.

Requests made with the test client share the test's app context and therefore its session. Factories
commit (release their savepoint) so that a view that rolls back never discards the test's own setup.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import TestingConfig
from crm import create_app
from crm.core.permissions import Role
from crm.extensions import db, limiter

TEST_PASSWORD = "Gulangyu-Wuyi-2048!"


def require_services() -> bool:
    return os.environ.get("CRM_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def missing_service(reason: str) -> None:
    """Skip a test for a missing service, or fail it when CRM_REQUIRE_SERVICES=1 (as in CI)."""
    if require_services():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _test_database_url(tmp_dir: str) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{tmp_dir}/test.sqlite3"
    name = make_url(url.replace("postgres://", "postgresql://", 1)).database or ""
    if "test" not in name:
        raise pytest.UsageError(
            f"DATABASE_URL points at database {name!r}; the suite drops every table, so its name must contain 'test'"
        )
    return url


@pytest.fixture(scope="session")
def app_environ(tmp_path_factory) -> dict[str, str]:
    tmp_dir = tmp_path_factory.mktemp("crm")
    environ = {
        "DATABASE_URL": _test_database_url(str(tmp_dir)),
        "CRM_INSTANCE_PATH": str(tmp_dir / "instance"),
        "CRM_FILE_STORE": str(tmp_dir / "files"),
    }
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    return environ


@pytest.fixture(scope="session")
def app(app_environ) -> Iterator[Flask]:
    app = create_app(TestingConfig(app_environ))
    with app.app_context():
        _reset_schema()
        from crm.reference.services import seed_reference

        seed_reference()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _reset_schema() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()


@pytest.fixture(autouse=True)
def _db_transaction(request, app) -> Iterator[None]:
    """Run each test inside a transaction that is rolled back afterwards."""
    if "real_db" in request.fixturenames:
        with app.app_context():
            yield
        return
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        original_session = db.session
        engines[None] = connection
        db.session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        limiter.reset()
        try:
            yield
        finally:
            db.session.remove()
            db.session = original_session
            engines[None] = engine
            if transaction.is_active:
                transaction.rollback()
            connection.close()


@pytest.fixture
def real_db(app) -> Iterator[None]:
    """For tests that need real commits seen by other connections (concurrency, subprocesses).

    Every table is emptied afterwards and the reference data seeded again.
    """
    limiter.reset()
    yield
    db.session.remove()
    with db.engine.begin() as conn:
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(
                text(
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                )
            )
    from crm.reference.services import seed_reference

    seed_reference()
    db.session.commit()


# --- services -------------------------------------------------------------------------------------------


@pytest.fixture
def postgres(app) -> None:
    """Require the suite to be running on PostgreSQL."""
    if db.engine.dialect.name != "postgresql":
        missing_service("PostgreSQL: set DATABASE_URL to a PostgreSQL test database")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        missing_service("Redis: set REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # any failure to reach it means the service is missing
        missing_service(f"Redis at {url} does not answer: {exc}")
    return url


# --- clients and logins ---------------------------------------------------------------------------------


class CrmClient(FlaskClient):
    """A test client that can log in directly and send forms with a valid CSRF token."""

    def login(self, user) -> CrmClient:
        with self.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
            session["_seen"] = datetime.now(UTC).timestamp()
        return self

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.get("csrf_token")
            if raw is None:
                raw = secrets.token_hex(20)
                session["csrf_token"] = raw
        serializer = URLSafeTimedSerializer(self.application.config["SECRET_KEY"], salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture
def client(app) -> CrmClient:
    app.test_client_class = CrmClient
    return app.test_client()


_sequence = itertools.count(1)


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """``make_user(role="bureau", areas=["350500"])`` creates a user; password is ``TEST_PASSWORD``."""
    from crm.auth.services import create_user

    def factory(role: str | Role = Role.ADMIN, *, username: str | None = None, areas=(), offices=(), **kwargs):
        n = next(_sequence)
        user = create_user(
            username or f"{Role(role).value}{n}",
            role=role,
            password=kwargs.pop("password", TEST_PASSWORD),
            display_name=kwargs.pop("display_name", f"测试用户{n}"),
            email=kwargs.pop("email", f"user{n}@example.test"),
            area_codes=list(areas),
            office_codes=list(offices),
            **kwargs,
        )
        db.session.commit()
        return user

    return factory


@pytest.fixture
def make_enterprise() -> Callable[..., Any]:
    """``make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")`` creates a valid enterprise."""
    from crm.demo.names import uscc_for
    from crm.enterprises.identifiers import name_key
    from crm.enterprises.models import Enterprise
    from crm.reference.models import Area, CustomsOffice

    def factory(*, area: str = "350100", office: str | None = "fz-mawei", name: str | None = None, **values):
        n = next(_sequence)
        area_row = db.session.scalars(db.select(Area).where(Area.code == area)).one()
        office_row = (
            db.session.scalars(db.select(CustomsOffice).where(CustomsOffice.code == office)).one() if office else None
        )
        name = name or f"测试{n}号进出口有限公司"
        values.setdefault("uscc", uscc_for(900_000 + n, area[:4] + "02"))
        enterprise = Enterprise(name=name, name_key=name_key(name), area=area_row, office=office_row, **values)
        db.session.add(enterprise)
        db.session.commit()
        return enterprise

    return factory


@pytest.fixture
def api_token() -> Callable[[Any], dict[str, str]]:
    """``headers = api_token(user)``: Authorization headers with a fresh token for the user."""
    from crm.auth.services import create_token

    def factory(user) -> dict[str, str]:
        _token, plain = create_token(user, "tests")
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return factory


def extract_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


# --- per-process caches and statements ------------------------------------------------------------------------


@pytest.fixture
def reference_cache(app):
    """The per-process reference cache as in production (the suite turns it off by default)."""
    from crm.reference import cache

    app.config["REFERENCE_CACHE"] = True
    cache.clear()
    cache._state["checked"] = 0.0  # as in a new process: the first lookup reads the version in Redis
    yield cache
    app.config.pop("REFERENCE_CACHE")
    cache.clear()


@pytest.fixture
def counts_cache(app, redis_url):
    """The Redis cache of counts and aggregates (``crm.enterprises.counts_cache``) as in production, every topic at a
    version no earlier run used."""
    from crm.enterprises import counts_cache as cache

    previous = app.config.get("REDIS_URL")
    app.config.update(REDIS_URL=redis_url, ENTERPRISE_COUNTS_CACHE=True)
    with app.app_context():
        cache.bump_versions(cache.TOPICS)
    yield cache
    app.config.pop("ENTERPRISE_COUNTS_CACHE")
    app.config["REDIS_URL"] = previous


@pytest.fixture
def statements(app):
    """The SQL statements the test runs from here on (a list, clear it between steps)."""
    from sqlalchemy import event

    seen: list[str] = []

    def note(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(db.engine, "before_cursor_execute", note)
