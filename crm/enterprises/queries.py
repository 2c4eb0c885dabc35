"""Read-side helpers for enterprises: API lists, the pool of candidates, the detail page's sections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from crm.core.audit import AuditLog
from crm.core.scope import scope_of, scoped_by_enterprise, scoped_enterprises
from crm.core.timeutil import days_since
from crm.enterprises.identifiers import name_key
from crm.enterprises.listing import ListQuery, ListReference, order_by, search_condition
from crm.enterprises.models import (
    Enterprise,
    EnterpriseImport,
    EnterpriseNote,
    Priority,
    Recommendation,
    SavedView,
)
from crm.extensions import db

#: The filters the API's list accepts (its documented query parameters).
API_FILTERS = ("area", "office", "stage", "category")


def enterprise_list(args: Mapping[str, Any], user: Any = None) -> Select:
    """Enterprises in scope matching the API's filters (``q``, ``area``, ``office``, ``stage``, ``category``)."""
    query = ListQuery.from_args(args, allowed=API_FILTERS)
    ref = ListReference(user)
    return (
        select(Enterprise)
        .where(*query.conditions(ref, user=user))
        .options(*api_load_options())
        .order_by(*order_by(query.sort))
    )


def api_load_options() -> list[Any]:
    return [
        selectinload(Enterprise.area),
        selectinload(Enterprise.office),
        selectinload(Enterprise.business_types),
        selectinload(Enterprise.categories),
        selectinload(Enterprise.commerce_officer),
        selectinload(Enterprise.customs_officer),
    ]


# --- the pool of candidates awaiting screening ---------------------------------------------------------------


def pool_candidates(args: Mapping[str, Any], user: Any = None) -> Select:
    """Ids of the candidates (stage ``candidate``) in scope awaiting the screening decision, highest priority
    first, then the longest waiting; filters: area, office, priority, category, recommending unit, search."""
    stmt = scoped_enterprises(select(Enterprise.id), user=user).where(Enterprise.stage == "candidate")
    ref = ListReference(user)
    query = ListQuery.from_args(args, allowed=("area", "office", "priority", "category"))
    stmt = stmt.where(*query.conditions(ref, user=user)[1:])
    if args.get("unit"):
        from crm.reference.models import RecommendingUnit

        stmt = stmt.where(
            Enterprise.id.in_(
                select(Recommendation.enterprise_id)
                .join(RecommendingUnit, RecommendingUnit.id == Recommendation.unit_id)
                .where(RecommendingUnit.code == args["unit"])
            )
        )
    search = search_condition(args.get("q", ""))
    if search is not None:
        stmt = stmt.where(search)
    return stmt.order_by(Enterprise.priority.asc().nulls_last(), Enterprise.stage_entered_at.asc(), Enterprise.id.asc())


def enterprises_by_id(ids: list[int]) -> list[Enterprise]:
    """The enterprises of a page, in the order of ``ids``, with what the pool shows loaded in bulk."""
    rows = db.session.scalars(
        select(Enterprise)
        .where(Enterprise.id.in_(ids))
        .options(
            selectinload(Enterprise.area),
            selectinload(Enterprise.office),
            selectinload(Enterprise.recommendations).selectinload(Recommendation.unit),
        )
    ).all()
    position = {enterprise_id: index for index, enterprise_id in enumerate(ids)}
    return sorted(rows, key=lambda e: position[e.id])


def first_recommended_on(enterprise: Enterprise) -> Any:
    return min((r.recommended_on for r in enterprise.recommendations), default=None)


def waiting_days(enterprise: Enterprise) -> int:
    return days_since(enterprise.stage_entered_at)


# --- the detail page's own sections ---------------------------------------------------------------------


def contacts_section_context(enterprise: Enterprise) -> dict:
    from flask_login import current_user

    from crm.core.permissions import Permission, has_permission

    return {"contacts": enterprise.contacts, "can_edit": has_permission(current_user, Permission.EDIT)}


@cache
def recommendations_section_records() -> Any:
    """The recommendations section's ``records`` (``DetailSection``): a correlated EXISTS."""
    return select(Recommendation.id).where(Recommendation.enterprise_id == Enterprise.id).exists()


@cache
def _recommendations_statement() -> Select:
    """The recommendations section's query, built once per process (the enterprise id is bound when it runs)."""
    return (
        select(Recommendation)
        .where(Recommendation.enterprise_id == bindparam("enterprise_id"))
        .options(joinedload(Recommendation.unit), joinedload(Recommendation.categories))
        .order_by(Recommendation.recommended_on.desc(), Recommendation.id.desc())
    )


def recommendations_section_context(enterprise: Enterprise, *, has_records: bool = True) -> dict:
    from flask_login import current_user

    from crm.core.permissions import Permission, has_permission
    from crm.reference.cache import user_names

    recommendations: Any = []
    if has_records:
        recommendations = (
            db.session.scalars(_recommendations_statement(), {"enterprise_id": enterprise.id}).unique().all()
        )
    return {
        "recommendations": recommendations,
        "user_names": user_names(),
        "can_edit": has_permission(current_user, Permission.EDIT),
    }


def recommendation_timeline_answer(enterprise: Enterprise, context: dict, wanted: int) -> list[Any]:
    """The recommendation entries of the enterprise's timeline: the section holds every recommendation."""
    from crm.enterprises.timeline import recommendation_entries_of

    return recommendation_entries_of(enterprise.id, context["recommendations"])[:wanted]


