"""Every watcher a reminder rule can use, in one explicit list.

A rule's ``watch`` code names one entry. An entry says what the watcher looks at, which recipient codes it can
resolve (and on which channels each can be reached), which placeholders its texts may use, and where its
function lives as ``"module:function"``. An entry whose ``function`` is None belongs to a feature whose
records do not exist yet: its rules are seeded and editable, and the sweep reports them as "watcher not
available". Adding a watcher = write the function (contract in ``crm/notifications/__init__.py``) and set
``function`` in its entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from crm.notifications.models import Channel
from crm.notifications.reminders import COMMON_PLACEHOLDERS

BOTH = (Channel.IN_APP, Channel.EMAIL)
EMAIL_ONLY = (Channel.EMAIL,)


@dataclass(frozen=True)
class RecipientOption:
    code: str
    label: Any
    #: The channels this kind of recipient can be reached on (people outside the CRM: email only).
    channels: tuple[Channel, ...] = BOTH


@dataclass(frozen=True)
class WatcherSpec:
    code: str
    label: Any
    #: The watched date, as administrators read it ("the task's due date").
    anchor: Any
    recipients: tuple[RecipientOption, ...]
    #: Placeholders the watcher puts in ``Due.context`` (besides the common ones).
    placeholders: tuple[str, ...]
    #: "package.module:function" of the watcher, or None until its records exist.
    function: str | None = None
    #: Where the function is expected to live once written (shown while it is not available).
    expected: str = ""

    @property
    def available(self) -> bool:
        return bool(self.function)

    @property
    def all_placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*COMMON_PLACEHOLDERS, *self.placeholders)))

    def recipient(self, code: str) -> RecipientOption | None:
        return next((r for r in self.recipients if r.code == code), None)

    def resolve(self) -> Callable[..., Iterable[Any]]:
        """Import the watcher function (an import error here is a bug to see, not a missing feature)."""
        if not self.function:
            raise LookupError(f"watcher {self.code} is not available")
        module_name, _sep, name = self.function.partition(":")
        return getattr(importlib.import_module(module_name), name)


OWNER = RecipientOption("owner", _l("The task's owner"))
OWNER_MANAGER = RecipientOption("owner_manager", _l("The owner's manager"))
COMMERCE_OFFICER = RecipientOption("commerce_officer", _l("Commerce staff in charge"))
CUSTOMS_OFFICER = RecipientOption("customs_officer", _l("Customs officer in charge"))
COORDINATOR = RecipientOption("coordinator", _l("Enterprise coordinator (企业协调员)"))

WATCHERS: dict[str, WatcherSpec] = {
    spec.code: spec
    for spec in (
        WatcherSpec(
            "task_due",
            _l("Cultivation task due date"),
            _l("the task's due date (open tasks of plans in force)"),
            (OWNER, OWNER_MANAGER, COMMERCE_OFFICER, CUSTOMS_OFFICER),
            ("task", "owner", "plan_goal"),
            function="crm.notifications.watchers:cultivation_tasks",
        ),
        WatcherSpec(
            "stage_sla",
            _l("Enterprise past its stage SLA"),
            _l("the first day past the stage's SLA"),
            (COMMERCE_OFFICER, CUSTOMS_OFFICER, COORDINATOR),
            ("stage", "sla_days", "days_in_stage", "entered_on"),
            function="crm.notifications.watchers:stale_enterprises",
        ),
        WatcherSpec(
            "plan_target",
            _l("Plan target application date"),
            _l("the plan's target application date, while the enterprise has not applied"),
            (COMMERCE_OFFICER, CUSTOMS_OFFICER),
            ("stage", "plan_goal"),
            function="crm.notifications.watchers:plan_targets_missed",
        ),
        WatcherSpec(
            "visit_planned",
            _l("Planned visit"),
            _l("the planned visit's date"),
            (RecipientOption("officers", _l("The visit's officers")), COMMERCE_OFFICER, CUSTOMS_OFFICER),
            ("visit_kind", "visit_time", "location"),
            function="crm.visits.reminders:planned_visits",
        ),
        WatcherSpec(
            "event_start",
            _l("Training event"),
            _l("the event's start date"),
            (
                RecipientOption("attendees", _l("Registered attendees"), EMAIL_ONLY),
                RecipientOption("organisers", _l("The event's organisers")),
            ),
            ("event", "start_time", "venue"),
            function="crm.events.reminders:upcoming_events",
        ),
        WatcherSpec(
            "certification_decision",
            _l("Certification decision due"),
            _l("the date the customs decision is due (from the acceptance date)"),
            (CUSTOMS_OFFICER, COMMERCE_OFFICER),
            ("accepted_on", "decision_due_on"),
            function="crm.pipeline.reminders:certification_decisions",
        ),
        WatcherSpec(
            "reverification",
            _l("Re-verification (复核) due"),
            _l("the re-verification due date"),
            (COORDINATOR, CUSTOMS_OFFICER, COMMERCE_OFFICER),
            ("certified_on", "certificate_no"),
            function="crm.pipeline.reminders:reverifications",
        ),
        WatcherSpec(
            "audited_report",
            _l("Yearly audited financial report"),
            _l("30 June of each year, while that year's audited report is not recorded"),
            (COORDINATOR, CUSTOMS_OFFICER, COMMERCE_OFFICER),
            ("year",),
            function="crm.pipeline.reminders:audited_reports",
        ),
        WatcherSpec(
            "internal_audit",
            _l("Yearly internal audit"),
            _l("one year after the last recorded internal audit (or the certification)"),
            (COORDINATOR, CUSTOMS_OFFICER, COMMERCE_OFFICER),
            ("last_audit_on",),
            function="crm.pipeline.reminders:internal_audits",
        ),
    )
}


def describe_recipients(rule: Any) -> list[tuple[Any, list[Channel]]]:
    """(recipient label, channels) of a rule, for display."""
    spec = WATCHERS.get(rule.watch)
    described = []
    for code in rule.recipients or {}:
        option = spec.recipient(code) if spec else None
        described.append((option.label if option else code, rule.channels_for(code)))
    return described
