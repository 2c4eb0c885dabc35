"""The migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import TestingConfig
from crm import create_app
from crm.extensions import db


def _diff_after_upgrade(url: str, tmp_path) -> list:
    app = create_app(TestingConfig({"DATABASE_URL": url, "CRM_INSTANCE_PATH": str(tmp_path)}))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    return diff


def test_migrations_match_models_on_sqlite(tmp_path):
    assert _diff_after_upgrade(f"sqlite:///{tmp_path}/migrated.sqlite3", tmp_path) == []


def test_migrations_match_models_on_postgresql(postgres, app, tmp_path):
    base = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    name = f"{base.database}_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        assert _diff_after_upgrade(base.set(database=name).render_as_string(hide_password=False), tmp_path) == []
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET summary = 'x'", "DELETE FROM audit_log"])
def test_audit_log_is_append_only(statement):
    from crm.core.audit import record_event

    record_event("test", "a row to protect")
    db.session.flush()
    with pytest.raises(Exception, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))
