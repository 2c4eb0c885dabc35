"""Forms of the enterprise pages. Choices are set in ``__init__``; the rules that matter live in services."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from crm.core.permissions import Role
from crm.core.scope import scope_of
from crm.enterprises.models import ContactRole, CreditStatus, ExistingAction, Priority, TargetTier
from crm.enterprises.validation import check_mobile
from crm.extensions import db
from crm.reference.models import Area, BusinessType, CustomsOffice, KeyCategory, RecommendingUnit

NONE = 0


def _active(model: Any) -> list[Any]:
    return list(
        db.session.scalars(select(model).where(model.is_active.is_(True)).order_by(model.sort_order, model.code))
    )


def area_choices(user: Any, current: Any = None) -> list[tuple[int, str]]:
    """Areas the user may put an enterprise in: their areas, the areas their offices serve, or all."""
    scope = scope_of(user)
    areas = db.session.scalars(select(Area).order_by(Area.sort_order, Area.code)).all()
    current_id = getattr(current, "id", None)

    def allowed(area: Any) -> bool:
        if area.id == current_id:
            return True
        if not area.is_active:
            return False
        return scope.covers_area(area.id) or any(scope.covers_office(o.id) for o in area.offices)

    return [(a.id, a.display_name) for a in areas if allowed(a)]


def office_choices() -> list[tuple[Any, ...]]:
    """Active offices, subordinate ones indented; each option lists the areas it serves for the page's script."""
    from sqlalchemy.orm import selectinload

    offices = db.session.scalars(
        select(CustomsOffice)
        .options(selectinload(CustomsOffice.areas))
        .order_by(CustomsOffice.sort_order, CustomsOffice.code)
    ).all()
    return [(NONE, "—")] + [
        (
            o.id,
            o.display_name if o.parent_id is None else f"— {o.display_name}",
            {"data-areas": ",".join(str(a.id) for a in o.areas)},
        )
        for o in offices
        if o.is_active
    ]


def officer_choices(role: Role) -> list[tuple[int, str]]:
    from crm.auth.models import User

    users = db.session.scalars(
        select(User).where(User.role == role, User.is_active.is_(True)).order_by(User.display_name, User.id)
    ).all()
    return [(NONE, "—")] + [(u.id, f"{u.display_name} ({u.username})") for u in users]


