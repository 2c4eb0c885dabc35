"""Bulk actions on the rows selected in the enterprise list, listed by hand in ``BULK_ACTIONS``.

An action has a key, a label, the permission it needs, an optional form for its extra fields (rendered in
the list's bulk bar with the action key as prefix) and a ``run(BulkRequest) -> BulkOutcome`` function. The
selection reaching ``run`` is already limited to the caller's scope. Another feature adds an action with one
entry, naming its form and function as ``"module:attribute"`` strings to avoid import cycles, e.g.
``BulkAction("add_to_cohort", _l("Add to a cohort"), Permission.EDIT, "crm.cohorts.bulk:add_to_cohort",
form="crm.cohorts.forms:CohortBulkForm", icon="diagram-3")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectField
from wtforms.validators import InputRequired

from crm.core.permissions import Permission, has_permission
from crm.enterprises.registry import resolve
from crm.extensions import db


@dataclass
class BulkRequest:
    #: Ids of the selected enterprises, all within the caller's scope.
    ids: list[int]
    #: The action's form (validated), or None for an action without fields.
    form: FlaskForm | None
    user: Any


@dataclass
class BulkOutcome:
    message: str
    category: str = "success"
    #: A response to send instead of returning to the list (a download).
    response: Response | None = None


@dataclass(frozen=True)
class BulkAction:
    key: str
    label: Any
    permission: Permission
    #: ``run(BulkRequest) -> BulkOutcome``, or a ``"module:function"`` string.
    run: Callable[[BulkRequest], BulkOutcome] | str
    #: A FlaskForm class (built with ``prefix=key`` and no CSRF of its own), or a ``"module:Class"`` string.
    form: type[FlaskForm] | str | None = None
    icon: str = "lightning"
    #: The largest selection the action accepts (None: any, e.g. an export).
    max_records: int | None = 1000

    def build_form(self, formdata: Any = None) -> FlaskForm | None:
        if self.form is None:
            return None
        return resolve(self.form)(formdata=formdata, prefix=self.key, meta={"csrf": False})


# --- the actions' forms and functions ------------------------------------------------------------------------


class AssignOfficerForm(FlaskForm):
    officer = SelectField(_l("Responsible officer"), coerce=int, validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.enterprises.listing import active_officers

        users = active_officers()
        self.officer.choices = [(u.id, f"{u.display_name} ({u.role_enum.label})") for u in users]


class CategoryForm(FlaskForm):
    category = SelectField(_l("Key-enterprise category"), coerce=int, validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from crm.enterprises.listing import ListReference

        categories = [c for c in ListReference().categories if c.is_active]
        self.category.choices = [(c.id, c.display_name) for c in categories]


class ExportFormatForm(FlaskForm):
    format = SelectField(_l("Format"), choices=[("xlsx", "Excel (XLSX)"), ("csv", "CSV")])


def _load(ids: list[int]) -> list[Any]:
    from crm.enterprises.models import Enterprise

    return list(
        db.session.scalars(
            select(Enterprise)
            .where(Enterprise.id.in_(ids))
            .options(
                selectinload(Enterprise.area), selectinload(Enterprise.office), selectinload(Enterprise.categories)
            )
            .order_by(Enterprise.id)
        )
    )


def assign_officer(request: BulkRequest) -> BulkOutcome:
    from crm.auth.models import User
    from crm.enterprises.services import assign_officer as assign

    officer = db.session.get(User, request.form.officer.data)
    if officer is None:
        return BulkOutcome(_("Choose an officer."), "danger")
    assigned, refused = 0, 0
    for enterprise in _load(request.ids):
        if assign(enterprise, officer, by=request.user) is None:
            assigned += 1
        else:
            refused += 1
    db.session.flush()
    message = _("%(name)s assigned to %(n)s enterprises.", name=officer.display_name, n=assigned)
    if refused:
        message += " " + _("%(n)s lie outside their jurisdiction and were left unchanged.", n=refused)
    return BulkOutcome(message, "success" if assigned else "warning")


def _category(request: BulkRequest) -> Any:
    from crm.reference.models import KeyCategory

    return db.session.get(KeyCategory, request.form.category.data)


def add_category(request: BulkRequest) -> BulkOutcome:
    category = _category(request)
    changed = 0
    for enterprise in _load(request.ids):
        if category not in enterprise.categories:
            enterprise.categories.append(category)
            enterprise.updated_by_id = request.user.id
            changed += 1
    db.session.flush()
    return BulkOutcome(_("“%(category)s” added to %(n)s enterprises.", category=category.display_name, n=changed))


def remove_category(request: BulkRequest) -> BulkOutcome:
    category = _category(request)
    changed = 0
    for enterprise in _load(request.ids):
        if category in enterprise.categories:
            enterprise.categories.remove(category)
            enterprise.updated_by_id = request.user.id
            changed += 1
    db.session.flush()
    return BulkOutcome(_("“%(category)s” removed from %(n)s enterprises.", category=category.display_name, n=changed))


def export_selection(request: BulkRequest) -> BulkOutcome:
    from crm.enterprises.views import export_response

    fmt = request.form.format.data if request.form is not None else "xlsx"
    return BulkOutcome("", response=export_response(fmt, ids=request.ids))


BULK_ACTIONS: tuple[BulkAction, ...] = (
    BulkAction(
        "assign_officer", _l("Assign an officer"), Permission.EDIT, assign_officer, AssignOfficerForm, "person-check"
    ),
    BulkAction("add_category", _l("Add a category"), Permission.EDIT, add_category, CategoryForm, "tag"),
    BulkAction("remove_category", _l("Remove a category"), Permission.EDIT, remove_category, CategoryForm, "x-circle"),
    BulkAction(
        "move_stage",
        _l("Move to another stage"),
        Permission.TRANSITION,
        "crm.pipeline.bulk:move_stage",
        icon="arrow-right-circle",
        max_records=500,
    ),
    BulkAction(
        "add_to_cohort",
        _l("Add to a cohort"),
        Permission.EDIT,
        "crm.cohorts.bulk:add_to_cohort",
        form="crm.cohorts.forms:CohortBulkForm",
        icon="diagram-3",
    ),
    BulkAction(
        "export",
        _l("Export the selection"),
        Permission.EXPORT,
        export_selection,
        ExportFormatForm,
        "download",
        max_records=None,
    ),
)
BULK_ACTIONS_BY_KEY = {a.key: a for a in BULK_ACTIONS}


def actions_for(user: Any) -> list[BulkAction]:
    return [a for a in BULK_ACTIONS if has_permission(user, a.permission)]
