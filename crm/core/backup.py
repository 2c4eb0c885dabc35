"""Backups: the database and the file store in one archive with a manifest, and their restoration.

An archive (``crm-backup-<time>.tar.gz``) holds:
- ``manifest.json``: when, which database kind, the schema revision, the row count of every table, and the
  SHA-256 of every member;
- ``database.pgdump`` (PostgreSQL, ``pg_dump --format=custom``) or ``database.sqlite3`` (SQLite, copied with
  SQLite's online backup API, so the application can keep running);
- ``files/...``: the attachment store (``CRM_FILE_STORE``).

On PostgreSQL the row counts are taken in the very snapshot ``pg_dump`` reads (``pg_export_snapshot``), so a
restore can check that it found every row even when the backup ran while people were working.

A restore goes into an empty database (or replaces the current one with ``replace=True``), puts the files
back (moving any current ones aside), checks every table's row count against the manifest, and records itself
in the restored audit trail.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.engine import URL, make_url

from crm.core.audit import AuditAction, record_event
from crm.core.models import utcnow
from crm.core.timeutil import to_local
from crm.extensions import db

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_MEMBER = "database.pgdump"
SQLITE_MEMBER = "database.sqlite3"
FILES_PREFIX = "files/"


class BackupError(RuntimeError):
    """A backup or restore that cannot be carried out; the message says why."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


# --- backup ----------------------------------------------------------------------------------------------


def create_backup(destination: Path | str | None = None) -> BackupResult:
    """Write a backup archive of the configured database and file store; returns its path and manifest.

    ``destination`` is a directory (the archive is named after the time) or a file path ending in .tar.gz;
    by default ``<instance>/backups/``."""
    created_at = utcnow()
    path = _archive_path(destination, created_at)
    dialect = db.engine.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {dialect}.")
    # The backup is itself a disclosure of every record: it goes into the trail (and into the backup).
    record_event(AuditAction.BACKUP, path.name, details={"archive": path.name})
    db.session.commit()

    with tempfile.TemporaryDirectory(prefix="crm-backup-") as work:
        work_dir = Path(work)
        if dialect == "postgresql":
            database_member = PG_MEMBER
            counts = _dump_postgresql(work_dir / PG_MEMBER)
        else:
            database_member = SQLITE_MEMBER
            counts = _copy_sqlite(work_dir / SQLITE_MEMBER)
        files = list(_stored_files())
        manifest = {
            "format": FORMAT_VERSION,
            "application": "aeo-cultivation-crm",
            "created_at": created_at.isoformat(),
            "dialect": dialect,
            "database": database_member,
            "schema_revision": _schema_revision(),
            "tables": counts,
            "files": {"count": len(files), "bytes": sum(f.stat().st_size for f in files)},
            "sha256": {database_member: _sha256(work_dir / database_member)},
        }
        tmp_path = path.with_name(path.name + ".part")
        with tarfile.open(tmp_path, "w:gz", compresslevel=1) as archive:
            archive.add(work_dir / database_member, arcname=database_member)
            root = _file_store()
            for file in files:
                relative = file.relative_to(root).as_posix()
                manifest["sha256"][FILES_PREFIX + relative] = _sha256(file)
                archive.add(file, arcname=FILES_PREFIX + relative, recursive=False)
            data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(created_at.timestamp())
            archive.addfile(info, io.BytesIO(data))
        os.replace(tmp_path, path)
    logger.info("Backup written to %s (%s rows, %s files)", path, sum(counts.values()), len(files))
    return BackupResult(path=path, manifest=manifest)


def _archive_path(destination: Path | str | None, created_at) -> Path:
    name = f"crm-backup-{to_local(created_at).strftime('%Y%m%d-%H%M%S')}.tar.gz"
    if destination is None:
        target = Path(current_app.instance_path) / "backups" / name
    else:
        target = Path(destination)
        if target.is_dir() or not target.name.endswith((".tar.gz", ".tgz")):
            target = target / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} already exists.")
    return target


def _table_counts(connection: Connection) -> dict[str, int]:
    """Row counts of every table of the application (the ORM metadata), through SQLAlchemy."""
    existing = set(inspect(connection).get_table_names())
    counts = {}
    for table in db.metadata.sorted_tables:
        if table.name in existing:
            counts[table.name] = connection.scalar(select(func.count()).select_from(table)) or 0
    return counts


def _dump_postgresql(target: Path) -> dict[str, int]:
    """pg_dump in custom format, reading the same snapshot the row counts were taken in."""
    pg_dump = _tool("pg_dump")
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.scalar(select(func.pg_export_snapshot()))
            counts = _table_counts(connection)
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                    f"--dbname={_libpq_uri(db.engine.url)}",
                ],
                db.engine.url,
            )
    return counts


