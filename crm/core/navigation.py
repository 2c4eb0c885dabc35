"""The main navigation: each entry with the permission that shows it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import current_app, has_request_context, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

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


def visible(items: tuple[NavItem, ...], user: Any = None) -> tuple[NavItem, ...]:
    """The entries ``user`` (the current user by default) may see."""
    user = current_user._get_current_object() if user is None else user
    granted = {permission for permission in Permission if has_permission(user, permission)}
    return _visible(items, frozenset(granted))


_visible_by_permissions: dict[tuple[int, frozenset[Permission]], tuple[tuple[NavItem, ...], tuple[NavItem, ...]]] = {}


def _visible(items: tuple[NavItem, ...], granted: frozenset[Permission]) -> tuple[NavItem, ...]:
    """The entries shown to a holder of exactly ``granted``: a handful of combinations, worked out once each. Keyed
    by the tuple's identity (hashing the entries would translate each label); the entry keeps the tuple alive, so
    its identity is never another tuple's."""
    key = (id(items), granted)
    found = _visible_by_permissions.get(key)
    if found is None:
        found = _visible_by_permissions[key] = (
            items,
            tuple(item for item in items if item.permission is None or item.permission in granted),
        )
    return found[1]


def is_active(item: NavItem) -> bool:
    return request.blueprint in item.blueprints


#: At most this many fixed URLs per app; past it they are worked out again (a template passing varying values).
MAX_FIXED_URLS = 500


def fixed_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` for a link whose arguments never change (the layout's navigation, stylesheets
    and scripts), built once per app and script root instead of on every page."""
    if not has_request_context():
        return url_for(endpoint, **values)
    urls = current_app.extensions.setdefault("crm_fixed_urls", {})
    key = (request.script_root, endpoint, tuple(sorted(values.items())))
    url = urls.get(key)
    if url is None:
        if len(urls) >= MAX_FIXED_URLS:
            urls.clear()
        url = urls[key] = url_for(endpoint, **values)
    return url


_labelled: dict[tuple[int, str], tuple[tuple[NavItem, ...], tuple[NavItem, ...]]] = {}


def _in_language(items: tuple[NavItem, ...]) -> tuple[NavItem, ...]:
    """``items`` (a tuple ``visible`` returned) with their labels translated into the request's language, once per
    language instead of a lazy string translated again on every page. The labels stay markup, as a lazy string is
    in a template. Keyed by the tuple's identity, kept alive by the entry, as in ``_visible``, and by the locale the
    labels are translated into (also under ``force_locale``)."""
    from flask_babel import get_locale

    key = (id(items), str(get_locale()))
    found = _labelled.get(key)
    if found is None:
        found = _labelled[key] = (items, tuple(replace(item, label=Markup(str(item.label))) for item in items))
    return found[1]


def inject_navigation() -> dict:
    user = current_user._get_current_object()
    if not getattr(user, "is_authenticated", False):
        return {"main_navigation": [], "admin_navigation": [], "nav_is_active": is_active, "fixed_url": fixed_url}
    return {
        "main_navigation": _in_language(visible(MAIN_NAVIGATION, user)),
        "admin_navigation": _in_language(visible(ADMIN_NAVIGATION, user)),
        "nav_is_active": is_active,
        "fixed_url": fixed_url,
    }
