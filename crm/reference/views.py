"""Administration of reference data: one list and one form per kind, described in ``KINDS``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.core.forms import EmptyForm
from crm.core.permissions import Permission, permission_required
from crm.extensions import db
from crm.reference import forms
from crm.reference.models import (
    Area,
    BusinessType,
    CustomsOffice,
    KeyCategory,
    MraPartner,
    RecommendingUnit,
    SupportMeasure,
)

bp = Blueprint("reference", __name__, url_prefix="/admin/reference")


@dataclass(frozen=True)
class ReferenceKind:
    slug: str
    title: object
    model: type
    form: type
    #: (attribute, column heading) shown in the list besides code and names.
    columns: tuple[tuple[str, object], ...] = ()
    #: Attributes copied between the form and the row as they are.
    plain_fields: tuple[str, ...] = ("name_zh", "name_en", "sort_order", "is_active")
    can_create: bool = True
    order_by: tuple[str, ...] = ("sort_order", "code")
    note: object = None
    extra: dict = field(default_factory=dict)


KINDS: dict[str, ReferenceKind] = {
    kind.slug: kind
    for kind in (
        ReferenceKind("areas", _l("Areas"), Area, forms.ReferenceForm),
        ReferenceKind(
            "offices",
            _l("Customs offices"),
            CustomsOffice,
            forms.OfficeForm,
            columns=(("parent", _l("District")), ("areas", _l("Areas served")), ("is_confirmed", _l("Confirmed"))),
            note=_l(
                "Subordinate offices are seeded from the commonly cited list and marked unconfirmed until the "
                "customs district confirms them and the areas each serves."
            ),
        ),
        ReferenceKind("business-types", _l("Business types"), BusinessType, forms.ReferenceForm),
        ReferenceKind("categories", _l("Key-enterprise categories"), KeyCategory, forms.ReferenceForm),
        ReferenceKind(
            "units",
            _l("Recommending units"),
            RecommendingUnit,
            forms.RecommendingUnitForm,
            columns=(("kind", _l("Kind")), ("area", _l("Area")), ("office", _l("Customs office"))),
        ),
        ReferenceKind(
            "measures",
            _l("Support measures"),
            SupportMeasure,
            forms.SupportMeasureForm,
            columns=(("number", _l("Number")), ("responsible_units", _l("Responsible units"))),
            plain_fields=("name_zh", "name_en", "sort_order", "is_active", "number", "responsible_units", "summary"),
            order_by=("number",),
        ),
        ReferenceKind(
            "mra-partners",
            _l("Mutual-recognition partners"),
            MraPartner,
            forms.MraPartnerForm,
            columns=(
                ("signed_on", _l("Signed on")),
                ("implemented_on", _l("Implemented on")),
                ("is_confirmed", _l("Confirmed")),
            ),
            plain_fields=(
                "name_zh",
                "name_en",
                "sort_order",
                "is_active",
                "signed_on",
                "implemented_on",
                "tiers_recognised",
                "is_confirmed",
                "note",
            ),
        ),
    )
}


def _kind_or_404(slug: str) -> ReferenceKind:
    kind = KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


@bp.get("/")
@permission_required(Permission.MANAGE_REFERENCE)
def index():
    return render_template("reference/index.html", kinds=KINDS.values())


@bp.get("/<slug>/")
@permission_required(Permission.MANAGE_REFERENCE)
def list_rows(slug: str):
    kind = _kind_or_404(slug)
    stmt = select(kind.model).order_by(*(getattr(kind.model, name) for name in kind.order_by))
    return render_template("reference/list.html", kind=kind, rows=db.session.scalars(stmt).all())


@bp.route("/<slug>/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def create_row(slug: str):
    kind = _kind_or_404(slug)
    if not kind.can_create:
        abort(404)
    form = kind.form(model=kind.model)
    if form.validate_on_submit():
        row = kind.model(code=form.code.data.strip())
        _apply(kind, form, row)
        db.session.add(row)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".list_rows", slug=slug))
    return render_template("reference/form.html", kind=kind, form=form, row=None)


@bp.route("/<slug>/<row_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_row(slug: str, row_id: str):
    kind = _kind_or_404(slug)
    key = int(row_id) if row_id.isdigit() else None
    row = db.session.get(kind.model, key) if key is not None else None
    if row is None:
        abort(404)
    form = kind.form(obj=row, model=kind.model, row=row)
    if request.method == "GET":
        _fill(kind, form, row)
    if form.validate_on_submit():
        _apply(kind, form, row)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".list_rows", slug=slug))
    return render_template("reference/form.html", kind=kind, form=form, row=row)


def _fill(kind: ReferenceKind, form, row) -> None:
    if isinstance(row, CustomsOffice):
        form.parent_id.data = row.parent_id or 0
        form.areas.data = [a.id for a in row.areas]
    elif isinstance(row, RecommendingUnit):
        form.kind.data = str(row.kind)
        form.area_id.data = row.area_id or 0
        form.office_id.data = row.office_id or 0


def _apply(kind: ReferenceKind, form, row) -> None:
    for name in kind.plain_fields:
        value = getattr(form, name).data
        if isinstance(value, str):
            value = value.strip()
        if name == "sort_order" and value is None:
            value = 0
        setattr(row, name, value)
    if isinstance(row, CustomsOffice):
        row.parent_id = form.parent_id.data or None
        row.is_confirmed = form.is_confirmed.data
        row.areas = list(db.session.scalars(select(Area).where(Area.id.in_(form.areas.data or []))))
    elif isinstance(row, RecommendingUnit):
        from crm.reference.models import UnitKind

        row.kind = UnitKind(form.kind.data)
        row.area_id = form.area_id.data or None
        row.office_id = form.office_id.data or None


@bp.route("/settings", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_REFERENCE)
def edit_settings():
    """One form for every administrator-editable setting declared in ``crm.core.settings``."""
    from crm.core.settings import DEFINITIONS, get_setting, set_setting

    errors: dict[str, str] = {}
    values = {key: get_setting(key) for key in DEFINITIONS}
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        for key, definition in DEFINITIONS.items():
            raw = request.form.get(key, "")
            if definition.type == "bool":
                values[key] = raw == "y"
                continue
            values[key] = raw
            try:
                if definition.type == "int":
                    int(raw)
            except ValueError:
                errors[key] = _("Enter a whole number.")
                continue
            try:
                set_setting(key, raw)
            except ValueError:
                errors[key] = _(
                    "Enter a number between %(low)s and %(high)s.", low=definition.minimum, high=definition.maximum
                )
        if not errors:
            for key, definition in DEFINITIONS.items():
                if definition.type == "bool":
                    set_setting(key, values[key])
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".edit_settings"))
        db.session.rollback()
    return render_template(
        "reference/settings.html", definitions=DEFINITIONS.values(), values=values, errors=errors, form=EmptyForm()
    )