def _copy_sqlite(target: Path) -> dict[str, int]:
    source_path = _sqlite_path(db.engine.url)
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            return _table_counts(connection)
    finally:
        engine.dispose()


def _schema_revision() -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _file_store() -> Path:
    return Path(current_app.config["CRM_FILE_STORE"])


def _stored_files() -> Iterator[Path]:
    root = _file_store()
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(".part"):
            yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- restore ---------------------------------------------------------------------------------------------


def read_manifest(archive_path: Path | str) -> dict[str, Any]:
    """The manifest of an archive (checks that it is one of ours)."""
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise BackupError(f"{archive_path} is not a CRM backup archive: {exc}") from None
    if manifest.get("application") != "aeo-cultivation-crm" or manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{archive_path} is not a CRM backup archive of format {FORMAT_VERSION}.")
    return manifest


def restore_backup(archive_path: Path | str, *, replace: bool = False) -> dict[str, Any]:
    """Restore an archive into the configured database and file store; returns the manifest.

    Refuses a database that already has tables (or a file store with files) unless ``replace``; then the
    database's tables are replaced and the current files moved aside to ``<store>.before-restore-<time>``.
    """
    archive_path = Path(archive_path)
    manifest = read_manifest(archive_path)
    dialect = db.engine.dialect.name
    if manifest["dialect"] != dialect:
        raise BackupError(f"The archive holds a {manifest['dialect']} database; the configured database is {dialect}.")
    db.session.remove()
    with db.engine.connect() as connection:
        existing = [name for name in inspect(connection).get_table_names() if name != "alembic_version"]
        has_version = "alembic_version" in inspect(connection).get_table_names()
    if (existing or has_version) and not replace:
        raise BackupError("The database is not empty; restore into an empty database or pass --replace.")
    store = _file_store()
    if store.is_dir() and any(p.is_file() for p in store.rglob("*")) and not replace:
        raise BackupError(f"The file store {store} is not empty; pass --replace to move its files aside.")

    with tempfile.TemporaryDirectory(prefix="crm-restore-") as work:
        work_dir = Path(work)
        _extract(archive_path, work_dir, manifest)
        db.engine.dispose()
        if dialect == "postgresql":
            _restore_postgresql(work_dir / PG_MEMBER, clean=bool(existing or has_version))
        else:
            _restore_sqlite(work_dir / SQLITE_MEMBER)
        db.engine.dispose()
        _restore_files(work_dir / "files", store)

    with db.engine.connect() as connection:
        counts = _table_counts(connection)
    missing = {
        table: (expected, counts.get(table))
        for table, expected in manifest["tables"].items()
        if counts.get(table) != expected
    }
    if missing:
        raise BackupError(f"The restored database differs from the backup (table: expected, found): {missing}")
    record_event(
        AuditAction.RESTORE,
        archive_path.name,
        details={"archive": archive_path.name, "backup_created_at": manifest["created_at"]},
    )
    db.session.commit()
    return manifest


def _extract(archive_path: Path, work_dir: Path, manifest: dict[str, Any]) -> None:
    """Extract safely (no absolute paths, no links, nothing outside the folder) and check every checksum."""
    with tarfile.open(archive_path, "r:*") as archive:
        archive.extractall(work_dir, filter="data")
    expected = manifest.get("sha256", {})
    for name, digest in expected.items():
        path = work_dir / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} in the archive is missing or damaged (checksum mismatch).")


def _restore_postgresql(dump: Path, *, clean: bool) -> None:
    pg_restore = _tool("pg_restore")
    command = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        command += ["--clean", "--if-exists"]
    command += [f"--dbname={_libpq_uri(db.engine.url)}", str(dump)]
    _run(command, db.engine.url)


def _restore_sqlite(copy_path: Path) -> None:
    target_path = _sqlite_path(db.engine.url)
    Path(target_path).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy_path)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _restore_files(extracted: Path, store: Path) -> None:
    if store.is_dir() and any(store.iterdir()):
        aside = store.with_name(f"{store.name}.before-restore-{to_local(utcnow()).strftime('%Y%m%d-%H%M%S')}")
        store.rename(aside)
        logger.warning("Moved the current file store aside to %s", aside)
    store.mkdir(parents=True, exist_ok=True)
    if not extracted.is_dir():
        return
    for path in sorted(extracted.rglob("*")):
        if path.is_file():
            target = store / path.relative_to(extracted)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


# --- helpers ---------------------------------------------------------------------------------------------


@contextmanager
def _pg_environment(url: URL) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    yield env


def _libpq_uri(url: URL) -> str:
    """The database URL for libpq tools, without the driver name and without the password (given by
    environment, never on the command line where other users could read it)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> str:
    database = make_url(str(url)).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return database


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found; install the PostgreSQL client (apt install postgresql-client).")
    return path


def _run(command: list[str], url: URL) -> None:
    with _pg_environment(url) as env:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")
