"""The app as users get it: gunicorn on loopback with its own freshly seeded database.

The server never shares the suite's database: with a PostgreSQL ``DATABASE_URL`` it gets a database of its
own named ``<name>_browser`` (dropped and created anew at each run), otherwise a SQLite file in the run's
temporary folder. Jobs run in-process in the server (no ``REDIS_URL``), so a started export finishes
without a worker.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


class ServerError(RuntimeError):
    """The server did not start or stopped answering; the message ends with its log."""


@dataclass
class LiveServer:
    url: str
    #: What tests/browser/seed.py recorded: logins, enterprises in and out of each user's scope, ...
    facts: dict[str, Any]
    database_url: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def browser_database_url(suite_url: str | None, workdir: Path) -> str:
    """``<name>_browser`` beside a PostgreSQL suite database, else a SQLite file in ``workdir``."""
    if suite_url and suite_url.startswith(("postgres://", "postgresql")):
        url = make_url(suite_url.replace("postgres://", "postgresql://", 1))
        return url.set(database=f"{url.database}_browser").render_as_string(hide_password=False)
    return f"sqlite:///{workdir / 'browser.sqlite3'}"


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in ``url`` (through the server's ``postgres`` database)."""
    import psycopg
    from psycopg import sql

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        name = sql.Identifier(parsed.database)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def server_environment(database_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "CRM_", "FLASK_"))}
    env.update(
        {
            "CRM_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "SESSION_COOKIE_SECURE": "0",
            "DATABASE_URL": database_url,
            "CRM_INSTANCE_PATH": str(workdir / "instance"),
            "CRM_FILE_STORE": str(workdir / "files"),
            "FLASK_APP": "wsgi",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def wait_for_server(url: str, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Poll ``url`` (e.g. the health check) until it answers 200; fail early if the process has exited."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = response.status
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise ServerError(f"{url} did not answer within {timeout:.0f}s (last: {last_error})")


def _listening_url(process: subprocess.Popen, log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = LISTENING.search(log_path.read_text(encoding="utf-8", errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise ServerError("gunicorn did not report its address")


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def live_server(
    workdir: Path, suite_database_url: str | None = None, *, enterprises: int = 400, workers: int = 2
) -> Iterator[LiveServer]:
    """Migrate and seed a fresh database, serve it with gunicorn on a free loopback port, stop it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = browser_database_url(suite_database_url, workdir)
    if database_url.startswith("postgresql"):
        recreate_postgres_database(database_url)
    env = server_environment(database_url, workdir)
    facts_path = workdir / "facts.json"
    seeding = subprocess.run(
        [sys.executable, "-m", "tests.browser.seed", str(facts_path)],
        cwd=ROOT,
        env={**env, "CRM_BROWSER_ENTERPRISES": str(enterprises)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if seeding.returncode != 0:
        raise ServerError(f"seeding the browser database failed:\n{seeding.stdout}\n{seeding.stderr}")
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--bind",
                "127.0.0.1:0",
                "--no-control-socket",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            url = _listening_url(process, log_path, timeout=30)
            wait_for_server(f"{url}/healthz", process)
        except ServerError as exc:
            raise ServerError(f"{exc}\n{tail(log_path)}") from None
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        yield LiveServer(url=url, facts=facts, database_url=database_url, log_path=log_path, process=process)
    finally:
        stop(process)
