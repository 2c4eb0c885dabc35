"""The enterprise timeline: entries from every provider in ``TIMELINE_PROVIDERS``, merged newest first.

A provider is ``timeline_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50)
-> list[TimelineEntry]``: at most ``limit`` entries strictly older than ``before``, newest first. Other
features add theirs with one line, as a ``"crm.<pkg>.queries:timeline_entries"`` string.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, bindparam, case, cast, func, or_, select, true
from sqlalchemy.orm import joinedload

from crm.core.audit import AuditAction, AuditLog
from crm.core.models import UTCDateTime
from crm.core.timeline import TimelineEntry
from crm.core.timeutil import local_date_of, local_midnight_of, local_tz
from crm.enterprises.models import ContactRole, CreditStatus, EnterpriseNote, Priority, Recommendation, TargetTier
from crm.enterprises.registry import resolve
from crm.extensions import db

Provider = Callable[..., list[TimelineEntry]]


def _display_names(ids: set[int | None]) -> dict[int, str]:
    """{user id: name} of the given users, from the per-process cache of every user's name (no query)."""
    from crm.reference.cache import user_names

    ids = {i for i in ids if i}
    if not ids:
        return {}
    names = user_names()
    return {i: names[i] for i in ids if i in names}


def stage_change_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """Every move between pipeline stages, with its comment or override reason."""
    from crm.pipeline.models import StageChange

    stmt = select(StageChange).where(StageChange.enterprise_id == enterprise_id)
    if before is not None:
        stmt = stmt.where(StageChange.changed_at < before)
    changes = db.session.scalars(stmt.order_by(StageChange.changed_at.desc(), StageChange.id.desc()).limit(limit)).all()
    return stage_change_entries_of(changes)


def stage_change_entries_of(changes: Sequence[Any]) -> list[TimelineEntry]:
    """Timeline entries of stage changes already loaded."""
    from crm.pipeline.queries import stage_rows

    if not changes:
        return []
    stages = {s.code: s.display_name for s in stage_rows()}
    names = _display_names({c.changed_by_id for c in changes})
    entries = []
    for change in changes:
        to_name = stages.get(change.to_stage, change.to_stage)
        if change.from_stage is None:
            title = _("Entered the pipeline: %(stage)s", stage=to_name)
        else:
            title = _(
                "Stage: %(from)s → %(to)s", **{"from": stages.get(change.from_stage, change.from_stage), "to": to_name}
            )
        body = change.comment or ""
        if change.override_reason:
            body = (body + "\n" if body else "") + _("Override: %(reason)s", reason=change.override_reason)
        entries.append(
            TimelineEntry(
                at=change.changed_at,
                kind="stage",
                title=title,
                body=body,
                author=names.get(change.changed_by_id),
                icon="signpost-split",
            )
        )
    return entries


def note_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    stmt = select(EnterpriseNote).where(EnterpriseNote.enterprise_id == enterprise_id)
    if before is not None:
        stmt = stmt.where(EnterpriseNote.created_at < before)
    notes = db.session.scalars(stmt.order_by(EnterpriseNote.created_at.desc(), EnterpriseNote.id.desc()).limit(limit))
    return note_entries_of(enterprise_id, list(notes))


def note_entries_of(enterprise_id: int, notes: Sequence[EnterpriseNote]) -> list[TimelineEntry]:
    """Timeline entries of notes already loaded."""
    names = _display_names({n.author_id for n in notes})
    page = url_for("enterprises.detail", enterprise_id=enterprise_id)
    return [
        TimelineEntry(
            at=note.created_at,
            kind="note",
            title=_("Note"),
            body=note.body,
            author=names.get(note.author_id),
            url=f"{page}#note-{note.id}",
            icon="chat-left-text",
        )
        for note in notes
    ]


def recommendation_entries(
    enterprise_id: int, *, before: datetime | None = None, limit: int = 50
) -> list[TimelineEntry]:
    stmt = select(Recommendation).where(Recommendation.enterprise_id == enterprise_id)
    if before is not None:
        stmt = stmt.where(Recommendation.created_at < before)
    rows = list(
        db.session.scalars(
            stmt.options(joinedload(Recommendation.unit))
            .order_by(Recommendation.created_at.desc(), Recommendation.id)
            .limit(limit)
        )
    )
    return recommendation_entries_of(enterprise_id, rows)


