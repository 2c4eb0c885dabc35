"""Forms for editing reference data."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from crm.extensions import db
from crm.reference.models import Area, CustomsOffice, UnitKind

CODE_VALIDATORS = [
    DataRequired(),
    Length(max=40),
    Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dots, hyphens and underscores.")),
]


class ReferenceForm(FlaskForm):
    code = StringField(_l("Code"), CODE_VALIDATORS, description=_l("A stable identifier; it cannot change later."))
    name_zh = StringField(_l("Chinese name"), [DataRequired(), Length(max=200)])
    name_en = StringField(_l("English name"), [Optional(), Length(max=200)])
    sort_order = IntegerField(_l("Order"), [Optional()], default=0)
    is_active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, model, row=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model
        self.row = row
        if row is not None:
            self.code.render_kw = {"readonly": True}

    def validate_code(self, field) -> None:
        if self.row is not None:
            field.data = self.row.code  # codes are fixed once created
            return
        exists = db.session.scalars(select(self.model).where(self.model.code == field.data.strip())).first()
        if exists is not None:
            raise ValidationError(_l("This code is already used."))


class OfficeForm(ReferenceForm):
    parent_id = SelectField(_l("District customs (直属海关)"), coerce=int)
    areas = SelectMultipleField(_l("Areas served"), coerce=int)
    is_confirmed = BooleanField(_l("Confirmed by the customs district"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        districts = db.session.scalars(
            select(CustomsOffice)
            .where(CustomsOffice.parent_id.is_(None))
            .order_by(CustomsOffice.sort_order, CustomsOffice.code)
        )
        self.parent_id.choices = [(0, _l("None: this is a district office"))] + [
            (o.id, o.name_zh) for o in districts if self.row is None or o.id != self.row.id
        ]
        self.areas.choices = [
            (a.id, a.name_zh) for a in db.session.scalars(select(Area).order_by(Area.sort_order, Area.code))
        ]

    def validate_parent_id(self, field) -> None:
        if self.row is not None and field.data and self.row.children:
            raise ValidationError(_l("A district office with subordinate offices cannot be placed under another."))


class RecommendingUnitForm(ReferenceForm):
    kind = SelectField(_l("Kind"), choices=[])
    area_id = SelectField(_l("Area"), coerce=int)
    office_id = SelectField(_l("Customs office"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = UnitKind.choices()
        self.area_id.choices = [(0, "—")] + [
            (a.id, a.name_zh) for a in db.session.scalars(select(Area).order_by(Area.sort_order, Area.code))
        ]
        self.office_id.choices = [(0, "—")] + [
            (o.id, o.name_zh)
            for o in db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.code))
        ]


class SupportMeasureForm(ReferenceForm):
    number = IntegerField(_l("Number"), [DataRequired(), NumberRange(min=1, max=999)])
    responsible_units = TextAreaField(_l("Responsible units"), [Optional(), Length(max=2000)])
    summary = TextAreaField(_l("Summary"), [Optional(), Length(max=4000)])


class MraPartnerForm(ReferenceForm):
    signed_on = DateField(_l("Signed on"), [Optional()])
    implemented_on = DateField(_l("Implemented on"), [Optional()])
    tiers_recognised = StringField(_l("Tiers recognised"), [Optional(), Length(max=200)])
    is_confirmed = BooleanField(_l("Confirmed against an official source"))
    note = TextAreaField(_l("Note"), [Optional(), Length(max=2000)])
