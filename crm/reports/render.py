"""Report documents and their files: XLSX (xlsxwriter), CSV (UTF-8 with BOM) and PDF (WeasyPrint, A4 landscape).

A ``Document`` is what every report hands to the writers: a title, the exporter's name, the generation time,
the filters used, and sheets of columns and rows. Files always carry Chinese headings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app, render_template

from crm.core.exports import safe_cell
from crm.core.timeutil import to_local

CSV_BOM = b"\xef\xbb\xbf"
STYLESHEET = Path(__file__).with_name("report.css")
FORMATS = ("xlsx", "csv", "pdf")
MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class Column:
    header: str
    #: "text", "int", "float" (one decimal), "percent" (a number already in percent) or "date".
    kind: str = "text"
    width: float = 10


@dataclass
class Sheet:
    name: str
    title: str
    columns: list[Column]
    rows: Iterable[Sequence[Any]]
    #: Rows written in bold after the data (totals).
    footer: list[Sequence[Any]] = field(default_factory=list)
    note: str = ""
    #: For the PDF: column positions shown together in one table (the first column is repeated in each).
    pdf_column_groups: list[list[int]] | None = None
    #: Leave this sheet out of the PDF (detail rows).
    in_pdf: bool = True


@dataclass
class Document:
    title: str
    exporter: str
    generated_at: datetime
    #: (label, value) of the period and each filter used.
    filters: list[tuple[str, str]]
    sheets: list[Sheet]

    @property
    def generated_text(self) -> str:
        return to_local(self.generated_at).strftime("%Y-%m-%d %H:%M")

    def header_lines(self) -> list[str]:
        filters = "；".join(f"{label}：{value}" for label, value in self.filters) or "无"
        return [self.title, f"导出人：{self.exporter}　导出时间：{self.generated_text}", f"筛选条件：{filters}"]


Progress = Callable[[int, int | None], None]


def write(document: Document, fmt: str, out: BinaryIO, progress: Progress | None = None) -> None:
    {"xlsx": write_xlsx, "csv": write_csv, "pdf": write_pdf}[fmt](document, out, progress or (lambda d, t: None))


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "float" and isinstance(value, (int, float)):
        return round(float(value), 1)
    return safe_cell(value)


# --- XLSX ------------------------------------------------------------------------------------------------


def write_xlsx(document: Document, out: BinaryIO, progress: Progress) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    title = workbook.add_format({"bold": True, "font_size": 14})
    meta = workbook.add_format({"font_color": "#555555"})
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    formats = {
        "int": workbook.add_format({"num_format": "#,##0", "border": 1}),
        "float": workbook.add_format({"num_format": "0.0", "border": 1}),
        "percent": workbook.add_format({"num_format": '0.0"%"', "border": 1}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd", "border": 1}),
        "text": workbook.add_format({"border": 1}),
    }
    bold = {kind: workbook.add_format({**_props(kind), "bold": True, "top": 2}) for kind in formats}
    written = 0
    for sheet in document.sheets:
        worksheet = workbook.add_worksheet(sheet.name[:31])
        worksheet.write_string(0, 0, sheet.title or document.title, title)
        for line, text in enumerate(document.header_lines()[1:], start=1):
            worksheet.write_string(line, 0, text, meta)
        row_number = 3
        if sheet.note:
            worksheet.write_string(row_number, 0, sheet.note, meta)
            row_number += 1
        header_row = row_number + 1
        for index, column in enumerate(sheet.columns):
            worksheet.set_column(index, index, column.width)
            worksheet.write_string(header_row, index, column.header, head)
        worksheet.freeze_panes(header_row + 1, 1)
        row_number = header_row
        for row in sheet.rows:
            row_number += 1
            _write_row(worksheet, row_number, sheet.columns, row, formats)
            written += 1
            if written % 1000 == 0:
                progress(written, None)
        for row in sheet.footer:
            row_number += 1
            _write_row(worksheet, row_number, sheet.columns, row, bold)
        if row_number > header_row:
            worksheet.autofilter(header_row, 0, row_number - len(sheet.footer), len(sheet.columns) - 1)
    workbook.close()
    progress(written, written)


def _props(kind: str) -> dict[str, Any]:
    return {
        "int": {"num_format": "#,##0"},
        "float": {"num_format": "0.0"},
        "percent": {"num_format": '0.0"%"'},
        "date": {"num_format": "yyyy-mm-dd"},
        "text": {},
    }[kind] | {"border": 1}


def _write_row(worksheet: Any, row_number: int, columns: list[Column], row: Sequence[Any], formats: dict) -> None:
    for index, (column, value) in enumerate(zip(columns, row, strict=False)):
        value = _cell(value, column.kind)
        style = formats[column.kind]
        if isinstance(value, datetime):
            worksheet.write_datetime(row_number, index, value, formats["date"])
        elif isinstance(value, date):
            worksheet.write_datetime(row_number, index, datetime.combine(value, datetime.min.time()), formats["date"])
        elif isinstance(value, bool):
            worksheet.write_string(row_number, index, "是" if value else "否", style)
        elif isinstance(value, (int, float)):
            worksheet.write_number(row_number, index, value, style)
        else:
            worksheet.write_string(row_number, index, str(value), style)


# --- CSV -------------------------------------------------------------------------------------------------


def _csv_text(value: Any, kind: str) -> str:
    value = _cell(value, kind)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(document: Document, out: BinaryIO, progress: Progress) -> None:
    """The first sheet as CSV, after the title, exporter, time and filters lines."""
    sheet = document.sheets[0]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    out.write(CSV_BOM)
    for line in document.header_lines():
        writer.writerow([line])
    writer.writerow([])
    writer.writerow([c.header for c in sheet.columns])
    written = 0
    for row in [*sheet.rows, *sheet.footer]:
        writer.writerow([_csv_text(v, c.kind) for c, v in zip(sheet.columns, row, strict=False)])
        written += 1
        if written % 1000 == 0:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            progress(written, None)
    out.write(buffer.getvalue().encode("utf-8"))
    progress(written, written)


# --- PDF -------------------------------------------------------------------------------------------------


def _pdf_text(value: Any, kind: str) -> str:
    value = _cell(value, kind)
    if kind == "percent" and value != "":
        return f"{value:.1f}%"
    if kind == "float" and value != "":
        return f"{value:.1f}"
    if kind == "int" and isinstance(value, int):
        return f"{value:,}"
    return _csv_text(value, kind)


def write_pdf(document: Document, out: BinaryIO, progress: Progress) -> None:
    """A4 landscape; the text is real text in the machine's CJK font (embedded), so it can be selected."""
    from weasyprint import CSS, HTML  # imported here: loading WeasyPrint takes a moment

    tables = []
    for sheet in document.sheets:
        if not sheet.in_pdf:
            continue
        rows = [list(row) for row in sheet.rows]
        groups = sheet.pdf_column_groups or [list(range(len(sheet.columns)))]
        for group in groups:
            positions = group if 0 in group else [0, *group]
            tables.append(
                {
                    "title": sheet.title,
                    "note": sheet.note,
                    "headers": [sheet.columns[i].header for i in positions],
                    "numeric": [sheet.columns[i].kind != "text" for i in positions],
                    "rows": [[_pdf_text(row[i], sheet.columns[i].kind) for i in positions] for row in rows],
                    "footer": [[_pdf_text(row[i], sheet.columns[i].kind) for i in positions] for row in sheet.footer],
                }
            )
        progress(len(rows), len(rows))
    html = render_template("reports/document.html", document=document, tables=tables)
    pdf = HTML(string=html, base_url=current_app.root_path).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
    out.write(pdf)
