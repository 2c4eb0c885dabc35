"""Access to events, in one place (the rule is stated in the package docstring)."""

from __future__ import annotations

from typing import Any

from flask import abort, has_request_context, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true

from crm.core.permissions import Permission, Role, has_permission
from crm.core.scope import scope_of, scoped_by_enterprise
from crm.enterprises.models import Enterprise
from crm.events.models import Event, EventStatus, Invitation, Registration, event_organisers
from crm.extensions import db
from crm.reference.models import CustomsOffice, RecommendingUnit


def _user(user: Any) -> Any:
    if user is None and has_request_context():
        return current_user
    return user


def sees_everything(user: Any) -> bool:
    user = _user(user)
    return bool(user is not None and getattr(user, "is_authenticated", False) and Role(user.role).sees_everything)


def jurisdiction_unit_ids(user: Any = None) -> frozenset[int]:
    """The organising units with a local jurisdiction (an area or an office) that the user belongs to.

    A customs user belongs to the units of their offices, of the offices below them and of the 直属海关 above them.
    """
    user = _user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    # Cached per request (not on ``g``: tests reuse one app context across requests).
    cache = request.environ.setdefault("crm.event_units", {}) if has_request_context() else {}
    if user.id in cache:
        return cache[user.id]
    scope = scope_of(user)
    office_ids = set(scope.office_ids)
    if office_ids:
        direct = [office.id for office in user.offices]
        office_ids |= set(
            db.session.scalars(
                select(CustomsOffice.parent_id).where(CustomsOffice.id.in_(direct), CustomsOffice.parent_id.isnot(None))
            )
        )
    clauses = []
    if scope.area_ids:
        clauses.append(RecommendingUnit.area_id.in_(sorted(scope.area_ids)))
    if office_ids:
        clauses.append(RecommendingUnit.office_id.in_(sorted(office_ids)))
    units = frozenset(db.session.scalars(select(RecommendingUnit.id).where(or_(*clauses)))) if clauses else frozenset()
    cache[user.id] = units
    return units


def provincial_unit_ids() -> Select:
    """Units with neither area nor office: their jurisdiction is the whole province."""
    return select(RecommendingUnit.id).where(RecommendingUnit.area_id.is_(None), RecommendingUnit.office_id.is_(None))


def visible_events_filter(user: Any = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Event`` selecting the events the user may see."""
    user = _user(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return Event.id.is_(None)
    if sees_everything(user):
        return true()
    published = Event.status != EventStatus.DRAFT
    clauses: list[ColumnElement[bool]] = [Event.created_by_id == user.id]
    units = jurisdiction_unit_ids(user)
    if units:
        clauses.append(
            Event.id.in_(select(event_organisers.c.event_id).where(event_organisers.c.unit_id.in_(sorted(units))))
        )
    clauses.append(
        and_(
            published,
            Event.id.in_(
                select(event_organisers.c.event_id).where(event_organisers.c.unit_id.in_(provincial_unit_ids()))
            ),
        )
    )
    scope = scope_of(user)
    if not scope.is_empty:
        clauses.append(
            and_(
                published,
                exists(
                    select(Invitation.id)
                    .join(Enterprise, Enterprise.id == Invitation.enterprise_id)
                    .where(Invitation.event_id == Event.id, scope.enterprise_filter())
                ),
            )
        )
    return or_(*clauses)


def visible_events(stmt: Select | None = None, user: Any = None) -> Select:
    return (stmt if stmt is not None else select(Event)).where(visible_events_filter(user))


def can_manage(event: Event, user: Any = None) -> bool:
    """Edit, invite, register and check in: admins, the creator, and staff of a local organising unit."""
    user = _user(user)
    if not has_permission(user, Permission.EDIT):
        return False
    if Role(user.role) == Role.ADMIN or event.created_by_id == user.id:
        return True
    units = jurisdiction_unit_ids(user)
    return any(unit.id in units for unit in event.organisers)


def can_organise_with(units: list[RecommendingUnit], user: Any = None) -> bool:
    """Whether the user may create (or keep managing) an event organised by these units."""
    user = _user(user)
    if Role(user.role) == Role.ADMIN:
        return True
    mine = jurisdiction_unit_ids(user)
    return any(unit.id in mine or (unit.area_id is None and unit.office_id is None) for unit in units)


def get_event_or_404(event_id: int, *, manage: bool = False, user: Any = None) -> Event:
    """Load a visible event (404 otherwise); ``manage=True`` also requires the right to manage it (403)."""
    event = db.session.scalars(visible_events(user=user).where(Event.id == event_id)).one_or_none()
    if event is None:
        abort(404)
    if manage and not can_manage(event, user):
        abort(403)
    return event


def scoped_registrations(stmt: Select | None = None, user: Any = None) -> Select:
    """Registrations of enterprises in the user's scope."""
    stmt = stmt if stmt is not None else select(Registration)
    return scoped_by_enterprise(stmt, Registration.enterprise_id, user=user)


def scoped_invitations(stmt: Select | None = None, user: Any = None) -> Select:
    stmt = stmt if stmt is not None else select(Invitation)
    return scoped_by_enterprise(stmt, Invitation.enterprise_id, user=user)


def get_registration_or_404(event: Event, registration_id: int, user: Any = None) -> Registration:
    stmt = scoped_registrations(user=user).where(Registration.id == registration_id, Registration.event_id == event.id)
    registration = db.session.scalars(stmt).one_or_none()
    if registration is None:
        abort(404)
    return registration


def get_invitation_or_404(event: Event, invitation_id: int, user: Any = None) -> Invitation:
    stmt = scoped_invitations(user=user).where(Invitation.id == invitation_id, Invitation.event_id == event.id)
    invitation = db.session.scalars(stmt).one_or_none()
    if invitation is None:
        abort(404)
    return invitation