class EnterpriseForm(FlaskForm):
    name = StringField(_l("Enterprise name"), [DataRequired(), Length(max=200)])
    uscc = StringField(
        _l("Unified social credit code"),
        [DataRequired(), Length(max=40)],
        description=_l("18 characters; full-width characters and spaces are corrected automatically."),
    )
    customs_code = StringField(
        _l("Customs registration code"), [Optional(), Length(max=20)], description=_l("10 characters, if registered.")
    )
    area_id = SelectField(_l("Area"), coerce=int, validators=[InputRequired()])
    office_id = SelectField(_l("Competent customs office"), coerce=int)
    business_types = SelectMultipleField(_l("Business types"), coerce=int)
    industry = StringField(_l("Industry"), [Optional(), Length(max=100)])
    categories = SelectMultipleField(_l("Key-enterprise categories"), coerce=int)
    target_tier = SelectField(_l("Target tier"), choices=[])
    credit_status = SelectField(_l("Current credit status"), choices=[])
    trade_value = DecimalField(
        _l("Import and export value last year (10,000 USD)"), [Optional(), NumberRange(min=0)], places=2
    )
    employees = IntegerField(_l("Employees"), [Optional(), NumberRange(min=0, max=10_000_000)])
    address = StringField(_l("Address"), [Optional(), Length(max=300)])
    priority = SelectField(_l("Priority"), choices=[])
    commerce_officer_id = SelectField(_l("Commerce staff"), coerce=int)
    customs_officer_id = SelectField(_l("Customs officer"), coerce=int)
    notes = TextAreaField(_l("Remarks"), [Optional(), Length(max=5000)])
    #: Set when the user saw the similar-name warning and chose to continue.
    confirm_similar = HiddenField()

    #: Form field -> service field.
    FIELD_MAP = {
        "area_id": "area",
        "office_id": "office",
        "commerce_officer_id": "commerce_officer",
        "customs_officer_id": "customs_officer",
    }

    def __init__(self, *args, enterprise: Any = None, user: Any = None, **kwargs):
        super().__init__(*args, obj=enterprise, **kwargs)
        self.enterprise = enterprise
        self.area_id.choices = area_choices(user, getattr(enterprise, "area", None))
        self.office_id.choices = office_choices()
        self.area_id.render_kw = {"data-area-select": self.office_id.id}
        self.business_types.choices = [(b.id, b.display_name) for b in _active(BusinessType)]
        self.categories.choices = [(c.id, c.display_name) for c in _active(KeyCategory)]
        for field in (self.business_types, self.categories):
            field.render_kw = {"size": min(len(field.choices), 11)}
        self.target_tier.choices = TargetTier.choices()
        self.credit_status.choices = CreditStatus.choices()
        self.priority.choices = [("", _l("Automatic: the highest recommendation")), *Priority.choices()]
        self.commerce_officer_id.choices = officer_choices(Role.BUREAU)
        self.customs_officer_id.choices = officer_choices(Role.CUSTOMS)
        if enterprise is not None:
            del self.credit_status
            if not self.is_submitted():
                self.office_id.data = enterprise.office_id or NONE
                self.commerce_officer_id.data = enterprise.commerce_officer_id or NONE
                self.customs_officer_id.data = enterprise.customs_officer_id or NONE
                self.business_types.data = [b.id for b in enterprise.business_types]
                self.categories.data = [c.id for c in enterprise.categories]
                self.priority.data = enterprise.priority.value if enterprise.priority_set_by_hand else ""
                self.target_tier.data = enterprise.target_tier.value
        elif not self.is_submitted():
            self.target_tier.data = TargetTier.AEO_ADVANCED.value
            self.credit_status.data = CreditStatus.REGULAR.value

    def values(self) -> dict[str, Any]:
        """The form's data as service values (reference rows and users loaded)."""
        from crm.auth.models import User

        def get(model, ident):
            return db.session.get(model, ident) if ident else None

        return {
            "name": self.name.data,
            "uscc": self.uscc.data,
            "customs_code": self.customs_code.data,
            "area": get(Area, self.area_id.data),
            "office": get(CustomsOffice, self.office_id.data),
            "business_types": [db.session.get(BusinessType, i) for i in self.business_types.data or []],
            "categories": [db.session.get(KeyCategory, i) for i in self.categories.data or []],
            "industry": self.industry.data,
            "target_tier": TargetTier(self.target_tier.data),
            "trade_value": self.trade_value.data,
            "employees": self.employees.data,
            "address": self.address.data,
            "priority": Priority(self.priority.data) if self.priority.data else None,
            "commerce_officer": get(User, self.commerce_officer_id.data),
            "customs_officer": get(User, self.customs_officer_id.data),
            "notes": self.notes.data,
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        reverse = {v: k for k, v in self.FIELD_MAP.items()}
        for field, messages in errors.items():
            form_field = getattr(self, reverse.get(field, field), None)
            if form_field is None:
                self.form_errors.extend(messages)
            else:
                form_field.errors = list(form_field.errors) + list(messages)


class RecommendationFieldsMixin:
    """The fields of a recommendation (入库推荐), shared by its own form and the create form."""

    def set_recommendation_choices(self, *, optional: bool) -> None:
        units = [(u.id, u.display_name) for u in _active(RecommendingUnit)]
        self.unit_id.choices = ([(NONE, "—")] if optional else []) + units
        self.recommendation_priority.choices = Priority.choices()
        self.recommendation_categories.choices = [(c.id, c.display_name) for c in _active(KeyCategory)]
        if not self.is_submitted():
            self.recommendation_priority.data = Priority.B.value


class RecommendationForm(RecommendationFieldsMixin, FlaskForm):
    unit_id = SelectField(_l("Recommending unit"), coerce=int, validators=[InputRequired()])
    recommended_on = DateField(_l("Date of recommendation"), [Optional()])
    recommendation_priority = SelectField(_l("Priority"), choices=[])
    recommendation_categories = SelectMultipleField(_l("Categories recommended under"), coerce=int)
    reason = TextAreaField(_l("Reason for the recommendation"), [Optional(), Length(max=5000)])

    def __init__(self, *args, recommendation: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_recommendation_choices(optional=False)
        if recommendation is not None and not self.is_submitted():
            self.unit_id.data = recommendation.unit_id
            self.recommended_on.data = recommendation.recommended_on
            self.recommendation_priority.data = recommendation.priority.value
            self.recommendation_categories.data = [c.id for c in recommendation.categories]
            self.reason.data = recommendation.reason


class NewEnterpriseForm(RecommendationFieldsMixin, EnterpriseForm):
    """Create form: the enterprise, and optionally the recommendation that brings it into the CRM."""

    unit_id = SelectField(_l("Recommending unit"), coerce=int)
    recommended_on = DateField(_l("Date of recommendation"), [Optional()])
    recommendation_priority = SelectField(_l("Priority of the recommendation"), choices=[])
    recommendation_categories = SelectMultipleField(_l("Categories recommended under"), coerce=int)
    reason = TextAreaField(_l("Reason for the recommendation"), [Optional(), Length(max=5000)])

    RECOMMENDATION_FIELDS = (
        "unit_id",
        "recommended_on",
        "recommendation_priority",
        "recommendation_categories",
        "reason",
    )

    def __init__(self, *args, user: Any = None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.set_recommendation_choices(optional=True)


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=60)])
    role = SelectField(_l("Role"), choices=[])
    title = StringField(_l("Job title"), [Optional(), Length(max=60)], description=_l("For example 关务专员."))
    mobile = StringField(_l("Mobile"), [Optional(), Length(max=30)])
    phone = StringField(_l("Phone"), [Optional(), Length(max=30)])
    email = StringField(_l("Email"), [Optional(), Length(max=200), Email(message=_l("Enter a valid email address."))])
    is_primary = BooleanField(_l("Primary contact"))

    def __init__(self, *args, contact: Any = None, **kwargs):
        super().__init__(*args, obj=contact, **kwargs)
        self.role.choices = ContactRole.choices()
        if contact is not None and not self.is_submitted():
            self.role.data = contact.role.value

    def validate_mobile(self, field) -> None:
        mobile, error = check_mobile(field.data)
        if error:
            raise ValidationError(error)
        field.data = mobile

    def validate_phone(self, field) -> None:
        from crm.enterprises.identifiers import is_phone, normalise_phone

        field.data = normalise_phone(field.data)
        if field.data and not is_phone(field.data):
            raise ValidationError(_l("Enter a phone number such as 0591-87654321 or 0591-87654321转8001."))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not (self.mobile.data or self.phone.data or self.email.data):
            self.mobile.errors = [*self.mobile.errors, _l("Give at least a mobile, a phone or an email address.")]
            return False
        return ok

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.data.strip(),
            "role": ContactRole(self.role.data),
            "title": (self.title.data or "").strip(),
            "mobile": self.mobile.data or "",
            "phone": self.phone.data or "",
            "email": (self.email.data or "").strip(),
            "is_primary": bool(self.is_primary.data),
        }


