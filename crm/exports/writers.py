"""Writers of the exporters that live in this package: the enterprise list (the list's own streaming export,
with a title block naming who exported it and when)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, BinaryIO

from flask_babel import gettext as _

from crm.core.timeutil import local_tz, to_local
from crm.exports.registry import ExportParamsError

#: Query arguments of the enterprise list besides its filters.
LIST_ARGUMENTS = ("q", "sort")


def title_block(title: str, user: Any, generated_at: datetime) -> list[list[Any]]:
    """The lines above the table: the title, who exported it, and when (in the CRM's time zone)."""
    local = to_local(generated_at)
    return [
        [title],
        ["导出人", getattr(user, "display_name", "") or getattr(user, "username", "")],
        ["生成时间", f"{local:%Y-%m-%d %H:%M} ({local_tz().key})"],
    ]


def enterprise_list_query(params: Mapping[str, Any]):
    """The enterprise list's query from export params, read the way the list reads its query string.

    Unknown names, values that are not plain text or numbers, and unknown sort orders are refused."""
    from crm.enterprises.listing import FILTERS_BY_NAME, LIST_SORTS, ListQuery

    if not isinstance(params, Mapping):
        raise ExportParamsError(_("The filters must be an object of names and values."))
    args: dict[str, str] = {}
    for name, value in params.items():
        if name not in FILTERS_BY_NAME and name not in LIST_ARGUMENTS:
            raise ExportParamsError(_("Unknown filter: %(name)s.", name=str(name)[:60]))
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ExportParamsError(_("The filter %(name)s must be a text or a number.", name=name))
        args[name] = str(value)
    sort = args.get("sort", "").strip()
    if sort and sort.lstrip("-") not in LIST_SORTS:
        raise ExportParamsError(_("Unknown sort order: %(value)s.", value=sort[:60]))
    return ListQuery.from_args(args)


def check_enterprises(params: Mapping[str, Any]) -> None:
    enterprise_list_query(params)


def write_enterprises(
    params: dict[str, Any],
    fmt: str,
    out: BinaryIO,
    *,
    user: Any,
    generated_at: datetime,
    progress: Callable[[int, int | None], None],
) -> int:
    """The enterprise list (its filters, search and sort) within the user's scope, in constant memory."""
    from crm.enterprises import exports
    from crm.enterprises.listing import ListReference

    if fmt not in ("xlsx", "csv"):
        raise ExportParamsError(_("This export has no %(format)s format.", format=str(fmt)[:10]))
    query = enterprise_list_query(params)
    ref = ListReference(user)
    total = exports.count_export(query, ref, user)
    progress(0, total)
    stmt = exports.export_select(query, ref, user)
    preamble = title_block("企业名单", user, generated_at)
    if fmt == "csv":
        for chunk in exports.csv_chunks(stmt, preamble=preamble, progress=lambda n: progress(min(n, total), total)):
            out.write(chunk)
        return total
    # xlsxwriter needs a file of its own (it writes the zip at the end): a temporary one, copied into ``out``.
    fd, path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
    os.close(fd)
    try:
        rows = exports.write_xlsx(stmt, path, preamble=preamble, progress=lambda n: progress(n, total))
        with open(path, "rb") as fh:
            shutil.copyfileobj(fh, out, 1024 * 1024)
    finally:
        os.unlink(path)
    return rows
