"""Administrator-editable settings: typed values with defaults declared here, stored in the ``settings`` table.

Features add their definitions to ``DEFINITIONS`` (one line each) and read values with ``get_setting(key)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.core.models import UTCDateTime, utcnow
from crm.extensions import db


@dataclass(frozen=True)
class SettingDefinition:
    key: str
    label: Any
    default: Any
    #: "int", "bool" or "str".
    type: str = "int"
    help: Any = ""
    minimum: int | None = None
    maximum: int | None = None


DEFINITIONS: dict[str, SettingDefinition] = {
    d.key: d
    for d in (
        SettingDefinition(
            "reverification_cycle_years",
            _l("Re-verification cycle (years)"),
            5,
            help=_l("Customs re-verifies an AEO enterprise this often; the due date counts from certification."),
            minimum=1,
            maximum=20,
        ),
        SettingDefinition(
            "unvisited_days",
            _l("Days without a visit before an assigned enterprise is flagged"),
            60,
            minimum=1,
            maximum=730,
        ),
        SettingDefinition(
            "reminder_catch_up_hours",
            _l("Hours after which a missed reminder is skipped instead of sent"),
            36,
            help=_l("When the reminder sweep was down, reminders whose moment passed longer ago are not sent."),
            minimum=1,
            maximum=24 * 14,
        ),
        SettingDefinition(
            "public_url",
            _l("Web address of the CRM"),
            "",
            type="str",
            help=_l("Used for links in emails, e.g. https://aeo.example.gov.cn. Without it emails carry no links."),
        ),
        SettingDefinition(
            "event_link_valid_days",
            _l("Days an event's registration links keep working after the event ends"),
            30,
            help=_l("Enterprises use the link after the event for feedback and attendance certificates."),
            minimum=1,
            maximum=365,
        ),
        SettingDefinition(
            "history_retention_days",
            _l("Days that delivered messages, finished background jobs and past reminders are kept"),
            365,
            help=_l(
                "The nightly housekeeping deletes older ones; messages waiting to be sent and jobs not yet run are "
                "always kept. Notifications in users' notification centres are not affected."
            ),
            minimum=30,
            maximum=3650,
        ),
    )
}


class Setting(db.Model):
    __tablename__ = "settings"
    __audit__ = True

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.key


def get_setting(key: str) -> Any:
    """The stored value of a setting, or its declared default."""
    definition = DEFINITIONS[key]
    row = db.session.get(Setting, key)
    return definition.default if row is None else row.value


def set_setting(key: str, value: Any) -> None:
    definition = DEFINITIONS[key]
    if definition.type == "int":
        value = int(value)
        if definition.minimum is not None and value < definition.minimum:
            raise ValueError(f"{key} must be at least {definition.minimum}")
        if definition.maximum is not None and value > definition.maximum:
            raise ValueError(f"{key} must be at most {definition.maximum}")
    elif definition.type == "bool":
        value = bool(value)
    else:
        value = str(value)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()
