"""``make bench`` / ``python -m bench [--size N]``: seed, serve, measure against the floors, write results.

Runs against the PostgreSQL server of ``DATABASE_URL`` in a database of its own (``<name>_bench``, made
anew unless ``--reuse-db`` finds one of the right size) and the Redis of ``REDIS_URL``. The app is served by
gunicorn with 2 sync workers, like the floor app, and loaded by wrk from loopback.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.figures import MEASUREMENTS, Bench
from bench.results import FAILED, NOT_AVAILABLE, Figure, evaluate_all, render_table, results_document, write_results
from bench.settings import (
    DEMO_SEED,
    DURATIONS,
    FIGURES,
    FULL_SIZE,
    GUNICORN_WORKERS,
    LATENCY,
    SEEDED_TABLES,
    SMOKE_SIZE,
    TARGETS,
    THROUGHPUT,
    VOLUMES_PER_ENTERPRISE,
)
from bench.tools import ROOT, BenchError, Server

DEFAULT_OUTPUT = ROOT / "bench" / "results.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=FULL_SIZE, help=f"enterprises (CI smoke: {SMOKE_SIZE:,})")
    parser.add_argument("--duration", type=float, help="seconds of each wrk run (default by size: 3 or 15)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (bench/results.json)")
    parser.add_argument("--reuse-db", action="store_true", help="keep the benchmark database if it has --size")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="run only these measurements")
    parser.add_argument(
        "--rounds", type=int, help="rounds of the wrk figures, median kept (default: 1, or 3 at full size)"
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# --- the database ---------------------------------------------------------------------------------------


def bench_database(environ: dict[str, str]) -> tuple[str, str]:
    """(SQLAlchemy-style URL for the app, libpq URL for psql/psycopg) of ``<DATABASE_URL's name>_bench``."""
    raw = (environ.get("DATABASE_URL") or "").strip()
    if not raw.startswith(("postgres://", "postgresql")):
        raise SystemExit(
            "The benchmark runs on PostgreSQL: set DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/crm) "
            "and REDIS_URL (e.g. redis://127.0.0.1:6379/0). It works in a database of its own, <name>_bench."
        )
    if not (environ.get("REDIS_URL") or "").strip():
        raise SystemExit("The benchmark runs with Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/0).")
    url = make_url(raw.replace("postgres://", "postgresql://", 1))
    url = url.set(drivername="postgresql", database=f"{url.database}_bench")
    return url.render_as_string(hide_password=False), url.render_as_string(hide_password=False)