def recommendation_entries_of(enterprise_id: int, rows: Sequence[Recommendation]) -> list[TimelineEntry]:
    """Timeline entries of recommendations already loaded (with their units), newest recorded first."""
    names = _display_names({r.recommended_by_id for r in rows})
    url = url_for("enterprises.detail", enterprise_id=enterprise_id, _anchor="section-recommendations")
    return [
        TimelineEntry(
            at=r.created_at,
            kind="recommendation",
            title=_(
                "Recommended by %(unit)s (priority %(priority)s)",
                unit=r.unit.display_name if r.unit else "—",
                priority=r.priority.value,
            ),
            body=r.reason,
            author=names.get(r.recommended_by_id),
            url=url,
            icon="hand-thumbs-up",
        )
        # newest first; recorded together (one import): in the order they were added
        for r in sorted(sorted(rows, key=lambda r: r.id), key=lambda r: r.created_at, reverse=True)
    ]


#: The audited record types whose changes the timeline shows as edits, and the actions shown for each.
EDIT_RECORDS: dict[str, tuple[str, ...]] = {
    "Enterprise": (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.MERGE, AuditAction.IMPORT),
    "Contact": (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE),
    "Recommendation": (AuditAction.UPDATE, AuditAction.DELETE),
    "CreditStatusChange": (AuditAction.CREATE,),
}

