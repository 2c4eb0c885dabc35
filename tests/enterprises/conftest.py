"""Helpers for the enterprise tests: valid identifiers and spreadsheets built in memory."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from crm.demo.names import uscc_for

_serial = itertools.count(700_001)


def new_uscc(district: str = "350502") -> str:
    """A valid 统一社会信用代码 registered in ``district`` (泉州鲤城 by default), unique within the run."""
    return uscc_for(next(_serial), district)


def corrupt_check_character(code: str) -> str:
    """The same code with a wrong last (check) character."""
    last = code[-1]
    return code[:-1] + ("1" if last != "1" else "2")


def xlsx_bytes(
    rows: Iterable[Iterable[Any]],
    *,
    title: str | None = None,
    merge_title_over: int = 0,
    merges: Iterable[str] = (),
    sheet_name: str = "名单",
) -> bytes:
    """An XLSX workbook; with ``title``, a merged title row (and a blank row) above the table."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name
    if title:
        sheet.append([title])
        if merge_title_over > 1:
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=merge_title_over)
        sheet.append([])
    for row in rows:
        sheet.append(list(row))
    for cell_range in merges:
        sheet.merge_cells(cell_range)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: Iterable[Iterable[Any]], encoding: str = "utf-8", bom: bool = False) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(list(row))
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.fixture
def uscc() -> Callable[..., str]:
    return new_uscc