def psql(dsn: str, sql: str, database: str | None = None) -> str:
    if database:
        dsn = make_url(dsn).set(database=database).render_as_string(hide_password=False)
    done = subprocess.run(
        ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qtAc", sql], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"psql: {done.stderr.strip()}")
    return done.stdout.strip()


def table_counts(dsn: str) -> dict[str, int | None]:
    present = set(psql(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split())
    return {t: int(psql(dsn, f"SELECT count(*) FROM {t}")) if t in present else None for t in SEEDED_TABLES}


def enterprises_in(dsn: str) -> int | None:
    try:
        return int(psql(dsn, "SELECT count(*) FROM enterprises"))
    except BenchError:
        return None


def flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def volumes_for(size: int) -> dict[str, int]:
    return {name: max(1, round(size * ratio)) for name, ratio in VOLUMES_PER_ENTERPRISE.items()}


def seed(dsn: str, env: dict[str, str], size: int) -> dict[str, float]:
    """A fresh database: migrations, reference data, demo data at ``size`` with the volumes passed through."""
    timings = {}
    name = make_url(dsn).database
    psql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres")
    psql(dsn, f'CREATE DATABASE "{name}"', database="postgres")
    logins = Path(env["CRM_INSTANCE_PATH"]) / "demo-logins.txt"
    logins.unlink(missing_ok=True)
    for step, args in (
        ("migrate", ["db", "upgrade"]),
        ("seed_reference", ["crm", "seed-reference"]),
        (
            "seed_demo",
            ["crm", "seed-demo", "--enterprises", str(size), "--seed", str(DEMO_SEED)]
            + [arg for volume, count in volumes_for(size).items() for arg in ("--volume", f"{volume}={count}")],
        ),
    ):
        started = time.perf_counter()
        output = flask(env, *args)
        timings[step] = round(time.perf_counter() - started, 1)
        for line in output.splitlines():
            if line.startswith("Note:"):
                log(line)
        log(f"{step}: {timings[step]}s")
    started = time.perf_counter()
    psql(dsn, "VACUUM ANALYZE")
    timings["vacuum_analyze"] = round(time.perf_counter() - started, 1)
    return timings


def read_logins(instance: Path) -> dict[str, str]:
    path = instance / "demo-logins.txt"
    if not path.exists():
        return {}
    pairs = (line.split() for line in path.read_text(encoding="utf-8").splitlines())
    return {parts[0]: parts[1] for parts in pairs if len(parts) == 2}


# --- the run --------------------------------------------------------------------------------------------


def app_environment(base: dict[str, str], app_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(("CRM_", "FLASK_"))}
    env.update(
        {
            "DATABASE_URL": app_url,
            "REDIS_URL": base["REDIS_URL"],
            "CRM_INSTANCE_PATH": str(workdir / "instance"),
            "CRM_FILE_STORE": str(workdir / "files"),
            "FLASK_APP": "wsgi",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def measure(bench: Bench, only: list[str] | None, rounds: int = 1) -> tuple[dict[str, Figure], list[str]]:
    """Run every measurement once, and the ``repeat`` ones ``rounds`` times (keeping the median)."""
    figures = {key: Figure(key, label, unit) for key, (label, unit) in FIGURES.items()}
    readings: dict[str, list[tuple]] = defaultdict(list)
    errors = []
    runnable = []
    for measurement in MEASUREMENTS:
        reason = "not run (--only)" if only and measurement.key not in only else measurement.missing_reason()
        if reason:
            for key in measurement.produces:
                figures[key].missing(NOT_AVAILABLE, reason)
            log(f"{measurement.key}: {reason}")
        else:
            runnable.append(measurement)
    failed: set[str] = set()
    for round_number in range(1, rounds + 1):
        for measurement in runnable:
            if measurement.key in failed or (round_number > 1 and not measurement.repeat):
                continue
            started = time.perf_counter()
            try:
                outcome = measurement.run(bench)
            except Exception as exc:  # one broken measurement must not lose the others' figures
                failed.add(measurement.key)
                errors.append(f"{measurement.key}: {exc}")
                for key in measurement.produces:
                    figures[key].missing(FAILED, f"{type(exc).__name__}: {exc}"[:500])
                log(f"{measurement.key}: FAILED: {exc}")
                continue
            for key, reading in outcome.items():
                readings[key].append(reading if isinstance(reading, tuple) else (reading,))
            log(f"{measurement.key} (round {round_number}): {time.perf_counter() - started:.1f}s")
    for key, runs in readings.items():
        if figures[key].status == FAILED:
            continue
        middle = sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2]
        value, note, detail = middle[0], (middle[1:2] or ("",))[0], dict((middle[2:3] or ({},))[0])
        if len(runs) > 1:
            detail["rounds"] = [run[0] for run in runs]
        figures[key].measured(value, note, detail)
    return figures, errors


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    environ = dict(os.environ)
    app_url, dsn = bench_database(environ)
    seconds, warmup = DURATIONS[FULL_SIZE] if args.size > SMOKE_SIZE else DURATIONS[SMOKE_SIZE]
    if args.duration:
        seconds, warmup = args.duration, max(1.0, args.duration / 5)
    rounds = args.rounds or (3 if args.size > SMOKE_SIZE else 1)
    workdir = ROOT / "bench" / "work" / make_url(dsn).database
    workdir.mkdir(parents=True, exist_ok=True)
    env = app_environment(environ, app_url, workdir)

    timings: dict[str, Any] = {}
    if args.reuse_db and enterprises_in(dsn) == args.size and read_logins(workdir / "instance"):
        log(f"reusing {make_url(dsn).database} ({args.size:,} enterprises); flask db upgrade")
        flask({**env, "CRM_ENV": "development"}, "db", "upgrade")
        # A migration that fills a new column rewrites its table: without a vacuum the pages' index-only scans
        # read the heap for every row (a no-op on a database no migration touched).
        psql(dsn, "VACUUM ANALYZE")
    else:
        log(f"seeding {make_url(dsn).database} with {args.size:,} enterprises")
        timings = seed(dsn, {**env, "CRM_ENV": "development"}, args.size)
    counts = table_counts(dsn)

    serve_env = {**env, "CRM_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": "0"}
    app = Server("wsgi:app", serve_env, workdir / "app.log", workers=GUNICORN_WORKERS)
    floor_env = {**serve_env, "BENCH_FLOOR_DSN": dsn}
    floor = Server("bench.floor_app:app", floor_env, workdir / "floor.log", GUNICORN_WORKERS, "/")
    from config import DevelopmentConfig
    from crm import create_app

    flask_app = create_app(DevelopmentConfig({**env, "CRM_INSTANCE_PATH": str(workdir / "instance")}))
    bench = Bench(
        size=args.size,
        seconds=seconds,
        warmup=warmup,
        dsn=dsn,
        workdir=workdir,
        app=app,
        floor=floor,
        passwords=read_logins(workdir / "instance"),
        app_env=env,
        flask_app=flask_app,
    )
    try:
        app.start()
        floor.start()
        log(f"app at {app.url}, floor at {floor.url}; wrk runs of {seconds:g}s after {warmup:g}s of warm-up")
        figures, errors = measure(bench, args.only, rounds)
    finally:
        app.stop()
        floor.stop()

    checks = evaluate_all(TARGETS, figures)
    meta = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": args.size,
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {
            "wrk_seconds": seconds,
            "warmup_seconds": warmup,
            "rounds": rounds,
            "gunicorn_workers": GUNICORN_WORKERS,
            "wrk_throughput": THROUGHPUT,
            "wrk_latency": LATENCY,
        },
        "database": make_url(dsn).database,
        "seeded_rows": counts,
        "volumes_requested": volumes_for(args.size),
        "seed_timings_s": timings,
        "duration_s": round(time.perf_counter() - started, 1),
        "errors": errors,
    }
    write_results(args.output, results_document(meta, figures, checks))
    print()
    print(f"Benchmark at {args.size:,} enterprises ({meta['generated_at']}, commit {meta['commit']})")
    print("Seeded rows: " + ", ".join(f"{t} {n:,}" if n is not None else f"{t} (no table)" for t, n in counts.items()))
    print()
    print(render_table(figures, checks))
    print()
    log(f"results in {args.output} after {meta['duration_s']}s")
    if errors:
        log("some measurements failed:\n  " + "\n  ".join(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
