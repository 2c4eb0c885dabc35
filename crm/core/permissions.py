"""Roles, what each may do, and the decorators that declare who may call a view.

Every view declares its access with one decorator, and the declaration is kept on the view function so that
tests (the permission matrix) read the expectation from the code instead of a second list:
- ``@permission_required(Permission.X, ...)``: a logged-in user holding every permission (none = any user);
- ``@public`` / ``@public(limit=PUBLIC_LINK_LIMIT)``: anyone, logged in or not (login, health, registration
  links reached with a token from an email), optionally rate-limited per client address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm.core.models import LabelledEnum


class Role(LabelledEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    BUREAU = "bureau"
    CUSTOMS = "customs"
    VIEWER = "viewer"

    @classmethod
    def _labels(cls):
        return {
            cls.ADMIN: _l("Administrator"),
            cls.MANAGER: _l("Provincial manager"),
            cls.BUREAU: _l("Commerce bureau staff"),
            cls.CUSTOMS: _l("Customs officer"),
            cls.VIEWER: _l("Viewer"),
        }

    @property
    def sees_everything(self) -> bool:
        """Admins and managers are not limited to areas or offices."""
        return self in (Role.ADMIN, Role.MANAGER)


class Permission(StrEnum):
    #: Create and edit enterprises, contacts, recommendations, plans, tasks, visits, cohorts, events.
    EDIT = "edit"
    #: Move enterprises through the pipeline.
    TRANSITION = "transition"
    #: Decisions that need authority: pipeline overrides.
    OVERRIDE = "override"
    #: Merge duplicate enterprise records.
    MERGE = "merge"
    #: Download lists and reports as files.
    EXPORT = "export"
    #: See the dashboard and run reports.
    REPORTS = "reports"
    #: Import spreadsheets of enterprises.
    IMPORT = "import"
    MANAGE_USERS = "manage_users"
    MANAGE_REFERENCE = "manage_reference"
    #: Operations: job runs, the outbox, reminder rules, the audit search.
    OPERATIONS = "operations"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MANAGER: frozenset(
        {Permission.TRANSITION, Permission.OVERRIDE, Permission.MERGE, Permission.EXPORT, Permission.REPORTS}
    ),
    Role.BUREAU: frozenset(
        {Permission.EDIT, Permission.TRANSITION, Permission.EXPORT, Permission.REPORTS, Permission.IMPORT}
    ),
    Role.CUSTOMS: frozenset(
        {Permission.EDIT, Permission.TRANSITION, Permission.EXPORT, Permission.REPORTS, Permission.IMPORT}
    ),
    Role.VIEWER: frozenset({Permission.REPORTS}),
}


def has_permission(user: Any, permission: Permission) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return permission in ROLE_PERMISSIONS.get(Role(user.role), frozenset())


#: Rate limit for public pages reached with a token (registration links): generous for a person, tight for a
#: script guessing tokens. Counted per client address over every such page together (wrong tokens included), in
#: Redis when REDIS_URL is set, in memory otherwise. This is the default of the setting below.
PUBLIC_LINK_LIMIT = "30 per minute;300 per hour"
#: The setting (environment variable) that changes the public link limit.
PUBLIC_LINK_LIMIT_SETTING = "CRM_EVENT_LINK_RATE_LIMIT"
#: Rate limit on login attempts per client address (on top of the per-account lockout).
LOGIN_LIMIT = "20 per minute"


@dataclass(frozen=True)
class Access:
    """Who may call a view, as declared by its decorator."""

    #: True for pages anyone may open without logging in.
    public: bool = False
    #: Every permission the caller needs (empty: any logged-in user).
    permissions: frozenset[Permission] = frozenset()

    def allows(self, user: Any) -> bool:
        if self.public:
            return True
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        return all(has_permission(user, permission) for permission in self.permissions)


#: The attribute a view function carries its declared ``Access`` in.
ACCESS_ATTRIBUTE = "crm_access"


def declared_access(view: Callable | None) -> Access | None:
    """The access a view declared with ``permission_required`` or ``public``; None when it declared none."""
    seen = 0
    while view is not None and seen < 20:
        access = getattr(view, ACCESS_ATTRIBUTE, None)
        if isinstance(access, Access):
            return access
        view = getattr(view, "__wrapped__", None)
        seen += 1
    return None


def permission_required(*permissions: Permission) -> Callable:
    """Require a logged-in user holding every given permission (403 otherwise; no argument: any user)."""
    access = Access(permissions=frozenset(permissions))

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not all(has_permission(current_user, permission) for permission in permissions):
                # The API answers with this text; the 403 page says the same.
                abort(403, _("Your role does not allow this action. Ask an administrator if you need it."))
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTRIBUTE, access)
        return wrapper

    return decorator


def public_link_limit() -> str:
    """The rate limit of the public token pages now: the configured one, else ``PUBLIC_LINK_LIMIT``."""
    return current_app.config.get(PUBLIC_LINK_LIMIT_SETTING) or PUBLIC_LINK_LIMIT


def public(
    view: Callable | None = None, *, limit: str | None = None, limit_methods: list[str] | None = None
) -> Callable:
    """Declare a view open to anyone (no login). ``limit`` adds a per-address rate limit; ``limit_methods``
    restricts it to some methods (``["POST"]``). ``@public(limit=PUBLIC_LINK_LIMIT)`` on a page reached with a
    token from an email applies the configured public link limit, one budget shared by every such page."""

    def decorator(view: Callable) -> Callable:
        if limit:
            from crm.extensions import limiter

            if limit == PUBLIC_LINK_LIMIT:
                view = limiter.shared_limit(public_link_limit, scope="public-links", methods=limit_methods)(view)
            else:
                view = limiter.limit(limit, methods=limit_methods)(view)
        setattr(view, ACCESS_ATTRIBUTE, Access(public=True))
        return view

    return decorator(view) if view is not None else decorator