def credit_section_context(enterprise: Enterprise) -> dict:
    from flask_login import current_user

    from crm.core.permissions import Permission, has_permission
    from crm.pipeline.queries import credit_events_of
    from crm.reference.cache import user_names

    return {
        "credit_history": credit_events_of(enterprise),
        "user_names": user_names(),
        "can_edit": has_permission(current_user, Permission.EDIT),
    }


@cache
def _recent_notes_statement() -> Select:
    """``recent_notes``' query, built once per process (the values are bound when it runs)."""
    return (
        select(EnterpriseNote)
        .where(EnterpriseNote.enterprise_id == bindparam("enterprise_id"))
        .order_by(EnterpriseNote.created_at.desc(), EnterpriseNote.id.desc())
        .limit(bindparam("limit"))
    )


def recent_notes(enterprise_id: int, limit: int = 5) -> list[EnterpriseNote]:
    return list(db.session.scalars(_recent_notes_statement(), {"enterprise_id": enterprise_id, "limit": limit}))


@cache
def _similar_names_statement() -> Select:
    """``similar_names``' query, built once per process (the values are bound when it runs)."""
    return (
        select(Enterprise.id, Enterprise.name, Enterprise.area_id, Enterprise.office_id)
        .where(Enterprise.name_key == bindparam("name_key"), Enterprise.id != bindparam("exclude_id"))
        .order_by(Enterprise.id)
        .limit(bindparam("limit"))
    )


@cache
def has_namesake() -> Any:
    """A correlated EXISTS on ``Enterprise``: another enterprise has its stored ``name_key`` (read with the record,
    it spares the page ``similar_names``' query for the many enterprises without one). Built once per process
    (an alias of the mapped class costs milliseconds to make)."""
    other = aliased(Enterprise)
    return (
        select(other.id)
        .where(other.name_key == Enterprise.name_key, other.id != Enterprise.id)
        .exists()
        .label("has_namesake")
    )


@cache
def has_notes() -> Any:
    """A correlated EXISTS on ``Enterprise``: it has notes (the page reads them only then)."""
    return select(EnterpriseNote.id).where(EnterpriseNote.enterprise_id == Enterprise.id).exists().label("has_notes")


@cache
def has_audit_entries() -> Any:
    """A correlated EXISTS on ``Enterprise``: the audit trail holds a record of it (its timeline's edits come from
    there: none without one)."""
    return select(AuditLog.id).where(AuditLog.enterprise_id == Enterprise.id).exists().label("has_audit_entries")


def similar_names(enterprise: Enterprise, limit: int = 10, *, namesake: bool | None = None) -> list[Any]:
    """The enterprise page's possible duplicates: ``services.similar_enterprises`` (the first ``limit`` of every
    scope) read as rows of the id, name, area and office (what the warning and the scope check read), those in
    the user's scope kept. ``namesake``: ``has_namesake()`` as read with the enterprise; False answers without a
    query when the stored key is the one its name gives."""
    key = name_key(enterprise.name)
    if not key or (namesake is False and key == enterprise.name_key):
        return []
    params = {"name_key": key, "exclude_id": enterprise.id, "limit": limit}
    scope = scope_of()
    return [row for row in db.session.execute(_similar_names_statement(), params) if scope.contains(row)]


def scoped_notes(user: Any = None) -> Select:
    return scoped_by_enterprise(select(EnterpriseNote), EnterpriseNote.enterprise_id, user=user)


# --- saved views and imports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedViewEntry:
    """What the list's menu shows of a saved view (a snapshot: kept between requests, never an ORM instance)."""

    id: int
    name: str
    is_shared: bool
    owner_id: int
    owner_name: str | None


def saved_views_for(user: Any) -> tuple[tuple[SavedViewEntry, ...], tuple[SavedViewEntry, ...]]:
    """(the user's own views, views colleagues shared), each by name; kept per data version (``saved_views`` is a
    watched table, so saving, sharing or deleting a view is seen by the next request) and reference version (the
    owners' names)."""
    from crm.auth.models import User
    from crm.enterprises.counts_cache import cached_per_version

    def load() -> tuple[tuple[SavedViewEntry, ...], tuple[SavedViewEntry, ...]]:
        rows = db.session.execute(
            select(SavedView.id, SavedView.name, SavedView.is_shared, SavedView.owner_id, User.display_name)
            .join(User, User.id == SavedView.owner_id)
            .where((SavedView.owner_id == user.id) | SavedView.is_shared.is_(True))
            .order_by(SavedView.name, SavedView.id)
        )
        views = [SavedViewEntry(*row) for row in rows]
        return (
            tuple(v for v in views if v.owner_id == user.id),
            tuple(v for v in views if v.owner_id != user.id),
        )

    return cached_per_version(("saved-views", user.id), load)


def imports_visible_to(user: Any) -> Select:
    """Import records: everyone's for admins and managers, otherwise the user's own."""
    stmt = select(EnterpriseImport).options(selectinload(EnterpriseImport.created_by))
    if not scope_of(user).unrestricted:
        stmt = stmt.where(EnterpriseImport.created_by_id == user.id)
    return stmt.order_by(EnterpriseImport.created_at.desc(), EnterpriseImport.id.desc())


def priority_rank(priority: Priority | None) -> int:
    return {Priority.A: 0, Priority.B: 1, Priority.C: 2}.get(priority, 3)


def parse_before(value: str | None) -> datetime | None:
    """The timeline's ``before`` argument (an ISO instant), or None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
