"""Every exporter, listed by hand: its key, label, formats and writer (``"module:function"``, resolved lazily).

A writer has exactly this signature (see ``crm.exports.writers.write_enterprises``)::

    def write(params: dict[str, Any], fmt: str, out: BinaryIO, *, user: Any,
              generated_at: datetime, progress: Callable[[int, int | None], None]) -> int:

It writes the file to ``out`` within ``user``'s scope and returns the row count. ``params`` are the filters as
plain JSON values (the names of the page's query string); an invalid value raises ``ExportParamsError`` before
anything is written. It calls ``progress(done, total)`` every ~1000 rows, and the file carries the user's name
and ``generated_at`` (Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.core.permissions import Permission, has_permission

#: Every format an exporter may offer.
FORMATS: tuple[str, ...] = ("xlsx", "csv", "pdf")


class ExportParamsError(ValueError):
    """The filters of an export are invalid; the message is in the user's language."""


@dataclass(frozen=True)
class Exporter:
    key: str
    #: A lazy_gettext string shown in "my exports".
    label: Any
    #: A subset of ``FORMATS``.
    formats: tuple[str, ...]
    #: The writer, as "module:function".
    write: str
    permission: Permission = Permission.EXPORT
    #: Optional "module:function(params)" raising ExportParamsError for invalid filters, so that starting an
    #: export refuses them at once (without it, the job itself fails with the writer's message).
    check: str | None = None

    def writer(self) -> Callable[..., int]:
        from crm.enterprises.registry import resolve

        return resolve(self.write)

    def check_params(self, params: Any) -> None:
        """Raise ExportParamsError when the filters are invalid (as far as the exporter can tell up front)."""
        if not isinstance(params, dict):
            raise ExportParamsError(_("The filters must be an object of names and values."))
        if self.check:
            from crm.enterprises.registry import resolve

            resolve(self.check)(params)

    def allows(self, user: Any) -> bool:
        return has_permission(user, Permission.EXPORT) and has_permission(user, self.permission)


EXPORTERS: tuple[Exporter, ...] = (
    Exporter(
        "enterprises",
        _l("Enterprise list"),
        ("xlsx", "csv"),
        "crm.exports.writers:write_enterprises",
        check="crm.exports.writers:check_enterprises",
    ),
    Exporter(
        "pipeline_report",
        _l("Pipeline report"),
        ("xlsx", "csv", "pdf"),
        "crm.reports.exports:pipeline_report_writer",
        Permission.REPORTS,
        check="crm.reports.exports:check_pipeline_params",
    ),
    Exporter(
        "monthly_progress",
        _l("Monthly cultivation progress"),
        ("xlsx", "csv", "pdf"),
        "crm.reports.exports:monthly_progress_writer",
        Permission.REPORTS,
    ),
    Exporter(
        "certified_list",
        _l("Certified enterprises"),
        ("xlsx", "csv", "pdf"),
        "crm.reports.exports:certified_list_writer",
        Permission.REPORTS,
    ),
    Exporter(
        "measure_uptake",
        _l("Uptake of support measures"),
        ("xlsx", "csv", "pdf"),
        "crm.reports.exports:measure_uptake_writer",
        Permission.REPORTS,
    ),
)
EXPORTERS_BY_KEY: dict[str, Exporter] = {e.key: e for e in EXPORTERS}


def exporters_for(user: Any) -> list[Exporter]:
    """The exporters a user may run."""
    return [e for e in EXPORTERS if e.allows(user)]


def exporter_label(key: str) -> str:
    """The label of an exporter key (the key itself when no exporter has it any more)."""
    exporter = EXPORTERS_BY_KEY.get(key)
    return str(exporter.label) if exporter is not None else key