FIELD_LABELS: dict[str, Any] = {
    "name": _l("Name"),
    "uscc": _l("Unified social credit code"),
    "customs_code": _l("Customs registration code"),
    "area_id": _l("Area"),
    "office_id": _l("Customs office"),
    "industry": _l("Industry"),
    "target_tier": _l("Target tier"),
    "trade_value": _l("Import and export value last year (10,000 USD)"),
    "employees": _l("Employees"),
    "address": _l("Address"),
    "credit_status": _l("Credit status"),
    "priority": _l("Priority"),
    "commerce_officer_id": _l("Commerce staff"),
    "customs_officer_id": _l("Customs officer"),
    "coordinator_id": _l("Enterprise coordinator"),
    "notes": _l("Remarks"),
    "business_types": _l("Business types"),
    "categories": _l("Key-enterprise categories"),
    "role": _l("Role"),
    "title": _l("Job title"),
    "mobile": _l("Mobile"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "is_primary": _l("Primary contact"),
    "reason": _l("Reason"),
    "recommended_on": _l("Date"),
    "unit_id": _l("Recommending unit"),
    "incentives_suspended": _l("Incentives suspended"),
}
_HIDDEN_FIELDS = {"name_key", "updated_by_id", "created_by_id", "stage", "stage_entered_at", "import_batch_id", "id"}
_ENUMS = {
    "target_tier": TargetTier,
    "credit_status": CreditStatus,
    "priority": Priority,
    "role": ContactRole,
    "status": CreditStatus,
}


def _show(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    enum = _ENUMS.get(field)
    if enum is not None:
        try:
            return enum(value).label
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _edit_title(log: AuditLog) -> tuple[str, str]:
    changes = log.changes or {}
    shown = {k: v for k, v in changes.items() if k not in _HIDDEN_FIELDS and k in FIELD_LABELS}
    lines = []
    for field, change in shown.items():
        label = FIELD_LABELS[field]
        if isinstance(change, dict):
            parts = []
            if change.get("added"):
                parts.append("+ " + "、".join(str(v) for v in change["added"]))
            if change.get("removed"):
                parts.append("− " + "、".join(str(v) for v in change["removed"]))
            lines.append(f"{label}: {' '.join(parts)}")
        elif isinstance(change, list) and len(change) == 2 and not field.endswith("_id"):
            lines.append(f"{label}: {_show(field, change[0])} → {_show(field, change[1])}")
        else:
            lines.append(str(label))
    body = "\n".join(lines)
    record, action = log.record_type, log.action
    if record == "Enterprise":
        if action == AuditAction.CREATE:
            return _("Enterprise added"), ""
        if action == AuditAction.MERGE:
            return _("Merged with a duplicate record"), log.summary
        if action == AuditAction.IMPORT:
            return _("Imported from %(file)s", file=log.summary), ""
        return _("Details changed"), body
    if record == "Contact":
        if action == AuditAction.CREATE:
            return _("Contact added: %(name)s", name=log.summary), ""
        if action == AuditAction.DELETE:
            return _("Contact removed: %(name)s", name=log.summary), ""
        return _("Contact changed: %(name)s", name=log.summary), body
    if record == "Recommendation":
        if action == AuditAction.DELETE:
            return _("Recommendation removed"), ""
        return _("Recommendation changed"), body
    return _(
        "Credit status recorded: %(status)s", status=_show("status", (changes.get("status") or [None, None])[1])
    ), (_show("source", (changes.get("source") or [None, ""])[1]) if changes.get("source") else "")


@cache
def _edit_statement(has_before: bool, limit: int) -> Any:
    """``edit_entries``' query, built once per process for each shape (the values are bound when it runs)."""
    from sqlalchemy import or_

    clauses = [
        and_(AuditLog.record_type == record, AuditLog.action.in_(actions)) for record, actions in EDIT_RECORDS.items()
    ]
    stmt = select(AuditLog).where(AuditLog.enterprise_id == bindparam("enterprise_id"), or_(*clauses))
    if has_before:
        stmt = stmt.where(AuditLog.created_at < bindparam("before"))
    return stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)


def edit_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """Changes to the enterprise, its contacts, recommendations and credit status, from the audit trail."""
    params: dict[str, Any] = {"enterprise_id": enterprise_id}
    if before is not None:
        params["before"] = before
    logs = list(db.session.scalars(_edit_statement(before is not None, limit), params))
    names = _display_names({log.actor_id for log in logs})
    entries = []
    for log in logs:
        title, body = _edit_title(log)
        entries.append(
            TimelineEntry(
                at=log.created_at,
                kind="edit",
                title=title,
                body=body,
                author=names.get(log.actor_id) or log.actor_label,
                icon="pencil",
            )
        )
    return entries


def _task_completed_at(tz: Any) -> Any:
    """The instant a done task's completion shows, in SQL: when it was last changed if that was on the day it was
    completed (it was marked done then), else the start of that day (``tz``: the CRM's time zone's name)."""
    from crm.plans.models import CultivationTask

    return case(
        (local_date_of(CultivationTask.updated_at, tz) == CultivationTask.completed_on, CultivationTask.updated_at),
        else_=local_midnight_of(CultivationTask.completed_on, tz),
    )


@cache
def _task_statement(has_before: bool, limit: int) -> Any:
    """``task_entries``' query, built once per process for each shape (the values are bound when it runs).

    Each kind is ranked by the instant its entry shows, newest first (and the latest id first within one
    instant), so the ``limit`` kept of each are the newest; ``before`` applies to the same instant."""
    from crm.plans.models import CultivationTask, TaskStatus

    completed_at = _task_completed_at(bindparam("tz"))
    added = CultivationTask.created_at < bindparam("before") if has_before else true()
    completed = and_(CultivationTask.status == TaskStatus.DONE, CultivationTask.completed_on.isnot(None))
    if has_before:
        completed = and_(completed, completed_at < bindparam("before", type_=UTCDateTime()))
    ranked = (
        select(
            CultivationTask.id.label("id"),
            completed_at.label("completed_at"),
            case((added, 1), else_=0).label("is_added"),
            case((completed, 1), else_=0).label("is_completed"),
            func.row_number()
            .over(
                partition_by=case((added, 1), else_=0), order_by=(CultivationTask.created_at.desc(), CultivationTask.id)
            )
            .label("added_position"),
            func.row_number()
            .over(partition_by=case((completed, 1), else_=0), order_by=(completed_at.desc(), CultivationTask.id.desc()))
            .label("completed_position"),
        )
        .where(CultivationTask.enterprise_id == bindparam("enterprise_id"))
        .subquery()
    )
    return (
        select(
            CultivationTask,
            AuditLog.actor_id,
            AuditLog.actor_label,
            AuditLog.id.label("creation_log_id"),
            ranked.c.completed_at,
            ranked.c.is_added,
            ranked.c.is_completed,
            ranked.c.added_position,
            ranked.c.completed_position,
        )
        .join(ranked, ranked.c.id == CultivationTask.id)
        .outerjoin(
            AuditLog,
            and_(
                AuditLog.record_type == "CultivationTask",
                AuditLog.record_id == cast(CultivationTask.id, String),
                AuditLog.action == AuditAction.CREATE,
            ),
        )
        .where(
            or_(
                and_(ranked.c.is_added == 1, ranked.c.added_position <= limit),
                and_(ranked.c.is_completed == 1, ranked.c.completed_position <= limit),
            )
        )
    )


def task_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """Cultivation tasks: when each was added and, once done, when it was completed (``_task_completed_at``).

    One query for both (the newest added and the latest completed, ranked by window functions), with who
    added each from the audit trail; one more for who completed them when some are done."""

    params: dict[str, Any] = {"enterprise_id": enterprise_id, "tz": str(local_tz())}
    if before is not None:
        params["before"] = before
    rows = db.session.execute(_task_statement(before is not None, limit), params).all()
    # A task with two creation records in the audit trail comes twice: added once, by the latest record's actor.
    latest_creation = {
        row[0]: row
        for row in sorted(
            (row for row in rows if row.is_added and row.added_position <= limit),
            key=lambda row: (row.added_position, row.creation_log_id or 0),
        )
    }
    created = list(latest_creation.values())
    # {task: the instant its completion shows}
    done = {
        row[0]: row.completed_at
        for row in sorted(
            (row for row in rows if row.is_completed and row.completed_position <= limit),
            key=lambda row: row.completed_position,
        )
    }
    completers = _task_completers([t.id for t in done])
    names = _display_names({row.actor_id for row in created} | set(completers.values()) | {t.owner_id for t in done})

    entries = [
        TimelineEntry(
            at=row[0].created_at,
            kind="task",
            title=_("Cultivation task added: %(title)s", title=row[0].title),
            body=row[0].description,
            author=names.get(row.actor_id) or row.actor_label,
            icon="list-check",
        )
        for row in created
    ]
    for task, completed_at in done.items():
        author_id = completers.get(task.id) or task.owner_id
        entries.append(
            TimelineEntry(
                at=completed_at,
                kind="task",
                title=_("Cultivation task completed: %(title)s", title=task.title),
                body=task.completion_note,
                author=names.get(author_id),
                icon="check2-square",
            )
        )
    return entries


def _task_completers(task_ids: list[int]) -> dict[int, int]:
    """{task id: user who marked it done}, from the audit trail."""
    if not task_ids:
        return {}
    logs = db.session.execute(
        select(AuditLog.record_id, AuditLog.actor_id, AuditLog.changes)
        .where(
            AuditLog.record_type == "CultivationTask",
            AuditLog.record_id.in_([str(i) for i in task_ids]),
            AuditLog.action == AuditAction.UPDATE,
        )
        .order_by(AuditLog.id)
    ).all()
    result: dict[int, int] = {}
    for record_id, actor_id, changes in logs:
        status = (changes or {}).get("status")
        if isinstance(status, list) and len(status) == 2 and status[1] == "done" and actor_id:
            result[int(record_id)] = actor_id
    return result


#: Every timeline source, in no particular order (entries are merged by time).
TIMELINE_PROVIDERS: tuple[Provider | str, ...] = (
    "crm.enterprises.timeline:stage_change_entries",
    "crm.enterprises.timeline:note_entries",
    "crm.enterprises.timeline:edit_entries",
    "crm.enterprises.timeline:recommendation_entries",
    "crm.enterprises.timeline:task_entries",
    "crm.standards.queries:timeline_entries",
    "crm.visits.queries:timeline_entries",
    "crm.events.queries:timeline_entries",
)


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    #: Pass as ``before`` to get the next (older) page; None on the last page.
    next_before: datetime | None


def merged_timeline(
    enterprise_id: int,
    *,
    before: datetime | None = None,
    limit: int = 20,
    known: Mapping[Provider | str, list[TimelineEntry]] | None = None,
) -> TimelinePage:
    """One page of the merged timeline, newest first, paginated by time.

    A page ends between two instants (the next one asks for entries older than its cursor): it holds fewer than
    ``limit`` entries when those of one instant would straddle its end, and all of them when they fill it.

    ``known``: entries of some providers that the caller already has (the enterprise page's sections loaded
    them), used instead of calling those providers; each list must hold at least the provider's newest
    ``limit + 1`` entries older than ``before``, or all of them.
    """
    known = known or {}
    streams = [
        known[p] if p in known else resolve(p)(enterprise_id, before=before, limit=limit + 1)
        for p in TIMELINE_PROVIDERS
    ]
    merged = _merge(streams)
    if len(merged) <= limit:
        return TimelinePage(entries=merged, next_before=None)
    boundary = merged[limit].at
    if merged[limit - 1].at != boundary:
        return TimelinePage(entries=merged[:limit], next_before=merged[limit - 1].at)
    # Entries of one instant straddle the page's end (the audit trail stamps every row of a flush with the same
    # time): the cursor is a time, so the page must end between two instants or entries would be skipped.
    newer = [e for e in merged if e.at > boundary]
    if newer:
        # The next page starts with the whole instant: older than a microsecond after it (the types' resolution).
        return TimelinePage(entries=newer, next_before=boundary + timedelta(microseconds=1))
    # The whole page is one instant: show every entry of it.
    return TimelinePage(entries=_entries_at(enterprise_id, boundary, limit), next_before=boundary)


def _merge(streams: Sequence[list[TimelineEntry]]) -> list[TimelineEntry]:
    """The streams' entries newest first; entries of one instant keep the providers' order."""
    return list(
        heapq.merge(*[sorted(s, key=lambda e: e.at, reverse=True) for s in streams], key=lambda e: e.at, reverse=True)
    )


def _entries_at(enterprise_id: int, moment: datetime, limit: int) -> list[TimelineEntry]:
    """Every entry of one instant, from every provider (asking again for more while a provider gives as many of
    that instant as were asked for: some may have been left off)."""
    streams = []
    for provider in TIMELINE_PROVIDERS:
        wanted = limit + 1
        while True:
            entries = resolve(provider)(enterprise_id, before=moment + timedelta(microseconds=1), limit=wanted)
            entries = [e for e in entries if e.at == moment]
            if len(entries) < wanted:
                break
            wanted *= 2
        streams.append(entries)
    return _merge(streams)
