"""Backups: ``flask crm backup`` then ``flask crm restore`` into an empty database finds every row of every
table and every stored file, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from config import TestingConfig
from crm import create_app
from crm.core.audit import AuditAction
from crm.core.backup import BackupError, create_backup, read_manifest, restore_backup
from crm.extensions import db
from tests.security.world import build_world


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, read through the app's engine."""
    rows = {}
    with app.app_context(), db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return rows


def files_of(store: Path) -> dict[str, bytes]:
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def without_restore_events(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    from crm.core.audit import AuditLog

    action = list(AuditLog.__table__.columns).index(AuditLog.__table__.c.action)
    rows = dict(rows)
    rows["audit_log"] = [row for row in rows["audit_log"] if row[action] != AuditAction.RESTORE]
    return rows


def sqlite_app(tmp_path: Path, name: str, *, schema: bool):
    folder = tmp_path / name
    environ = {
        "DATABASE_URL": f"sqlite:///{folder}/crm.sqlite3",
        "CRM_INSTANCE_PATH": str(folder / "instance"),
        "CRM_FILE_STORE": str(folder / "files"),
    }
    if os.environ.get("REDIS_URL"):
        # Keep the shared rate limiter on the suite's storage (each app initialises the one limiter).
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    app = create_app(TestingConfig(environ))
    if schema:
        with app.app_context():
            db.create_all()
            from crm.reference.services import seed_reference

            seed_reference()
            db.session.commit()
    return app


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def source_sqlite(tmp_path, real_db):
    """A SQLite database (not the suite's) holding a row in every table and a stored file."""
    app = sqlite_app(tmp_path, "source", schema=True)
    with app.app_context():
        build_world()
    yield app
    dispose(app)


def test_sqlite_backup_and_restore_into_an_empty_database_finds_every_row(source_sqlite, tmp_path):
    # The CLI runs in the current app context (the suite's): push the source app's.
    with source_sqlite.app_context():
        result = source_sqlite.test_cli_runner().invoke(args=["crm", "backup", "--output", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    archive = next((tmp_path / "backups").glob("crm-backup-*.tar.gz"))
    before = snapshot(source_sqlite)
    with source_sqlite.app_context():
        source_files = files_of(Path(source_sqlite.config["CRM_FILE_STORE"]))
    assert source_files, "the world stores a file"
    manifest = read_manifest(archive)
    assert manifest["dialect"] == "sqlite"
    assert manifest["tables"] == {name: len(rows) for name, rows in before.items()}
    assert manifest["files"]["count"] == len(source_files)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "database.sqlite3"} <= names

    target = sqlite_app(tmp_path, "target", schema=False)
    try:
        with target.app_context():
            result = target.test_cli_runner().invoke(args=["crm", "restore", str(archive)])
        assert result.exit_code == 0, result.output
        after = snapshot(target)
        assert without_restore_events(after) == before
        with target.app_context():
            assert files_of(Path(target.config["CRM_FILE_STORE"])) == source_files
        restore_rows = [row for row in after["audit_log"] if AuditAction.RESTORE in row]
        assert len(restore_rows) == 1 and "cli:restore" in restore_rows[0]
        backup_rows = [row for row in before["audit_log"] if AuditAction.BACKUP in row]
        assert len(backup_rows) == 1 and "cli:backup" in backup_rows[0]
    finally:
        dispose(target)


def test_restore_refuses_a_database_that_is_not_empty_unless_told_to_replace_it(source_sqlite, tmp_path):
    with source_sqlite.app_context():
        archive = create_backup(tmp_path / "backups").path
    occupied = sqlite_app(tmp_path, "occupied", schema=True)
    try:
        with occupied.app_context():
            with pytest.raises(BackupError, match="not empty"):
                restore_backup(archive)
            restore_backup(archive, replace=True)
        assert without_restore_events(snapshot(occupied)) == snapshot(source_sqlite)
    finally:
        dispose(occupied)


def test_a_damaged_or_foreign_archive_is_refused(source_sqlite, tmp_path):
    with source_sqlite.app_context():
        archive = create_backup(tmp_path / "backups").path
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as original, tarfile.open(tampered, "w:gz") as copy:
        for member in original.getmembers():
            data = original.extractfile(member).read()
            if member.name == "database.sqlite3":
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    target = sqlite_app(tmp_path, "target", schema=False)
    try:
        with target.app_context():
            with pytest.raises(BackupError, match="damaged"):
                restore_backup(tampered)
            foreign = tmp_path / "foreign.tar.gz"
            with tarfile.open(foreign, "w:gz") as tar:
                tar.add(__file__, arcname="manifest.json")
            with pytest.raises(BackupError, match="not a CRM backup"):
                restore_backup(foreign)
    finally:
        dispose(target)


def test_a_manifest_lists_every_table_and_file_with_checksums(source_sqlite, tmp_path):
    with source_sqlite.app_context():
        result = create_backup(tmp_path / "out.tar.gz")
    assert result.path == tmp_path / "out.tar.gz"
    manifest = result.manifest
    assert set(manifest["tables"]) == {t.name for t in db.metadata.sorted_tables}
    assert all(name in manifest["sha256"] for name in ["database.sqlite3"])
    assert sum(1 for name in manifest["sha256"] if name.startswith("files/")) == manifest["files"]["count"]
    with tarfile.open(result.path) as tar:
        assert json.loads(tar.extractfile("manifest.json").read()) == manifest


@pytest.mark.postgres
def test_postgresql_backup_and_restore_into_a_fresh_database_finds_every_row(postgres, app, real_db, tmp_path):
    build_world()
    archive = create_backup(tmp_path / "backups").path
    before = snapshot(app)
    source_files = files_of(Path(app.config["CRM_FILE_STORE"]))
    manifest = read_manifest(archive)
    assert manifest["dialect"] == "postgresql"
    assert manifest["tables"] == {name: len(rows) for name, rows in before.items()}

    base = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    scratch = f"{base.database}_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{scratch}"'))
    environ = {
        "DATABASE_URL": base.set(database=scratch).render_as_string(hide_password=False),
        "CRM_INSTANCE_PATH": str(tmp_path / "target"),
        "CRM_FILE_STORE": str(tmp_path / "target" / "files"),
    }
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    target = create_app(TestingConfig(environ))
    try:
        with target.app_context():
            restore_backup(archive)
            assert files_of(Path(target.config["CRM_FILE_STORE"])) == source_files
        assert without_restore_events(snapshot(target)) == before
        # The append-only trigger came back with the data.
        with target.app_context(), pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log"))
    finally:
        dispose(target)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
