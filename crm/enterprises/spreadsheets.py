"""Reading uploaded spreadsheets: XLSX (openpyxl, read-only) and CSV (UTF-8, UTF-8 with BOM, GB18030).

Real lists from bureaus start with title rows ("2025年泉州市AEO培育企业推荐名单"), use merged cells for titles,
two-level headings and repeated values, and end with footers. ``read_table`` finds the header row by the
headings it recognises, spreads merged cells over the range they cover, and returns the data rows with their
spreadsheet row numbers.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from flask_babel import gettext as _

from crm.core.files import CSV, XLSX, UploadError, check_upload, check_zip_container, sniff_kind

MAX_BYTES = 10 * 1024 * 1024
MAX_DATA_ROWS = 50_000
#: How far down the header row is looked for.
HEADER_SEARCH_ROWS = 30
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")


class SpreadsheetError(ValueError):
    """A file that cannot be read as a table; the message is shown to the user and nothing changes."""


@dataclass
class Table:
    kind: str
    sheet: str | None
    #: 1-based row number of the (last) header row.
    header_row: int
    headers: list[str]
    #: (spreadsheet row number, cell values) of each data row, empty rows left out.
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)


def check_spreadsheet(fh: IO[bytes], filename: str) -> str:
    """Refuse what is not a readable spreadsheet, with a clear message; returns "xlsx" or "csv"."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    if size > MAX_BYTES:
        raise SpreadsheetError(_("The file is larger than 10 MB: split it into smaller files."))
    head = fh.read(4096)
    fh.seek(0)
    if head.startswith(OLE2_MAGIC):
        data = fh.read()
        fh.seek(0)
        if ENCRYPTION_STREAM in data:
            raise SpreadsheetError(_("The workbook is protected by a password: save it without one and try again."))
        raise SpreadsheetError(_("This is an old Excel file (.xls): save it as .xlsx or CSV and try again."))
    if head.startswith(b"PK\x03\x04"):
        try:
            check_zip_container(fh)  # zip bombs and encrypted parts, before anything is decompressed
        except UploadError as exc:
            raise SpreadsheetError(str(exc)) from None
        try:
            with zipfile.ZipFile(fh) as archive:
                bad = archive.testzip()
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError):
            raise SpreadsheetError(_("The workbook is damaged and cannot be read.")) from None
        finally:
            fh.seek(0)
        if bad is not None:
            raise SpreadsheetError(_("The workbook is damaged and cannot be read."))
        if "xl/workbook.xml" not in names:
            raise SpreadsheetError(_("This file is not a spreadsheet: upload an XLSX or CSV file."))
    name = filename if not (head and _looks_like_csv(head)) else _as_csv_name(filename)
    if sniff_kind(head, name, fh) not in (XLSX, CSV):
        raise SpreadsheetError(_("This file is not a spreadsheet: upload an XLSX or CSV file."))
    try:
        kind, _size = check_upload(fh, name, allowed={XLSX, CSV}, max_bytes=MAX_BYTES)
    except UploadError as exc:
        raise SpreadsheetError(str(exc)) from None
    return kind