class NoteForm(FlaskForm):
    body = TextAreaField(_l("New note"), [DataRequired(), Length(max=5000)])


class CreditStatusForm(FlaskForm):
    status = SelectField(_l("Credit status"), choices=[])
    effective_on = DateField(_l("Effective from"), [InputRequired()])
    source = StringField(_l("Source"), [Optional(), Length(max=200)], description=_l("A decision number, 信用中国 …"))
    note = TextAreaField(_l("Note"), [Optional(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = CreditStatus.choices()


class SavedViewForm(FlaskForm):
    name = StringField(_l("Name of the view"), [DataRequired(), Length(max=80)])
    is_shared = BooleanField(_l("Share with colleagues"))
    query = HiddenField()


class ImportUploadForm(FlaskForm):
    file = FileField(
        _l("Spreadsheet"),
        [FileRequired(_l("Choose a file."))],
        description=_l("XLSX or CSV (UTF-8 or GB18030), at most 10 MB."),
    )


class ImportOptionsForm(FlaskForm):
    existing_action = RadioField(_l("Rows already in the CRM"), choices=[])
    valid_rows_only = BooleanField(
        _l("Import only the valid rows and reject the others"),
        description=_l("Without this, nothing is imported while any row is invalid."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing_action.choices = ExistingAction.choices()
        if not self.is_submitted():
            self.existing_action.data = ExistingAction.SKIP.value


class MergeChoiceForm(FlaskForm):
    """The fields of the merge form are added per differing field by the view (radio: keep or other)."""

    confirm = BooleanField(_l("I have checked that both records are the same enterprise"), [DataRequired()])
