"""Floors that run as child processes, so their time and peak memory are their own.

``python -m bench.floors xlsx DSN OUT.xlsx``      xlsxwriter (constant memory) from a plain server-side cursor
``python -m bench.floors parse FILE.xlsx``        openpyxl read-only parse of every cell
``python -m bench.floors make-import DSN FILE N``  the import file: N rows, some matching existing enterprises
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

from bench.settings import EXPORT_SQL, GROUP_BY_SQL, IMPORT_EXISTING_SHARE

#: The import file's columns, as a user's spreadsheet would have them (headings the import recognises: with an
#: unrecognised area heading the area would come from the credit code, and 平潭海关's enterprises, whose code
#: says 福州, would be refused).
IMPORT_HEADER = [
    "企业名称",
    "统一社会信用代码",
    "海关编码",
    "所在地市",
    "主管海关",
    "行业",
    "员工人数",
    "联系人",
    "联系电话",
]


def write_xlsx(dsn: str, out: Path) -> int:
    import xlsxwriter

    options = {"constant_memory": True, "remove_timezone": True, "default_date_format": "yyyy-mm-dd hh:mm"}
    workbook = xlsxwriter.Workbook(str(out), options)
    sheet = workbook.add_worksheet()
    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor(name="bench_export") as cursor:
        cursor.itersize = 2_000
        cursor.execute(EXPORT_SQL)
        sheet.write_row(0, 0, [column.name for column in cursor.description])
        for row in cursor:
            rows += 1
            sheet.write_row(rows, 0, row)
    workbook.close()
    return rows


def parse_xlsx(path: Path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(str(path), read_only=True, data_only=True)
    cells = 0
    for row in workbook.active.iter_rows(values_only=True):
        cells += sum(1 for value in row if value is not None)
    workbook.close()
    return cells


def make_import_file(dsn: str, path: Path, count: int, seed: int = 12) -> Path:
    """``count`` rows: a share of existing enterprises (by their credit code) and new ones with valid codes."""
    import xlsxwriter

    from crm.demo.names import enterprise_name, uscc_for

    rng = random.Random(seed)
    with psycopg.connect(dsn) as conn:
        existing = conn.execute(
            "SELECT e.name, e.uscc, e.customs_code, a.name_zh, o.name_zh, e.industry, e.employees FROM enterprises e "
            "JOIN areas a ON a.id = e.area_id LEFT JOIN customs_offices o ON o.id = e.office_id "
            "ORDER BY e.id LIMIT %s",
            (int(count * IMPORT_EXISTING_SHARE),),
        ).fetchall()
        taken = {row[0] for row in conn.execute("SELECT name FROM enterprises")}
        areas = conn.execute("SELECT code, name_zh FROM areas ORDER BY sort_order").fetchall()
        serial = conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] + 500_000
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, IMPORT_HEADER)
    for index in range(count):
        if index < len(existing):
            name, uscc, customs_code, area, office, industry, employees = existing[index]
        else:
            code, area = rng.choice(areas)
            name, industry = enterprise_name(rng, area, taken)
            uscc, customs_code, office = uscc_for(serial + index, code[:4] + "02"), None, None
            employees = rng.choice((20, 80, 260, 900))
        contact = rng.choice(("陈", "林", "黄", "张", "吴")) + rng.choice(("经理", "主管", "专员"))
        phone = f"1{rng.randrange(30, 99)}{rng.randrange(10_000_000, 99_999_999)}"
        sheet.write_row(index + 1, 0, [name, uscc, customs_code, area, office, industry, employees, contact, phone])
    workbook.close()
    return path


def group_by_ms(dsn: str, repeats: int = 15) -> tuple[float, list[float]]:
    """Median milliseconds of the GROUP BY over every enterprise (after one warm-up run)."""
    times = []
    with psycopg.connect(dsn) as conn:
        conn.execute(GROUP_BY_SQL).fetchall()
        for _ in range(repeats):
            started = time.perf_counter()
            conn.execute(GROUP_BY_SQL).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "xlsx":
        print(write_xlsx(args[0], Path(args[1])), "rows")
    elif command == "parse":
        print(parse_xlsx(Path(args[0])), "cells")
    elif command == "make-import":
        print(make_import_file(args[0], Path(args[1]), int(args[2])))
    else:
        raise SystemExit(f"unknown floor {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
