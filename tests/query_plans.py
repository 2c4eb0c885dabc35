"""The query plan of a statement the code under test runs: for tests that a page is read through an index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from crm.extensions import db


def plan_of_last_statement(run: Callable[[], Any]) -> str:
    """The query plan of the last statement ``run`` executes (SQLite or PostgreSQL, sequential scans off)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    connection = db.session.connection()
    if engine.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
        return "\n".join(row[0] for row in rows)
    return "\n".join(str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
