"""The main navigation: each entry with the permission that shows it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.core.permissions import Permission, has_permission


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    #: Shown only to users holding this permission; None shows it to every logged-in user.
    permission: Permission | None = None
    #: Blueprint names that mark the entry active.
    blueprints: tuple[str, ...] = ()


MAIN_NAVIGATION: tuple[NavItem, ...] = (
    NavItem("main.home", _l("Home"), blueprints=("main",)),
    NavItem("dashboard.index", _l("Dashboard"), Permission.REPORTS, ("dashboard",)),
    NavItem("enterprises.list_enterprises", _l("Enterprises"), blueprints=("enterprises",)),
    NavItem("enterprises.pool", _l("Candidate pool")),
    NavItem("pipeline.board", _l("Pipeline"), blueprints=("pipeline",)),
    NavItem("cohorts.list_cohorts", _l("1+N cohorts"), blueprints=("cohorts",)),
    NavItem("plans.list_plans", _l("Cultivation plans"), blueprints=("plans",)),
    NavItem("my_work.index", _l("My work"), blueprints=("my_work",)),
    NavItem("visits.list_visits", _l("Visits"), blueprints=("visits",)),
    NavItem("calendar.index", _l("Calendar"), blueprints=("calendar",)),
    NavItem("standards.list_versions", _l("AEO standards"), blueprints=("standards",)),
    NavItem("events.list_events", _l("Training events"), blueprints=("events",)),
    NavItem("reports.index", _l("Reports"), Permission.REPORTS, ("reports",)),
    NavItem("exports.index", _l("My exports"), Permission.EXPORT, ("exports",)),
)

ADMIN_NAVIGATION: tuple[NavItem, ...] = (
    NavItem("users_admin.list_users", _l("Users"), Permission.MANAGE_USERS, ("users_admin",)),
    NavItem("reference.index", _l("Reference data"), Permission.MANAGE_REFERENCE, ("reference",)),
    NavItem("reference.edit_settings", _l("Settings"), Permission.MANAGE_REFERENCE),
    NavItem("standards.import_version", _l("Import a standard"), Permission.MANAGE_REFERENCE),
    NavItem("plans.list_templates", _l("Plan templates"), Permission.MANAGE_REFERENCE),
    NavItem("reminder_rules.list_rules", _l("Reminder rules"), Permission.OPERATIONS, ("reminder_rules",)),
    NavItem("operations.index", _l("Operations"), Permission.OPERATIONS, ("operations",)),
    NavItem("audit.search", _l("Audit trail"), Permission.OPERATIONS, ("audit",)),
    NavItem("pipeline_admin.stages", _l("Pipeline stages"), Permission.MANAGE_REFERENCE, ("pipeline_admin",)),
    NavItem("pipeline_admin.reasons", _l("Transition reasons"), Permission.MANAGE_REFERENCE),
    NavItem("dashboard_admin.targets", _l("Certification targets"), Permission.MANAGE_REFERENCE, ("dashboard_admin",)),
)


def visible(items: tuple[NavItem, ...]) -> list[NavItem]:
    return [item for item in items if item.permission is None or has_permission(current_user, item.permission)]


def is_active(item: NavItem) -> bool:
    return request.blueprint in item.blueprints


def inject_navigation() -> dict:
    if not getattr(current_user, "is_authenticated", False):
        return {"main_navigation": [], "admin_navigation": [], "nav_is_active": is_active}
    return {
        "main_navigation": visible(MAIN_NAVIGATION),
        "admin_navigation": visible(ADMIN_NAVIGATION),
        "nav_is_active": is_active,
    }