def _looks_like_csv(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    sample = head.decode("utf-8", errors="ignore") or head.decode("gb18030", errors="ignore")
    return any(sep in sample for sep in (",", "\t", ";", "，"))


def _as_csv_name(filename: str) -> str:
    return filename if filename.lower().endswith(".csv") else filename + ".csv"


# --- header recognition --------------------------------------------------------------------------------------


def normalise_header(value: Any) -> str:
    """Compare headings without spaces, asterisks, units in brackets, or width differences."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"[\s*※★]", "", text)
    text = re.sub(r"[(\[（【][^)\]）】]*[)\]）】]", "", text)
    return text.lower().strip(":：")


def _header_score(cells: list[Any], matcher: Callable[[str], str | None]) -> tuple[int, set[str]]:
    fields: set[str] = set()
    for cell in cells:
        if cell is None or isinstance(cell, (int, float, datetime, date)):
            continue
        key = matcher(normalise_header(cell))
        if key:
            fields.add(key)
    return len(fields), fields


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def find_header(
    rows: list[list[Any]], matcher: Callable[[str], str | None], key_fields: Iterable[str]
) -> tuple[int, list[str], int]:
    """(index of the last header row, headings, index of the first data row) within ``rows``.

    The header row is the one with the most recognised headings (at least two, one of them a key field).
    A second heading row right below it (two-level headings under merged cells) is combined with it.
    """
    key_fields = set(key_fields)
    best, best_score = None, 1
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score, fields = _header_score(cells, matcher)
        if score > best_score and fields & key_fields:
            best, best_score = index, score
    if best is None:
        raise SpreadsheetError(
            _("No heading row was found: the table needs headings such as 企业名称 and 统一社会信用代码.")
        )
    headers = [_cell_text(c) for c in rows[best]]
    first_data = best + 1
    if first_data < len(rows):
        below = rows[first_data]
        sub_score, _fields = _header_score(below, matcher)
        below_text = [_cell_text(c) for c in below]
        looks_like_headings = all(not t or not any(ch.isdigit() for ch in t) for t in below_text)
        if sub_score >= 1 and looks_like_headings:
            combined = []
            for col in range(max(len(headers), len(below_text))):
                top = headers[col] if col < len(headers) else ""
                sub = below_text[col] if col < len(below_text) else ""
                if sub and matcher(normalise_header(sub)) and not matcher(normalise_header(top + sub)):
                    combined.append(sub)
                else:
                    combined.append(top + sub)
            headers = combined
            best, first_data = first_data, first_data + 1
    while headers and not headers[-1]:
        headers.pop()
    return best, headers, first_data


# --- XLSX ----------------------------------------------------------------------------------------------------


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _column_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index - 1


def merged_ranges(fh: IO[bytes], sheet_path: str) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col), 0-based, of the sheet's merged cells (read-only mode lacks them)."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as archive:
        data = archive.read(sheet_path)
    fh.seek(0)
    start = data.rfind(b"<mergeCells")
    if start == -1:
        start = data.rfind(b":mergeCells")
    if start == -1:
        return []
    return [
        (int(r1) - 1, _column_index(c1), int(r2) - 1, _column_index(c2))
        for c1, r1, c2, r2 in _MERGE_REF.findall(data, start)
    ]


def _sheet_path(sheet: Any) -> str | None:
    """The archive path of a read-only worksheet (``xl/worksheets/sheet1.xml``)."""
    path = getattr(sheet, "_worksheet_path", None)
    return path.lstrip("/") if isinstance(path, str) else None


def _xlsx_rows(fh: IO[bytes], matcher: Callable[[str], str | None]) -> tuple[str, list[list[Any]], Any, Any]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(fh, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged package
        raise SpreadsheetError(_("The workbook is damaged and cannot be read.")) from None
    try:
        sheets = [ws for ws in workbook.worksheets if ws.__class__.__name__ == "ReadOnlyWorksheet"]
        if not sheets:
            raise SpreadsheetError(_("The workbook has no worksheet with a table."))
        chosen, best = sheets[0], -1
        if len(sheets) > 1:
            for ws in sheets:
                head = [list(r) for r in ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)]
                score = max((_header_score(r, matcher)[0] for r in head), default=0)
                if score > best:
                    chosen, best = ws, score
        rows: list[list[Any]] = []
        for values in chosen.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_DATA_ROWS + HEADER_SEARCH_ROWS + 2:
                raise SpreadsheetError(
                    _("The file has more than %(n)s rows: split it into smaller files.", n=MAX_DATA_ROWS)
                )
        return chosen.title, rows, _sheet_path(chosen), workbook
    except SpreadsheetError:
        workbook.close()
        raise
    except Exception:
        workbook.close()
        raise SpreadsheetError(_("The workbook is damaged and cannot be read.")) from None


def _spread_merged(rows: list[list[Any]], ranges: list[tuple[int, int, int, int]]) -> None:
    """Give every cell of a merged range the value of its top-left cell."""
    for r1, c1, r2, c2 in ranges:
        if r1 >= len(rows):
            continue
        top = rows[r1][c1] if c1 < len(rows[r1]) else None
        if top is None:
            continue
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c2:
                row.extend([None] * (c2 + 1 - len(row)))
            for c in range(c1, c2 + 1):
                if row[c] is None:
                    row[c] = top


# --- CSV -----------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Chinese Excel writes); refuse anything else."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SpreadsheetError(_("The text encoding of the file is not recognised: save it as UTF-8 CSV.")) from None


def _csv_rows(fh: IO[bytes]) -> list[list[Any]]:
    fh.seek(0)
    text = decode_text(fh.read())
    sample = text[:8192]
    delimiter = max((",", "\t", ";", "|"), key=sample.count)
    if sample.count(delimiter) == 0:
        delimiter = ","
    rows = []
    for values in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        rows.append([v if v.strip() else None for v in values])
        if len(rows) > MAX_DATA_ROWS + HEADER_SEARCH_ROWS + 2:
            raise SpreadsheetError(
                _("The file has more than %(n)s rows: split it into smaller files.", n=MAX_DATA_ROWS)
            )
    return rows


# --- both --------------------------------------------------------------------------------------------------


def read_table(fh: IO[bytes], kind: str, matcher: Callable[[str], str | None], key_fields: Iterable[str]) -> Table:
    """The table of a checked spreadsheet: header row, headings and the non-empty data rows."""
    sheet = None
    if kind == XLSX:
        sheet, rows, sheet_path, workbook = _xlsx_rows(fh, matcher)
        try:
            if sheet_path:
                _spread_merged(rows, merged_ranges(fh, sheet_path))
        finally:
            workbook.close()
    else:
        rows = _csv_rows(fh)
    header_index, headers, first_data = find_header(rows, matcher, key_fields)
    table = Table(kind=kind, sheet=sheet, header_row=header_index + 1, headers=headers)
    width = len(headers)
    for index in range(first_data, len(rows)):
        cells = rows[index][:width]
        if any(c is not None and str(c).strip() for c in cells):
            table.rows.append((index + 1, cells + [None] * (width - len(cells))))
    if not table.rows:
        raise SpreadsheetError(_("The table has headings but no rows."))
    return table


def estimate_rows(fh: IO[bytes], kind: str) -> int:
    """A quick upper bound on the data rows, to decide whether to work in the background."""
    fh.seek(0)
    if kind == CSV:
        count = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        fh.seek(0)
        return count
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(fh, read_only=True)
        try:
            return max((ws.max_row or 0) for ws in workbook.worksheets)
        finally:
            workbook.close()
    except Exception:
        return 0
    finally:
        fh.seek(0)
