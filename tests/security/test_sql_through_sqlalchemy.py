"""SQL is built only through SQLAlchemy expressions: no textual SQL, no SQL strings handed to a driver, no
string formatting of queries, outside a short reviewed allow-list. Migrations are exempt (Alembic's own DDL)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("crm", "workers")
EXEMPT_PARTS = {"migrations"}

#: (file, construct) -> how many occurrences are allowed, and why. Keep it short; each entry is reviewed.
ALLOWED: dict[tuple[str, str], tuple[int, str]] = {
    ("crm/main/views.py", "text()"): (1, "the health check's constant SELECT 1"),
    ("crm/plans/models.py", "text()"): (
        6,
        "the constant predicates of the partial indexes (one active plan per enterprise; open tasks by owner and "
        "by due date), for each dialect",
    ),
    ("crm/__init__.py", "driver execute"): (2, "constant SQLite PRAGMAs on connect"),
    ("crm/__init__.py", "exec_driver_sql()"): (1, "constant BEGIN for SQLite transactions"),
    ("crm/core/audit.py", "DDL()"): (1, "the constant append-only triggers of the audit table"),
    ("crm/core/models.py", "DDL()"): (
        1,
        "the constant CREATE EXTENSION pg_trgm before the tables with a trigram search index",
    ),
}

TEXTUAL = {"text", "literal_column", "DDL"}
DRIVER_METHODS = {"exec_driver_sql", "executescript", "executemany"}


def _is_stringy(node: ast.AST) -> bool:
    """A SQL string built by hand: a literal, an f-string, % formatting, concatenation or .format()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return _is_stringy(node.left) or _is_stringy(node.right)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
        and _is_stringy(node.func.value)
    )


def findings(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    sqlalchemy_names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
            sqlalchemy_names.update(alias.asname or alias.name for alias in node.names if alias.name in TEXTUAL)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if (
            (isinstance(func, ast.Name) and name in sqlalchemy_names)
            or (isinstance(func, ast.Attribute) and name in TEXTUAL and _module_is_sqlalchemy(func.value))
            or (isinstance(func, ast.Attribute) and name in DRIVER_METHODS)
        ):
            found.append((f"{name}()", node.lineno))
        elif isinstance(func, ast.Attribute) and name == "execute" and node.args and _is_stringy(node.args[0]):
            found.append(("driver execute", node.lineno))
    return sorted(found, key=lambda item: item[1])


def _module_is_sqlalchemy(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ("sqlalchemy", "sa")


def test_sql_is_built_only_through_sqlalchemy():
    counts: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], list[int]] = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if EXEMPT_PARTS & set(path.parts):
                continue
            relative = path.relative_to(ROOT).as_posix()
            for construct, line in findings(path):
                counts[(relative, construct)] += 1
                where.setdefault((relative, construct), []).append(line)
    problems = [
        f"{file}:{','.join(map(str, where[(file, construct)]))}: {construct} ({count} found, "
        f"{ALLOWED.get((file, construct), (0, ''))[0]} allowed)"
        for (file, construct), count in sorted(counts.items())
        if count > ALLOWED.get((file, construct), (0, ""))[0]
    ]
    assert not problems, (
        "Build SQL with SQLAlchemy expressions (select(), insert(), func...), never from strings:\n  "
        + "\n  ".join(problems)
    )


def test_the_scanner_catches_textual_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlalchemy import text\n"
        "def f(conn, cursor, name):\n"
        "    conn.execute(text(f'SELECT * FROM users WHERE name = {name}'))\n"
        "    cursor.execute('DELETE FROM users WHERE id = %s' % name)\n"
        "    conn.exec_driver_sql('DROP TABLE x')\n"
        "    conn.execute(select_users)\n"
    )
    assert [construct for construct, _line in findings(sample)] == ["text()", "driver execute", "exec_driver_sql()"]
