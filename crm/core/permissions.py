"""Roles, what each may do, and the one decorator views use to check it."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any

from flask import abort
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


def permission_required(*permissions: Permission) -> Callable:
    """Require a logged-in user holding every given permission (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            for permission in permissions:
                if not has_permission(current_user, permission):
                    abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
