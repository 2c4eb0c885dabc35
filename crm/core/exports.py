"""Spreadsheet downloads every feature can use: streamed CSV and XLSX, safe to open in Excel.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would be run as a formula by
Excel or WPS ("CSV injection"); such text is written with a leading apostrophe. Record the download in the
audit trail with ``crm.core.audit.record_export`` in the same view.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response, send_file, stream_with_context

from crm.core.timeutil import to_local

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Excel's limit is 1,048,576 rows per sheet; keep a header row and some margin.
XLSX_MAX_ROWS = 1_000_000


def safe_cell(value: Any) -> Any:
    """A value ready for a spreadsheet cell: text that Excel would run as a formula is neutralised, times are
    local, enums are their values."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_local(value).replace(tzinfo=None)
    if isinstance(value, (bool, int, float, Decimal, date)):
        return value
    text = str(getattr(value, "value", value))
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _csv_text(value: Any) -> str:
    value = safe_cell(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def content_disposition(filename: str) -> str:
    """An attachment header that keeps a Chinese file name (RFC 5987) with an ASCII fallback."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """Stream rows as a UTF-8 CSV (with a byte-order mark, so Excel reads Chinese correctly)."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([str(cell) for cell in header])
        for count, row in enumerate(rows, start=1):
            writer.writerow([_csv_text(cell) for cell in row])
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype=CSV_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def xlsx_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Sheet1"
) -> Response:
    """Write rows to an XLSX file in constant memory (a temporary file) and send it."""
    import xlsxwriter

    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (send_file closes it after the response)
    workbook = xlsxwriter.Workbook(spool, {"constant_memory": True, "in_memory": False, "strings_to_formulas": False})
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for column, title in enumerate(header):
        worksheet.write_string(0, column, str(title), bold)
    for row_number, row in enumerate(rows, start=1):
        if row_number > XLSX_MAX_ROWS:
            break
        for column, cell in enumerate(row):
            value = safe_cell(cell)
            if isinstance(value, datetime):
                worksheet.write_datetime(row_number, column, value, when)
            elif isinstance(value, date):
                worksheet.write_datetime(row_number, column, datetime.combine(value, datetime.min.time()), day)
            elif isinstance(value, bool):
                worksheet.write_boolean(row_number, column, value)
            elif isinstance(value, (int, float, Decimal)):
                worksheet.write_number(row_number, column, float(value))
            else:
                worksheet.write_string(row_number, column, value)
    workbook.close()
    spool.seek(0)
    response = send_file(spool, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
