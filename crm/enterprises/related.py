"""Records that belong to an enterprise, listed by hand in ``ENTERPRISE_RELATED_TABLES``, and the merge of
two duplicate enterprise records.

A merge moves every row of these tables from the absorbed record to the surviving one; an import can be
undone only while none of them holds a row added after the import. Another feature adds its table with one
line, e.g. ``RelatedTable("visits", _l("Visits"))``. A test fails while a table with a foreign key to
``enterprises.id`` is missing here, so nothing is silently deleted with an absorbed record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from crm.core.audit import Actor, AuditAction, current_actor, record_event
from crm.core.models import json_value
from crm.enterprises.models import CreditStatusChange, Enterprise
from crm.extensions import db


@dataclass(frozen=True)
class RelatedTable:
    #: The table's name (resolved in the metadata when used, so any feature's table can be named).
    table: str
    label: Any
    #: The column pointing at the enterprise.
    column: str = "enterprise_id"
    #: Columns unique together with the enterprise column: the absorbed record's clashing rows are dropped
    #: (for link tables such as categories this makes the merged record hold the union).
    unique_with: tuple[str, ...] = ()
    #: The creation time, to tell rows added after an import from the ones it wrote; None: every row counts.
    created_column: str | None = "created_at"
    #: False for plain attributes (link tables): they never stop an undo.
    attaches: bool = True


ENTERPRISE_RELATED_TABLES: tuple[RelatedTable, ...] = (
    RelatedTable("contacts", _l("Contacts")),
    RelatedTable("recommendations", _l("Recommendations")),
    RelatedTable("credit_status_changes", _l("Credit-status history")),
    RelatedTable("stage_changes", _l("Stage changes"), created_column="changed_at"),
    RelatedTable("enterprise_notes", _l("Notes")),
    RelatedTable("enterprise_business_types", _l("Business types"), unique_with=("business_type_id",), attaches=False),
    RelatedTable(
        "enterprise_key_categories", _l("Key-enterprise categories"), unique_with=("key_category_id",), attaches=False
    ),
    RelatedTable("plans", _l("Cultivation plans")),
    RelatedTable("cultivation_tasks", _l("Cultivation tasks")),
    RelatedTable("assessments", _l("Assessments")),
    RelatedTable("stored_files", _l("Files")),
    RelatedTable("certifications", _l("Certifications")),
    RelatedTable("compliance_years", _l("Yearly internal audits and audited reports"), unique_with=("year",)),
    RelatedTable("benefit_records", _l("Support measures used")),
    RelatedTable("visits", _l("Visits")),
    RelatedTable("event_invitations", _l("Training invitations"), unique_with=("event_id",)),
    RelatedTable("event_registrations", _l("Training registrations")),
    RelatedTable("event_feedback", _l("Training feedback")),
    RelatedTable("event_task_completions", _l("Tasks completed by training"), created_column=None, attaches=False),
    RelatedTable("reminders", _l("Reminders sent"), attaches=False),
    RelatedTable("cohort_members", _l("Cohort memberships"), unique_with=("cohort_id",)),
    RelatedTable("cohorts", _l("Cohorts led"), column="lead_enterprise_id"),
)


def _table(name: str) -> Any:
    return db.metadata.tables[name]


def uncovered_tables() -> list[str]:
    """Tables with a foreign key to ``enterprises.id`` that the registry does not list (should be none)."""
    listed = {(r.table, r.column) for r in ENTERPRISE_RELATED_TABLES}
    missing = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            pointing = fk.column.table.name == "enterprises" and table.name != "enterprises"
            if pointing and (table.name, fk.parent.name) not in listed:
                missing.append(f"{table.name}.{fk.parent.name}")
    return sorted(missing)


def attached_counts(enterprise_ids: Select, *, import_batch_id: int | None = None) -> list[tuple[Any, int]]:
    """(label, rows) of records attached to these enterprises after they were imported by that batch."""
    from crm.enterprises.models import EnterpriseImport

    committed_at = (
        select(EnterpriseImport.committed_at).where(EnterpriseImport.id == import_batch_id).scalar_subquery()
        if import_batch_id is not None
        else None
    )
    counts = []
    for related in ENTERPRISE_RELATED_TABLES:
        if not related.attaches:
            continue
        table = _table(related.table)
        stmt = select(func.count()).select_from(table).where(table.c[related.column].in_(enterprise_ids))
        if committed_at is not None and related.created_column:
            stmt = stmt.where(table.c[related.created_column] > committed_at)
        count = db.session.scalar(stmt) or 0
        if count:
            counts.append((related.label, count))
    return counts


# --- merge ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeField:
    #: Enterprise attributes taken together (area and office must stay consistent).
    attributes: tuple[str, ...]
    label: Any
    #: Whether "keep both" is offered (text joined).
    joinable: bool = False


MERGE_FIELDS: tuple[MergeField, ...] = (
    MergeField(("name",), _l("Name")),
    MergeField(("uscc",), _l("Unified social credit code")),
    MergeField(("customs_code",), _l("Customs registration code")),
    MergeField(("area_id", "office_id"), _l("Area and customs office")),
    MergeField(("industry",), _l("Industry")),
    MergeField(("target_tier",), _l("Target tier")),
    MergeField(("trade_value",), _l("Import and export value last year (10,000 USD)")),
    MergeField(("employees",), _l("Employees")),
    MergeField(("address",), _l("Address")),
    MergeField(("priority", "priority_set_by_hand"), _l("Priority")),
    MergeField(("commerce_officer_id",), _l("Commerce staff")),
    MergeField(("customs_officer_id",), _l("Customs officer")),
    MergeField(("notes",), _l("Remarks"), joinable=True),
)
MERGE_FIELDS_BY_KEY = {f.attributes[0]: f for f in MERGE_FIELDS}
KEEP, TAKE, BOTH = "keep", "take", "both"


class MergeRefusedError(ValueError):
    pass


def differing_fields(survivor: Enterprise, absorbed: Enterprise) -> list[MergeField]:
    return [f for f in MERGE_FIELDS if any(getattr(survivor, a) != getattr(absorbed, a) for a in f.attributes)]


def merge_enterprises(
    survivor: Enterprise, absorbed: Enterprise, choices: dict[str, str], *, by: Any = None
) -> dict[str, int]:
    """Merge ``absorbed`` into ``survivor``: chosen values, every related record moved, one audit entry.

    ``choices`` maps a field key (``MergeField.attributes[0]``) to "keep" (the survivor's value), "take"
    (the absorbed record's) or "both" (joined, for text). The survivor keeps its id and pipeline stage; the
    histories are combined. Returns the number of rows moved per table.
    """
    if survivor.id == absorbed.id:
        raise MergeRefusedError(_("Choose two different records."))
    missing = uncovered_tables()
    if missing:
        raise RuntimeError(f"Tables not covered by ENTERPRISE_RELATED_TABLES: {', '.join(missing)}")
    snapshot = {a: json_value(getattr(absorbed, a)) for f in MERGE_FIELDS for a in f.attributes} | {
        "id": absorbed.id,
        "stage": absorbed.stage,
    }
    taken: dict[str, Any] = {}
    for merge_field in MERGE_FIELDS:
        choice = choices.get(merge_field.attributes[0], KEEP)
        if choice == TAKE:
            for attribute in merge_field.attributes:
                taken[attribute] = getattr(absorbed, attribute)
        elif choice == BOTH and merge_field.joinable:
            attribute = merge_field.attributes[0]
            parts = [p for p in (getattr(survivor, attribute), getattr(absorbed, attribute)) if p]
            taken[attribute] = "\n\n".join(dict.fromkeys(parts))
    moved = _move_related(absorbed.id, survivor.id)
    from crm.cohorts.services import drop_self_memberships
    from crm.visits.services import refresh_last_visit

    db.session.expire_all()
    drop_self_memberships(survivor.id)
    refresh_last_visit(survivor.id)  # the absorbed record's visits are the survivor's now
    absorbed_id, absorbed_name = absorbed.id, absorbed.name
    db.session.expunge(absorbed)
    db.session.execute(delete(Enterprise).where(Enterprise.id == absorbed_id))
    db.session.expire_all()
    for attribute, value in taken.items():
        setattr(survivor, attribute, value)
    if "name" in taken:
        from crm.enterprises.identifiers import name_key

        survivor.name_key = name_key(survivor.name)
    _settle_after_merge(survivor)
    survivor.updated_by_id = getattr(by, "id", None)
    db.session.flush()
    from crm.standards.services import reassess_latest

    reassess_latest(survivor.id)  # the business types may now be the union of both records'
    record_event(
        AuditAction.MERGE,
        f"{absorbed_name} (#{absorbed_id}) merged into {survivor.name} (#{survivor.id})",
        record=survivor,
        details={"absorbed": snapshot, "choices": choices, "moved": moved},
        actor=actor_for(by),
    )
    return moved


def actor_for(user: Any) -> Actor:
    """The audit actor: the user who acted (also outside a request), else whoever the context says."""
    actor = current_actor()
    if user is None or actor.user_id == getattr(user, "id", None):
        return actor
    return Actor(user_id=user.id, label=user.username, ip=actor.ip)


def _move_related(from_id: int, to_id: int) -> dict[str, int]:
    moved: dict[str, int] = {}
    for related in ENTERPRISE_RELATED_TABLES:
        table = _table(related.table)
        column = table.c[related.column]
        if related.unique_with:
            other = aliased(table)
            clash = exists().where(
                other.c[related.column] == to_id,
                and_(*(other.c[name] == table.c[name] for name in related.unique_with)),
            )
            db.session.execute(delete(table).where(column == from_id, clash))
        result = db.session.execute(update(table).where(column == from_id).values({related.column: to_id}))
        if result.rowcount:
            moved[related.table] = result.rowcount
    return moved


def _settle_after_merge(survivor: Enterprise) -> None:
    """One primary contact, the priority from the recommendations, the credit status from its history."""
    from crm.enterprises.services import highest_priority

    primaries = [c for c in survivor.contacts if c.is_primary]
    for extra in primaries[1:]:
        extra.is_primary = False
    if not primaries and survivor.contacts:
        survivor.contacts[0].is_primary = True
    if not survivor.priority_set_by_hand:
        survivor.priority = highest_priority(survivor.recommendations)
    latest = db.session.scalars(
        select(CreditStatusChange)
        .where(CreditStatusChange.enterprise_id == survivor.id)
        .order_by(CreditStatusChange.effective_on.desc(), CreditStatusChange.id.desc())
        .limit(1)
    ).first()
    if latest is not None and survivor.credit_status != latest.status:
        survivor.credit_status = latest.status
        survivor.incentives_suspended = latest.status.is_discredited


def describe_value(enterprise: Enterprise, merge_field: MergeField) -> str:
    """A field's value as the merge form shows it."""
    from crm.core.filters import label

    first = merge_field.attributes[0]
    if first == "area_id":
        office = enterprise.office.display_name if enterprise.office else "—"
        return f"{label(enterprise.area)} / {office}"
    if first in ("commerce_officer_id", "customs_officer_id"):
        user = getattr(enterprise, first.removesuffix("_id"))
        return str(user) if user else "—"
    value = getattr(enterprise, first)
    if value is None or value == "":
        return "—"
    return label(value)
