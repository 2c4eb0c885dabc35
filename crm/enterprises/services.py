"""Enterprise operations shared by the pages, the API and the import. They flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask import has_request_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.core.permissions import Role
from crm.core.scope import Scope, scope_of
from crm.core.timeutil import local_today
from crm.enterprises.identifiers import name_key
from crm.enterprises.models import (
    Contact,
    CreditStatus,
    CreditStatusChange,
    Enterprise,
    EnterpriseNote,
    Priority,
    Recommendation,
)
from crm.enterprises.validation import (
    check_customs_code,
    check_uscc,
    enterprise_with_customs_code,
    enterprise_with_uscc,
    office_area_message,
    officer_message,
    scope_message,
)
from crm.extensions import db
from crm.pipeline.services import enter_first_stage

#: Fields a form or the API may set, besides the collections (business_types, categories).
SIMPLE_FIELDS = (
    "name",
    "uscc",
    "customs_code",
    "area",
    "office",
    "industry",
    "target_tier",
    "trade_value",
    "employees",
    "address",
    "priority",
    "commerce_officer",
    "customs_officer",
    "notes",
)
COLLECTION_FIELDS = ("business_types", "categories")
PRIORITY_ORDER = {Priority.A: 0, Priority.B: 1, Priority.C: 2}


class InvalidEnterpriseError(ValueError):
    """Field errors ({field: [messages]}) that stop a create or update; nothing was changed."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


class DuplicateEnterpriseError(ValueError):
    """The 统一社会信用代码 is already the identity of another enterprise."""

    def __init__(self, existing: Enterprise):
        super().__init__(existing.uscc)
        self.existing = existing


def _add(errors: dict[str, list[str]], field: str, message: str | None) -> None:
    if message:
        errors.setdefault(field, []).append(message)


def check_values(
    values: Mapping[str, Any], *, enterprise: Enterprise | None = None, user: Any = None
) -> tuple[dict[str, Any], dict[str, list[str]], list[str]]:
    """Normalise and check values for a create (``enterprise`` None) or an update (only the keys given).

    Returns (clean values, field errors, warnings). Raises DuplicateEnterpriseError for a USCC that belongs to
    another enterprise, so callers can link to it (or answer 409).
    """
    clean = dict(values)
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    creating = enterprise is None
    exclude_id = None if creating else enterprise.id

    if "name" in values or creating:
        name = (values.get("name") or "").strip()
        if not name:
            _add(errors, "name", _("Enter the enterprise's name."))
        elif len(name) > 200:
            _add(errors, "name", _("The name may have at most 200 characters."))
        clean["name"] = name
    if "uscc" in values or creating:
        code, error = check_uscc(values.get("uscc"))
        _add(errors, "uscc", error)
        clean["uscc"] = code
        if not error:
            existing = enterprise_with_uscc(code, exclude_id)
            if existing is not None:
                raise DuplicateEnterpriseError(existing)
    if "customs_code" in values:
        code, error, warning = check_customs_code(values.get("customs_code"))
        _add(errors, "customs_code", error)
        if warning:
            warnings.append(warning)
        clean["customs_code"] = code
        if code and not error:
            other = enterprise_with_customs_code(code, exclude_id)
            if other is not None:
                _add(
                    errors,
                    "customs_code",
                    _("This customs registration code is already recorded for %(name)s.", name=_visible_name(other)),
                )
    area = clean["area"] if "area" in values else getattr(enterprise, "area", None)
    office = clean["office"] if "office" in values else getattr(enterprise, "office", None)
    if creating and area is None:
        _add(errors, "area", _("Choose the area."))
    if "area" in values or "office" in values:
        _add(errors, "office", office_area_message(office, area))
        if area is not None:
            _add(errors, "area" if "area" in values else "office", scope_message(writer_scope(user), area, office))
    for field, role in (("commerce_officer", Role.BUREAU), ("customs_officer", Role.CUSTOMS)):
        # Checked when set, and again when the area or office changes under an assigned officer.
        if field in values or "area" in values or "office" in values:
            officer = clean[field] if field in values else getattr(enterprise, field, None)
            _add(errors, field, officer_message(officer, role, area, office))
    if "trade_value" in values and values["trade_value"] is not None and values["trade_value"] < 0:
        _add(errors, "trade_value", _("The value cannot be negative."))
    if "employees" in values and values["employees"] is not None and values["employees"] < 0:
        _add(errors, "employees", _("The value cannot be negative."))
    for field in ("industry", "address", "notes"):
        if field in values:
            clean[field] = (values.get(field) or "").strip()
    return clean, errors, warnings


def writer_scope(user: Any) -> Scope:
    """The scope a write is checked against: the user's, or everything for the system (CLI, jobs)."""
    if user is None and not has_request_context():
        return Scope(unrestricted=True)
    return scope_of(user)


def _visible_name(enterprise: Enterprise) -> str:
    return enterprise.name if scope_of().contains(enterprise) else _("an enterprise outside your jurisdiction")


