"""Jurisdiction scope: the one place that decides which enterprises a user may see.

Every list, detail page, search, export, API call, count and reminder goes through these helpers:
- admins and managers see every enterprise;
- commerce-bureau staff see the enterprises of their areas;
- customs officers see the enterprises whose competent office is one of theirs, where a 直属海关 in their
  scope covers its subordinate offices;
- viewers see the areas and offices they were given.
A record outside the caller's scope answers 404, never 403, so its existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import abort, g, has_request_context
from flask_login import current_user
from sqlalchemy import ColumnElement, Row, Select, false, or_, select, true

from crm.core.permissions import Role
from crm.extensions import db

if TYPE_CHECKING:
    from crm.enterprises.models import Enterprise


@dataclass(frozen=True)
class Scope:
    unrestricted: bool
    area_ids: frozenset[int] = frozenset()
    #: The user's offices plus every office subordinate to them.
    office_ids: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.unrestricted and not self.area_ids and not self.office_ids

    def enterprise_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Enterprise`` selecting the enterprises in this scope."""
        from crm.enterprises.models import Enterprise

        if self.unrestricted:
            return true()
        clauses = []
        if self.area_ids:
            clauses.append(Enterprise.area_id.in_(sorted(self.area_ids)))
        if self.office_ids:
            clauses.append(Enterprise.office_id.in_(sorted(self.office_ids)))
        return or_(*clauses) if clauses else false()

    def cache_key(self) -> list[Any]:
        """What identifies the scope in the key of a cached figure (``crm.enterprises.counts_cache``)."""
        return [self.unrestricted, sorted(self.area_ids), sorted(self.office_ids)]

    def contains(self, enterprise: Enterprise) -> bool:
        if self.unrestricted:
            return True
        return enterprise.area_id in self.area_ids or (
            enterprise.office_id is not None and enterprise.office_id in self.office_ids
        )

    def covers_area(self, area_id: int | None) -> bool:
        return self.unrestricted or (area_id is not None and area_id in self.area_ids)

    def covers_office(self, office_id: int | None) -> bool:
        return self.unrestricted or (office_id is not None and office_id in self.office_ids)


def build_scope(user: Any) -> Scope:
    """Compute a user's scope from their role, areas and offices (no caching)."""
    from crm.reference.models import CustomsOffice

    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return Scope(unrestricted=False)
    role = Role(user.role)
    if role.sees_everything:
        return Scope(unrestricted=True)
    area_ids = frozenset(area.id for area in user.areas) if role in (Role.BUREAU, Role.VIEWER) else frozenset()
    office_ids: frozenset[int] = frozenset()
    if role in (Role.CUSTOMS, Role.VIEWER):
        direct = {office.id for office in user.offices}
        if direct:
            children = db.session.scalars(select(CustomsOffice.id).where(CustomsOffice.parent_id.in_(direct)))
            office_ids = frozenset(direct | set(children))
    return Scope(unrestricted=False, area_ids=area_ids, office_ids=office_ids)


def scope_of(user: Any = None) -> Scope:
    """The scope of ``user`` (the current user by default), computed once per request."""
    if user is None:
        user = current_user if has_request_context() else None
    if not has_request_context() or user is None:
        return build_scope(user)
    cache = g.setdefault("_crm_scopes", {})
    key = getattr(user, "id", None)
    if key not in cache:
        cache[key] = _kept_scope(user)
    return cache[key]


def _kept_scope(user: Any) -> Scope:
    """``build_scope(user)``, kept per process with the reference rows it is computed from (users, their
    areas and offices, the offices' hierarchy): see ``crm.reference.cache``."""
    from crm.reference.cache import cached

    user_id = getattr(user, "id", None)
    if user_id is None or not getattr(user, "is_authenticated", False):
        return build_scope(user)
    return cached(("scope", user_id), lambda: build_scope(user))


def forget_scope(user: Any) -> None:
    """Drop a cached scope after the user's areas or offices changed within this request."""
    if has_request_context():
        g.setdefault("_crm_scopes", {}).pop(getattr(user, "id", None), None)


def scoped_enterprises(stmt: Select | None = None, user: Any = None) -> Select:
    """``stmt`` (``select(Enterprise)`` by default) limited to the enterprises in scope."""
    from crm.enterprises.models import Enterprise

    if stmt is None:
        stmt = select(Enterprise)
    return stmt.where(scope_of(user).enterprise_filter())


def enterprise_ids_in_scope(user: Any = None) -> Select:
    """A subquery of the ids of every enterprise in scope, for records that point at an enterprise."""
    from crm.enterprises.models import Enterprise

    return select(Enterprise.id).where(scope_of(user).enterprise_filter())


def enterprise_in_scope(enterprise_id_column: Any, user: Any = None) -> ColumnElement[bool]:
    """A correlated EXISTS: the enterprise ``enterprise_id_column`` points at is in scope (one primary-key
    lookup per outer row). Use it instead of ``IN (enterprise_ids_in_scope())`` where the condition sits under
    an OR, which keeps PostgreSQL from turning the IN into a join and makes it hash every enterprise in scope."""
    from crm.enterprises.models import Enterprise

    scope = scope_of(user)
    if scope.unrestricted:
        return true()
    return (
        select(Enterprise.id)
        .where(Enterprise.id == enterprise_id_column, scope.enterprise_filter())
        .correlate_except(Enterprise)
        .exists()
    )


def scoped_by_enterprise(stmt: Select, enterprise_id_column: Any, user: Any = None) -> Select:
    """Limit a statement over records that belong to an enterprise (visits, tasks, ...) to the scope."""
    scope = scope_of(user)
    if scope.unrestricted:
        return stmt
    return stmt.where(enterprise_id_column.in_(enterprise_ids_in_scope(user)))


def get_enterprise_or_404(
    enterprise_id: int, user: Any = None, *, for_update: bool = False, options: tuple = ()
) -> Enterprise:
    """Load an enterprise the user may see; 404 when it does not exist or lies outside their scope.

    ``options``: loader options (``joinedload(...)``) for what the caller is about to read of it."""
    stmt = _one_enterprise(enterprise_id, user, options)
    if for_update:
        stmt = stmt.with_for_update()
    # unique(): the caller may join-load collections (one query for the record and its short lists).
    enterprise = db.session.scalars(stmt).unique().one_or_none()
    if enterprise is None:
        abort(404)
    return enterprise


def get_enterprise_row_or_404(enterprise_id: int, *columns: Any, user: Any = None, options: tuple = ()) -> Row:
    """``get_enterprise_or_404`` with more values read in the same query: the row (enterprise, *columns), where a
    column may be a correlated subquery on ``Enterprise``."""
    stmt = _one_enterprise(enterprise_id, user, options).add_columns(*columns)
    row = db.session.execute(stmt).unique().one_or_none()
    if row is None:
        abort(404)
    return row


def _one_enterprise(enterprise_id: int, user: Any, options: tuple) -> Select:
    stmt = scoped_enterprises(user=user).where(_enterprise_id_column() == enterprise_id)
    return stmt.options(*options) if options else stmt


def ensure_in_scope(enterprise: Enterprise | None, user: Any = None) -> Enterprise:
    """404 unless the enterprise exists and lies in the user's scope (for records reached indirectly)."""
    if enterprise is None or not scope_of(user).contains(enterprise):
        abort(404)
    return enterprise


def _enterprise_id_column():
    from crm.enterprises.models import Enterprise

    return Enterprise.id
