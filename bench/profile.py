"""Where one page's time goes: ``python -m bench.profile PATH USER [N]`` requests PATH N times in-process as USER
(through the app's test client, against ``DATABASE_URL``/``REDIS_URL``, production-like caches on) and prints
the milliseconds of wall and CPU time and the SQL statements per request, the statements that took longest,
and with ``--cprofile`` the functions (``--sort tottime``). The wrk figures say how fast a page is; this says
why, without a server in between.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/crm_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python -m bench.profile "/enterprises/?stage=cultivating" customs.xiamen 50
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime

from sqlalchemy import event, select


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("username")
    parser.add_argument("requests", type=int, nargs="?", default=30)
    parser.add_argument("--cprofile", action="store_true", help="also profile the functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile order (cumulative, tottime ...)")
    parser.add_argument("--top", type=int, default=40, help="functions and statements shown")
    args = parser.parse_args(argv)

    from crm import create_app
    from crm.auth.models import User
    from crm.extensions import db

    app = create_app()
    with app.app_context():
        user_id = db.session.scalars(select(User.id).where(User.username == args.username)).one()
        statements: dict[str, list[float]] = {}

        @event.listens_for(db.engine, "before_cursor_execute")
        def _started(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _ended(conn, cursor, statement, parameters, context, executemany):
            took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
            statements.setdefault(" ".join(statement.split())[:140], []).append(took)

    client = app.test_client()
    with client.session_transaction() as session:
        session.update({"_user_id": str(user_id), "_fresh": True, "_seen": datetime.now(UTC).timestamp()})
    for _ in range(3):  # warm: per-process caches, compiled SQL and templates
        response = client.get(args.path)
        if response.status_code != 200:
            raise SystemExit(f"{args.path} answered {response.status_code}")
    statements.clear()
    profiler = cProfile.Profile() if args.cprofile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(args.requests):
        client.get(args.path)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = args.requests
    queries = sum(len(times) for times in statements.values())
    print(
        f"{args.path} as {args.username}: {wall / n * 1000:.1f} ms wall, {cpu / n * 1000:.1f} ms CPU, "
        f"{queries / n:.1f} statements, {len(response.data):,} bytes per request"
    )
    for text, times in sorted(statements.items(), key=lambda item: -sum(item[1]))[: args.top]:
        print(f"{sum(times) / n * 1000:8.2f} ms {len(times) / n:5.1f}x  {text}")
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
