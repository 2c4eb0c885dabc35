"""The measurements, one function each, listed by hand in ``MEASUREMENTS``.

A measurement takes the ``Bench`` (servers, logins, wrk, the database) and returns ``{figure_key: value}``
or ``{figure_key: (value, note, detail)}`` for the figures it produces. One whose ``urls`` are not all set in
``settings.URLS``, or whose ``run`` is ``None``, is reported as "not available yet" with ``waiting_for``.
To add one as its feature lands: write the function, name it in its ``Measurement``, and set the URL.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import floors
from bench.settings import (
    BOARD_USER,
    DEEP_PAGE,
    EXPORT_SQL,
    EXPORT_USER,
    IMPORT_USER,
    LATENCY,
    MIXED_PATHS,
    MIXED_REQUESTS,
    PER_PAGE,
    SCOPED_USER,
    THROUGHPUT,
    URLS,
)
from bench.tools import (
    BenchError,
    CeleryWorker,
    Server,
    WrkResult,
    csrf_token,
    expect_page,
    fetch,
    log_in,
    lua_rotation,
    post_form,
    run_wrk,
    timed_process,
)

Outcome = dict[str, Any]


@dataclass
class Bench:
    """Everything a measurement needs, for one run."""

    size: int
    seconds: float
    warmup: float
    #: libpq URL of the benchmark's database (psycopg, psql).
    dsn: str
    workdir: Path
    app: Server
    floor: Server
    passwords: dict[str, str]
    #: The app's environment (for restarting it, or running its CLI).
    app_env: dict[str, str]
    flask_app: Any = None
    _cookies: dict[str, str] = field(default_factory=dict)

    # --- sessions and scope ----------------------------------------------------------------------------

    def cookie(self, username: str) -> str:
        """The session of ``username``, logged in through the form once per run."""
        if username not in self._cookies:
            if username not in self.passwords:
                raise BenchError(f"no password for {username}: seed the benchmark database again")
            self._cookies[username] = log_in(self.app.url, username, self.passwords[username])
        return self._cookies[username]

    def scope_ids(self, username: str, limit: int | None = None, seed: int = 7) -> list[int]:
        """Ids of enterprises in the user's scope (the app's own scope rules), a random sample if ``limit``."""
        from sqlalchemy import select

        from crm.auth.services import find_user
        from crm.core.scope import scoped_enterprises
        from crm.enterprises.models import Enterprise
        from crm.extensions import db

        with self.flask_app.app_context():
            ids = list(db.session.scalars(scoped_enterprises(select(Enterprise.id), user=find_user(username))))
            db.session.remove()
        if limit and len(ids) > limit:
            ids = random.Random(seed).sample(ids, limit)
        return ids

    def last_page(self, username: str) -> int:
        return max(1, math.ceil(len(self.scope_ids(username)) / PER_PAGE))

    # --- load -----------------------------------------------------------------------------------------

    def _wrk(self, server: Server, paths: str | list[str], user: str | None, mode: dict[str, int]) -> WrkResult:
        cookie = self.cookie(user) if user else None
        paths = [paths] if isinstance(paths, str) else list(paths)
        for path in dict.fromkeys(paths[:20]):
            expect_page(server.url + path, cookie)
        script = None
        if len(paths) > 1:
            script = lua_rotation(paths, self.workdir / "rotation.lua")
        url = server.url + paths[0]
        if self.warmup:
            run_wrk(url, seconds=self.warmup, cookie=cookie, script=script, **mode)
        return run_wrk(url, seconds=self.seconds, cookie=cookie, script=script, **mode)

    def throughput(self, paths: str | list[str], user: str | None = SCOPED_USER, server: Server | None = None):
        return self._wrk(server or self.app, paths, user, THROUGHPUT)

    def latency(self, paths: str | list[str], user: str | None = SCOPED_USER, server: Server | None = None):
        return self._wrk(server or self.app, paths, user, LATENCY)


@dataclass(frozen=True)
class Measurement:
    key: str
    produces: tuple[str, ...]
    run: Callable[[Bench], Outcome] | None
    #: Keys of ``settings.URLS`` that must be set for it to run.
    urls: tuple[str, ...] = ()
    #: Shown while it cannot run: which feature it waits for and what the function must do.
    waiting_for: str = ""
    #: Run again in each round (wrk figures): the median of the rounds is kept, so a burst of load from
    #: elsewhere on the machine hits both sides of a ratio less unevenly.
    repeat: bool = False

    def missing_reason(self) -> str | None:
        if self.run is None:
            return self.waiting_for or "no measuring function yet"
        unset = [key for key in self.urls if not URLS.get(key)]
        if unset:
            return f"{self.waiting_for} (set URLS[{', '.join(map(repr, unset))}] in bench/settings.py)"
        return None


# --- the floors -----------------------------------------------------------------------------------------


def floor_list(bench: Bench) -> Outcome:
    result = bench.throughput(URLS["floor_list"], user=None, server=bench.floor)
    return {"floor_list_rps": (result.requests_per_second, "", result.as_detail())}


def group_by(bench: Bench) -> Outcome:
    median, runs = floors.group_by_ms(bench.dsn)
    return {"group_by_ms": (median, f"median of {len(runs)}", {"runs_ms": runs})}


def psql_copy(bench: Bench) -> Outcome:
    out = bench.workdir / "copy.csv"
    query = " ".join(EXPORT_SQL.split())
    run = timed_process(["psql", bench.dsn, "-v", "ON_ERROR_STOP=1", "-qc", f"\\copy ({query}) TO '{out}' CSV HEADER"])
    rows = sum(1 for _ in out.open(encoding="utf-8")) - 1
    return {"copy_s": (run.seconds, f"{rows:,} rows", {"rows": rows, "peak_mb": run.peak_mb})}


def xlsxwriter_floor(bench: Bench) -> Outcome:
    out = bench.workdir / "floor.xlsx"
    run = timed_process([*_python(), "-m", "bench.floors", "xlsx", bench.dsn, str(out)], env=bench.app_env)
    note = run.output.strip()
    return {
        "xlsxwriter_s": (run.seconds, note, {"bytes": out.stat().st_size}),
        "xlsxwriter_peak_mb": (run.peak_mb, "whole process"),
    }


def openpyxl_floor(bench: Bench) -> Outcome:
    path = import_file(bench)
    run = timed_process([*_python(), "-m", "bench.floors", "parse", str(path)], env=bench.app_env)
    return {"openpyxl_parse_s": (run.seconds, run.output.strip(), {"peak_mb": run.peak_mb, "file": str(path)})}


def import_file(bench: Bench) -> Path:
    """The 10,000-row import file (made once per run; the import measurement uploads the same file)."""
    from bench.settings import IMPORT_ROWS

    path = bench.workdir / f"import-{IMPORT_ROWS}.xlsx"
    if not path.exists():
        floors.make_import_file(bench.dsn, path, IMPORT_ROWS)
    return path


def _python() -> list[str]:
    import sys

    return [sys.executable]


# --- the app's pages ------------------------------------------------------------------------------------


def enterprise_list(bench: Bench) -> Outcome:
    result = bench.throughput(URLS["enterprise_list"])
    return {"enterprise_list_rps": (result.requests_per_second, f"as {SCOPED_USER}", result.as_detail())}


def list_depth(bench: Bench) -> Outcome:
    last = bench.last_page(SCOPED_USER)
    deep = min(DEEP_PAGE, last)
    first = bench.latency(URLS["list_page"].format(page=1))
    far = bench.latency(URLS["list_page"].format(page=deep))
    note = f"page {deep:,} of {last:,}" + ("" if deep == DEEP_PAGE else f" (the scope has no page {DEEP_PAGE:,})")
    return {
        "list_page_1_p50_ms": (first.p50_ms, f"as {SCOPED_USER}", first.as_detail()),
        "list_deep_page_p50_ms": (far.p50_ms, note, {**far.as_detail(), "page": deep}),
    }


def enterprise_detail(bench: Bench) -> Outcome:
    ids = bench.scope_ids(SCOPED_USER, limit=200)
    result = bench.throughput([URLS["enterprise_detail"].format(id=i) for i in ids])
    note = f"{len(ids)} enterprises in turn"
    return {"enterprise_detail_rps": (result.requests_per_second, note, result.as_detail())}


def worker_memory(bench: Bench) -> Outcome:
    """A fresh app server, 2,000 requests of the mix from two clients, then each worker's resident memory."""
    bench.app.stop()
    bench.app.start()
    ids = bench.scope_ids(SCOPED_USER, limit=500)
    last = bench.last_page(SCOPED_USER)
    rng = random.Random(3)
    paths = [
        MIXED_PATHS[n % len(MIXED_PATHS)].format(id=rng.choice(ids), page=rng.randint(1, min(last, 40)))
        for n in range(MIXED_REQUESTS)
    ]
    cookie = bench.cookie(SCOPED_USER)
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        for path in share:
            try:
                status, _body = fetch(bench.app.url + path, cookie)
            except Exception as exc:  # counted, and the figure fails below
                status = f"{type(exc).__name__}: {exc}"
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(paths[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if set(statuses) != {200}:
        raise BenchError(f"the mixed requests got {dict(statuses)}")
    readings = bench.app.worker_memory_mb()
    if not readings:
        raise BenchError("no gunicorn worker to read the memory of")
    worst = max(r["rss_mb"] for r in readings.values())
    return {"worker_rss_mb": (worst, f"largest of {len(readings)} workers", {"workers": list(readings.values())})}


def board(bench: Bench) -> Outcome:
    """The board of a user with about 5,000 enterprises in scope, against that user's list page."""
    board_result = bench.latency(URLS["board"], user=BOARD_USER)
    list_result = bench.latency(URLS["list_page"].format(page=1), user=BOARD_USER)
    cards = len(bench.scope_ids(BOARD_USER))
    return {
        "board_p50_ms": (board_result.p50_ms, f"{cards:,} enterprises in scope", board_result.as_detail()),
        "board_list_p50_ms": (list_result.p50_ms, f"as {BOARD_USER}", list_result.as_detail()),
    }


#: The sweep's data: reminders, notifications and mail of earlier sweeps go, enterprises that would be due
#: for their stage's time limit in the sweep's window are moved 400 days back, then ``SWEEP_DUE`` of them
#: (the lowest ids in a stage with a limit) are made due today.
SWEEP_DUE = 200
SWEEP_RULE = "stage_sla"
#: The tables the sweep's setup and the sweep write (vacuumed after it).
SWEEP_TABLES = ("enterprises", "reminders", "notifications", "outbox_messages")
SWEEP_SETUP_SQL = f"""
DELETE FROM reminders; DELETE FROM notifications; DELETE FROM outbox_messages;
UPDATE enterprises e SET stage_entered_at = e.stage_entered_at - interval '400 days'
FROM stages s
WHERE s.code = e.stage AND s.sla_days IS NOT NULL
  AND e.stage_entered_at >= now() - make_interval(days => s.sla_days + 15)
  AND e.stage_entered_at < now() - make_interval(days => s.sla_days - 1);
UPDATE enterprises e SET stage_entered_at = now() - make_interval(days => s.sla_days + 1)
FROM stages s
WHERE s.code = e.stage AND e.id IN (
  SELECT e2.id FROM enterprises e2 JOIN stages s2 ON s2.code = e2.stage
  WHERE s2.sla_days IS NOT NULL ORDER BY e2.id LIMIT {SWEEP_DUE});
ANALYZE enterprises;
"""


def _sweep(dsn: str, env: dict[str, str]) -> tuple[float, str, dict]:
    """``flask crm run-reminders --rule stage_sla`` on a database prepared by ``SWEEP_SETUP_SQL``: the rule whose
    due records the setup controls (the other rules' due tasks, visits and plans grow with the seeded volumes, so
    the whole sweep would not have "200 due")."""
    from bench.run import psql

    psql(dsn, SWEEP_SETUP_SQL)
    run = timed_process([*_python(), "-m", "flask", "crm", "run-reminders", "--rule", SWEEP_RULE], env=env)
    # The setup rewrote thousands of enterprises: without a vacuum the next round's list pages read the heap for
    # each row their index-only scans pass (page 1,000 of the list: 3.5 ms -> 8.6 ms), as after the import's undo.
    psql(dsn, f"VACUUM ANALYZE {', '.join(SWEEP_TABLES)}")
    sent = next((line for line in run.output.splitlines() if line.startswith("Sent ")), "").strip()
    enterprises = int(psql(dsn, "SELECT count(*) FROM enterprises"))
    return run.seconds, f"{enterprises:,} enterprises; {sent}", {"output": run.output[-2000:], "peak_mb": run.peak_mb}


def reminder_sweep(bench: Bench) -> Outcome:
    """The sweep with ``SWEEP_DUE`` reminders due, here and on a database seeded with a tenth of the enterprises
    (``<bench database>_tenth``, seeded once and kept while it has that size)."""
    from sqlalchemy.engine import make_url

    from bench.run import app_environment, enterprises_in, flask, log, seed

    small_size = max(1, bench.size // 10)
    small_dsn = make_url(bench.dsn).set(database=f"{make_url(bench.dsn).database}_tenth")
    small_dsn = small_dsn.render_as_string(hide_password=False)
    small_env = app_environment({**bench.app_env}, small_dsn, bench.workdir / "tenth")
    if enterprises_in(small_dsn) != small_size:
        log(f"reminder_sweep: seeding {make_url(small_dsn).database} with {small_size:,} enterprises")
        seed(small_dsn, {**small_env, "CRM_ENV": "development"}, small_size)
    else:
        flask({**small_env, "CRM_ENV": "development"}, "db", "upgrade")
    large = _sweep(bench.dsn, {**bench.app_env, "CRM_ENV": "development"})
    small = _sweep(small_dsn, {**small_env, "CRM_ENV": "development"})
    return {"sweep_large_s": large, "sweep_small_s": small}


def dashboard(bench: Bench) -> Outcome:
    result = bench.latency(URLS["dashboard"])
    return {"dashboard_p50_ms": (result.p50_ms, f"as {SCOPED_USER}", result.as_detail())}


# --- exports and import ---------------------------------------------------------------------------------

#: Longest wait for an export job, and how often its status is read.
EXPORT_TIMEOUT_S = 1800
EXPORT_POLL_S = 0.1


def _export(bench: Bench, fmt: str) -> Outcome:
    """An export of every enterprise as ``EXPORT_USER``, started through the export form (what the list's export
    button posts), run by a Celery worker started for it, its status polled to the end. The time runs from the
    POST to the first status that says done; the memory is the worker process's ``VmHWM`` (solo pool: that
    process wrote the file), with its reading before the export in the detail."""
    cookie = bench.cookie(EXPORT_USER)
    token = csrf_token(bench.app.url + "/exports/", cookie)
    form = {"csrf_token": token, "kind": "enterprises", "format": fmt, "query": ""}
    with CeleryWorker(bench.app.env, bench.workdir / f"worker-{fmt}.log", name=f"bench-{fmt}") as worker:
        before = worker.memory_mb()
        started = time.perf_counter()
        status, location = post_form(bench.app.url + URLS[f"{fmt}_export"], form, cookie)
        match = re.search(r"/exports/(\d+)$", location) if status in (302, 303) else None
        if not match:
            raise BenchError(f"starting the {fmt} export answered {status}: {location[:300]}")
        job_id = int(match.group(1))
        while True:
            _status, body = fetch(f"{bench.app.url}/exports/{job_id}/status", cookie)
            payload = json.loads(body)
            if payload["done"] or payload["failed"]:
                break
            if time.perf_counter() - started > EXPORT_TIMEOUT_S:
                raise BenchError(f"export {job_id} not done after {EXPORT_TIMEOUT_S}s: {payload}")
            time.sleep(EXPORT_POLL_S)
        seconds = time.perf_counter() - started
        after = worker.memory_mb()
    if payload["failed"]:
        raise BenchError(f"export {job_id} failed: {payload['error']}\n{worker.log_tail()}")
    rows = payload["row_count"] or 0
    note = f"{rows:,} rows as {EXPORT_USER}, Celery job {job_id}"
    memory_note = f"the Celery worker that wrote it (solo pool), {before['peak_mb']:.0f} MB before the export"
    return {
        f"{fmt}_export_s": (seconds, note, {"rows": rows, "job": job_id, "poll_s": EXPORT_POLL_S}),
        f"{fmt}_export_peak_mb": (after["peak_mb"], memory_note, {"before": before, "after": after}),
    }


def csv_export(bench: Bench) -> Outcome:
    return _export(bench, "csv")


def xlsx_export(bench: Bench) -> Outcome:
    return _export(bench, "xlsx")


#: The tables an import writes (vacuumed after its undo).
IMPORT_TABLES = ("enterprises", "stage_changes", "credit_status_changes", "contacts", "recommendations")


def import_enterprises(bench: Bench) -> Outcome:
    """``flask crm import-enterprises`` of the 10,000-row file as ``IMPORT_USER`` (read, map, check every row
    against the CRM, commit; the enterprises already there get their empty fields filled), timed as a child
    process from start-up to exit. The import is undone afterwards so the database keeps its size."""
    from bench.run import psql

    path = import_file(bench)
    before = _enterprise_count(bench)
    env = {**bench.app_env, "CRM_ENV": "development"}
    command = ["crm", "import-enterprises", str(path), "--as", IMPORT_USER, "--commit-valid", "--fill-empty"]
    batch_id = None
    try:
        run = timed_process([*_python(), "-m", "flask", *command], env=env)
        summary = next((line for line in run.output.splitlines() if line.startswith("Import ")), "")
        match = re.match(r"Import (\d+): (.*)\.$", summary.strip())
        if not match:
            raise BenchError(f"the import printed no summary:\n{run.output[-2000:]}")
        batch_id = int(match.group(1))
    finally:
        removed = _undo_imports(bench, batch_id)
        # The undo leaves 7,000 dead rows in each table the import wrote: without a vacuum the next run's
        # GROUP BY floor read 62-118 ms instead of 14 ms.
        psql(bench.dsn, f"VACUUM ANALYZE {', '.join(IMPORT_TABLES)}")
    after = _enterprise_count(bench)
    if after != before:
        raise BenchError(f"the database held {before:,} enterprises before the import and {after:,} after its undo")
    detail = {"output": run.output[-2000:], "peak_mb": run.peak_mb, "undone": removed}
    return {"import_s": (run.seconds, f"as {IMPORT_USER}: {match.group(2)}", detail)}


def _enterprise_count(bench: Bench) -> int:
    from bench.run import psql

    return int(psql(bench.dsn, "SELECT count(*) FROM enterprises"))


def _undo_imports(bench: Bench, batch_id: int | None) -> int:
    """Undo the benchmark's import (and one left by an interrupted run: the committed imports of its file)."""
    from sqlalchemy import or_, select

    from bench.settings import IMPORT_ROWS
    from crm.enterprises import imports
    from crm.enterprises.models import EnterpriseImport, ImportStatus
    from crm.extensions import db

    removed = 0
    with bench.flask_app.app_context():
        batches = db.session.scalars(
            select(EnterpriseImport).where(
                EnterpriseImport.status == ImportStatus.COMMITTED,
                or_(EnterpriseImport.id == batch_id, EnterpriseImport.filename == f"import-{IMPORT_ROWS}.xlsx"),
            )
        ).all()
        for batch in batches:
            removed += imports.undo(batch)
        db.session.commit()
        db.session.remove()
    return removed


#: In the order they run. Floors and pages first; the app server is restarted by ``worker_memory``.
MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement("floor_list", ("floor_list_rps",), floor_list, ("floor_list",), repeat=True),
    Measurement("enterprise_list", ("enterprise_list_rps",), enterprise_list, ("enterprise_list",), repeat=True),
    Measurement("list_depth", ("list_page_1_p50_ms", "list_deep_page_p50_ms"), list_depth, ("list_page",), repeat=True),
    Measurement(
        "enterprise_detail", ("enterprise_detail_rps",), enterprise_detail, ("enterprise_detail",), repeat=True
    ),
    Measurement("group_by", ("group_by_ms",), group_by),
    Measurement("copy", ("copy_s",), psql_copy),
    Measurement("xlsxwriter", ("xlsxwriter_s", "xlsxwriter_peak_mb"), xlsxwriter_floor),
    Measurement("openpyxl", ("openpyxl_parse_s",), openpyxl_floor),
    Measurement(
        "dashboard",
        ("dashboard_p50_ms",),
        dashboard,
        ("dashboard",),
        waiting_for="the dashboard is not merged yet",
        repeat=True,
    ),
    Measurement(
        "board",
        ("board_p50_ms", "board_list_p50_ms"),
        board,
        ("board", "list_page"),
        waiting_for="the pipeline board is not merged yet",
        repeat=True,
    ),
    Measurement(
        "csv_export",
        ("csv_export_s", "csv_export_peak_mb"),
        csv_export,
        ("csv_export",),
    ),
    Measurement(
        "xlsx_export",
        ("xlsx_export_s", "xlsx_export_peak_mb"),
        xlsx_export,
        ("xlsx_export",),
    ),
    Measurement(
        "import",
        ("import_s",),
        import_enterprises,
    ),
    Measurement(
        "reminder_sweep",
        ("sweep_large_s", "sweep_small_s"),
        reminder_sweep,
        waiting_for="the reminder sweep is not merged yet: time the sweep with 200 reminders due here and in a "
        "database seeded with a tenth of the enterprises",
    ),
    Measurement("worker_memory", ("worker_rss_mb",), worker_memory),
)