def _apply(enterprise: Enterprise, clean: Mapping[str, Any]) -> None:
    for field in SIMPLE_FIELDS:
        if field in clean:
            setattr(enterprise, field, clean[field])
    if "name" in clean:
        enterprise.name_key = name_key(clean["name"])
    for field in COLLECTION_FIELDS:
        if field in clean:
            setattr(enterprise, field, list(clean[field]))
    if "priority" in clean:
        enterprise.priority_set_by_hand = clean["priority"] is not None
        if clean["priority"] is None:
            enterprise.priority = highest_priority(enterprise.recommendations)


def new_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for a new enterprise: the optional identity fields are checked even when left out."""
    return {"customs_code": None, "office": None, **values}


def create_enterprise(
    values: Mapping[str, Any], *, by: Any = None, credit_status: CreditStatus = CreditStatus.REGULAR
) -> tuple[Enterprise, list[str]]:
    """Create an enterprise in the ``candidate`` stage; returns it with warnings (e.g. an unusual customs code).

    Raises InvalidEnterpriseError or DuplicateEnterpriseError and changes nothing then.
    """
    clean, errors, warnings = check_values(new_values(values), user=by)
    if errors:
        raise InvalidEnterpriseError(errors)
    enterprise = Enterprise(credit_status=credit_status, created_by_id=getattr(by, "id", None))
    enterprise.updated_by_id = enterprise.created_by_id
    _apply(enterprise, clean)
    db.session.add(enterprise)
    enter_first_stage(enterprise, by=by)
    db.session.flush()
    db.session.add(
        CreditStatusChange(
            enterprise_id=enterprise.id,
            status=credit_status,
            effective_on=local_today(),
            source=_("Recorded when the enterprise was added"),
            recorded_by_id=getattr(by, "id", None),
        )
    )
    db.session.flush()
    return enterprise, warnings


def update_enterprise(enterprise: Enterprise, values: Mapping[str, Any], *, by: Any = None) -> list[str]:
    """Change the given fields; raises InvalidEnterpriseError or DuplicateEnterpriseError and changes nothing then."""
    clean, errors, warnings = check_values(values, enterprise=enterprise, user=by)
    if errors:
        raise InvalidEnterpriseError(errors)
    types_before = {t.id for t in enterprise.business_types}
    _apply(enterprise, clean)
    enterprise.updated_by_id = getattr(by, "id", None)
    db.session.flush()
    if {t.id for t in enterprise.business_types} != types_before:
        from crm.standards.services import reassess_latest

        reassess_latest(enterprise.id)
    return warnings


def similar_enterprises(name: str, *, exclude_id: int | None = None, limit: int = 10) -> list[Enterprise]:
    """Enterprises whose name matches ignoring company-form words, brackets and spaces (all scopes)."""
    key = name_key(name)
    if not key:
        return []
    stmt = select(Enterprise).where(Enterprise.name_key == key).order_by(Enterprise.id).limit(limit)
    if exclude_id is not None:
        stmt = stmt.where(Enterprise.id != exclude_id)
    return list(db.session.scalars(stmt))


# --- contacts --------------------------------------------------------------------------------------------


def save_contact(enterprise: Enterprise, contact: Contact | None, values: Mapping[str, Any]) -> Contact:
    """Add or change a contact. The first contact becomes primary; marking one primary unmarks the others."""
    if contact is None:
        contact = Contact(enterprise=enterprise)
        db.session.add(contact)
    for field in ("name", "role", "title", "mobile", "phone", "email"):
        if field in values:
            setattr(contact, field, values[field] if values[field] is not None else "")
    others = [c for c in enterprise.contacts if c is not contact]
    if values.get("is_primary") or not any(c.is_primary for c in others):
        for other in others:
            if other.is_primary:
                other.is_primary = False
        contact.is_primary = True
    elif "is_primary" in values and not values["is_primary"]:
        contact.is_primary = False
    db.session.flush()
    return contact


def delete_contact(contact: Contact) -> None:
    """Remove a contact; when it was primary the next one becomes primary."""
    enterprise = contact.enterprise
    was_primary = contact.is_primary
    enterprise.contacts.remove(contact)
    db.session.delete(contact)
    if was_primary and enterprise.contacts:
        enterprise.contacts[0].is_primary = True
    db.session.flush()


# --- recommendations -------------------------------------------------------------------------------------


def highest_priority(recommendations: Iterable[Recommendation]) -> Priority | None:
    priorities = [r.priority for r in recommendations if r.priority is not None]
    return min(priorities, key=PRIORITY_ORDER.__getitem__) if priorities else None


class InvalidRecommendationError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


def save_recommendation(
    enterprise: Enterprise,
    recommendation: Recommendation | None,
    *,
    unit: Any,
    recommended_on: date | None,
    reason: str = "",
    priority: Priority = Priority.B,
    categories: Iterable[Any] = (),
    by: Any = None,
) -> Recommendation:
    """Record a unit's recommendation (入库推荐) of the enterprise, or change one.

    The enterprise takes the recommendation's categories, and its priority follows the highest one unless a
    user set it by hand. An enterprise that has never entered the pipeline enters ``candidate``.
    """
    errors: dict[str, list[str]] = {}
    if unit is None:
        _add(errors, "unit", _("Choose the recommending unit."))
    else:
        clash = next((r for r in enterprise.recommendations if r.unit_id == unit.id and r is not recommendation), None)
        if clash is not None:
            _add(errors, "unit", _("This unit has already recommended the enterprise; change that recommendation."))
    day = recommended_on or local_today()
    if day > local_today():
        _add(errors, "recommended_on", _("The date cannot be in the future."))
    if errors:
        raise InvalidRecommendationError(errors)
    if recommendation is None:
        recommendation = Recommendation(enterprise=enterprise, recommended_by_id=getattr(by, "id", None))
        db.session.add(recommendation)
    recommendation.unit = unit
    recommendation.recommended_on = day
    recommendation.reason = (reason or "").strip()
    recommendation.priority = priority
    recommendation.categories = list(categories)
    for category in recommendation.categories:
        if category not in enterprise.categories:
            enterprise.categories.append(category)
    if not enterprise.priority_set_by_hand:
        enterprise.priority = highest_priority(enterprise.recommendations)
    if enterprise.stage is None:
        enter_first_stage(enterprise, by=by)
    db.session.flush()
    return recommendation


def delete_recommendation(recommendation: Recommendation) -> None:
    enterprise = recommendation.enterprise
    enterprise.recommendations.remove(recommendation)
    db.session.delete(recommendation)
    if not enterprise.priority_set_by_hand:
        enterprise.priority = highest_priority(enterprise.recommendations)
    db.session.flush()


# --- notes and credit status ---------------------------------------------------------------------------


def add_note(enterprise: Enterprise, body: str, *, by: Any = None) -> EnterpriseNote:
    note = EnterpriseNote(enterprise_id=enterprise.id, body=body.strip(), author_id=getattr(by, "id", None))
    db.session.add(note)
    db.session.flush()
    return note


def can_delete_note(note: EnterpriseNote, user: Any) -> bool:
    return note.author_id == getattr(user, "id", None) or getattr(user, "role", None) == Role.ADMIN


def record_credit_status(
    enterprise: Enterprise,
    status: CreditStatus,
    *,
    effective_on: date,
    source: str = "",
    note: str = "",
    by: Any = None,
) -> CreditStatusChange:
    """Add a dated entry to the credit-status history; the latest entry is the current status.

    A 失信 status suspends the notice's incentives (measure 22); a later restoration lifts the suspension.
    """
    change = CreditStatusChange(
        enterprise_id=enterprise.id,
        status=status,
        effective_on=effective_on,
        source=source.strip(),
        note=note.strip(),
        recorded_by_id=getattr(by, "id", None),
    )
    db.session.add(change)
    db.session.flush()
    latest = db.session.scalars(
        select(CreditStatusChange)
        .where(CreditStatusChange.enterprise_id == enterprise.id)
        .order_by(CreditStatusChange.effective_on.desc(), CreditStatusChange.id.desc())
        .limit(1)
    ).one()
    if enterprise.credit_status != latest.status:
        enterprise.credit_status = latest.status
    enterprise.incentives_suspended = latest.status.is_discredited
    enterprise.updated_by_id = getattr(by, "id", None)
    db.session.expire(enterprise, ["credit_history"])
    db.session.flush()
    return change


# --- officers and categories (single records and bulk) ----------------------------------------------------


def assign_officer(enterprise: Enterprise, officer: Any, *, by: Any = None) -> str | None:
    """Make ``officer`` the commerce staff or customs officer (by their role); returns a refusal message."""
    role = Role(officer.role)
    field = "commerce_officer" if role == Role.BUREAU else "customs_officer" if role == Role.CUSTOMS else None
    if field is None:
        return _("%(name)s is neither commerce bureau staff nor a customs officer.", name=officer.display_name)
    problem = officer_message(officer, role, enterprise.area, enterprise.office)
    if problem:
        return problem
    if getattr(enterprise, field) is not officer:
        setattr(enterprise, field, officer)
        enterprise.updated_by_id = getattr(by, "id", None)
    return None


def officers_covering(role: Role, area: Any = None, office: Any = None) -> list[Any]:
    """Active users of a role whose jurisdiction covers the area (bureau) or office (customs)."""
    from crm.auth.models import User

    users = db.session.scalars(
        select(User).where(User.role == role, User.is_active.is_(True)).order_by(User.display_name, User.id)
    ).all()
    if area is None and office is None:
        return list(users)
    return [u for u in users if officer_message(u, role, area, office) is None]


def count_by_name_key(keys: Iterable[str]) -> dict[str, int]:
    keys = [k for k in set(keys) if k]
    if not keys:
        return {}
    rows = db.session.execute(
        select(Enterprise.name_key, func.count()).where(Enterprise.name_key.in_(keys)).group_by(Enterprise.name_key)
    )
    return dict(rows.all())
