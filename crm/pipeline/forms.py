"""Forms of the pipeline: a move with the guard's inputs, stage and reason administration, and the records that
follow certification."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from crm.auth.models import User, user_offices
from crm.core.permissions import Role
from crm.enterprises.models import CreditStatus, TargetTier
from crm.extensions import db
from crm.pipeline.models import Stage, TransitionReason
from crm.pipeline.services import INPUT_FIELDS, benefit_measures, reasons_for
from crm.reference.models import CustomsOffice

TEXT_MAX = 2000


class _MoveInputs:
    """Reading a move's inputs from a form, and showing the guards' refusals on it."""

    _fields: dict
    form_errors: list

    def as_input(self) -> dict[str, Any]:
        """The submitted values as the strings ``parse_transition_input`` takes."""
        values: dict[str, Any] = {"to": self.target_code()}
        for name in INPUT_FIELDS:
            if name in self._fields:
                value = self._fields[name].data
                values[name] = value.isoformat() if hasattr(value, "isoformat") else (value or "")
        return values

    def target_code(self) -> str:
        raise NotImplementedError

    def show_failures(self, failures: dict[str, list[str]]) -> None:
        """Put each failing condition beside its field, or above the form when it has none."""
        for key, messages in failures.items():
            if key in INPUT_FIELDS and key in self._fields:
                field = self._fields[key]
                field.errors = list(field.errors or []) + list(messages)
            else:
                self.form_errors.extend(messages)


class TransitionForm(_MoveInputs, FlaskForm):
    """The inputs of one move; only the fields the move asks for are kept."""

    applied_on = DateField(_l("Application filed on"), [Optional()])
    accepted_on = DateField(_l("Accepted by customs on"), [Optional()])
    decided_on = DateField(_l("Decision date"), [Optional()])
    certificate_no = StringField(_l("Certificate or decision number"), [Optional(), Length(max=60)])
    tier = SelectField(_l("Certified tier"), choices=[], default="")
    reason = SelectField(_l("Reason"), choices=[], default="")
    comment = TextAreaField(_l("Comment"), [Optional(), Length(max=TEXT_MAX)])
    override_reason = TextAreaField(
        _l("Override reason"),
        [Optional(), Length(max=TEXT_MAX)],
        description=_l("A provincial manager may move past a guard that is not met; say why in writing."),
    )
    next = HiddenField()

    def __init__(self, *args, enterprise: Any, target: Stage, inputs: Iterable[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.enterprise = enterprise
        self.target = target
        keep = set(inputs) | {"comment"}
        for name in INPUT_FIELDS:
            if name not in keep:
                delattr(self, name)
        if "tier" in self._fields:
            self.tier.choices = [("", "—"), *TargetTier.choices()]
            if not self.is_submitted():
                self.tier.data = str(enterprise.target_tier)
        if "reason" in self._fields:
            self.reason.choices = [("", "—")] + [(r.code, r.display_name) for r in reasons_for(target.code)]

    def target_code(self) -> str:
        return self.target.code


class BulkMoveForm(_MoveInputs, FlaskForm):
    """A move for many enterprises: the target and every input a guard may ask for."""

    to = SelectField(_l("Move to"), choices=[], default="", validators=[DataRequired()])
    applied_on = DateField(_l("Application filed on"), [Optional()])
    accepted_on = DateField(_l("Accepted by customs on"), [Optional()])
    decided_on = DateField(_l("Decision date"), [Optional()])
    certificate_no = StringField(_l("Certificate or decision number"), [Optional(), Length(max=60)])
    tier = SelectField(_l("Certified tier"), choices=[], default="")
    reason = SelectField(_l("Reason"), choices=[], default="")
    comment = TextAreaField(_l("Comment"), [Optional(), Length(max=TEXT_MAX)])
    override_reason = TextAreaField(_l("Override reason"), [Optional(), Length(max=TEXT_MAX)])
    next = HiddenField()

    def __init__(self, *args, stages: list[Stage], **kwargs):
        super().__init__(*args, **kwargs)
        self.to.choices = [("", "—")] + [(s.code, s.display_name) for s in stages]
        self.tier.choices = [("", "—"), *TargetTier.choices()]
        reasons = db.session.scalars(
            select(TransitionReason)
            .where(TransitionReason.is_active.is_(True))
            .order_by(TransitionReason.stage_code.desc(), TransitionReason.sort_order, TransitionReason.code)
        )
        names = {s.code: s.display_name for s in stages}
        self.reason.choices = [("", "—")] + [
            (r.code, f"{names.get(r.stage_code, r.stage_code)}: {r.display_name}") for r in reasons
        ]

    def target_code(self) -> str:
        return self.to.data or ""


class StageForm(FlaskForm):
    name_zh = StringField(_l("Chinese name"), [DataRequired(), Length(max=50)])
    name_en = StringField(_l("English name"), [DataRequired(), Length(max=80)])
    sort_order = IntegerField(_l("Order"), [DataRequired(), NumberRange(min=1, max=10000)])
    sla_days = IntegerField(
        _l("SLA (days)"),
        [Optional(), NumberRange(min=1, max=3650)],
        description=_l("Days an enterprise may stay in this stage before it counts as stale; empty for no limit."),
    )


class ReasonForm(FlaskForm):
    code = StringField(
        _l("Code"),
        [
            DataRequired(),
            Length(max=40),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dots, hyphens and underscores.")),
        ],
        description=_l("A stable identifier; it cannot change later."),
    )
    stage_code = SelectField(_l("Stage"), choices=[])
    name_zh = StringField(_l("Chinese name"), [DataRequired(), Length(max=200)])
    name_en = StringField(_l("English name"), [Optional(), Length(max=200)])
    sort_order = IntegerField(_l("Order"), [Optional()], default=0)
    is_active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, row: TransitionReason | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.row = row
        from crm.pipeline.services import REASON_STAGES

        stages = db.session.scalars(
            select(Stage).where(Stage.code.in_(REASON_STAGES)).order_by(Stage.sort_order, Stage.code)
        )
        self.stage_code.choices = [(s.code, s.display_name) for s in stages]
        if row is not None:
            self.code.render_kw = {"readonly": True}

    def validate_code(self, field) -> None:
        if self.row is not None:
            field.data = self.row.code  # codes are fixed once created: the stage history records them
            return
        field.data = field.data.strip()
        if db.session.scalars(select(TransitionReason).where(TransitionReason.code == field.data)).first():
            raise ValidationError(_l("This code is already used."))


class ExtensionForm(FlaskForm):
    extended_on = DateField(_l("Extension recorded on"), [DataRequired()])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=TEXT_MAX)])


class CertificateForm(FlaskForm):
    certificate_no = StringField(_l("Certificate or decision number"), [DataRequired(), Length(max=60)])
    tier = SelectField(_l("Certified tier"), choices=[])
    decided_on = DateField(_l("Decision date"), [DataRequired()])
    office_id = SelectField(_l("Deciding customs office"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tier.choices = TargetTier.choices()
        offices = db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.code))
        self.office_id.choices = [(0, "—")] + [(o.id, o.display_name) for o in offices]


class ReverificationForm(FlaskForm):
    reverified_on = DateField(_l("Re-verification passed on"), [DataRequired()])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=TEXT_MAX)])


class ComplianceForm(FlaskForm):
    year = IntegerField(_l("Year"), [DataRequired(), NumberRange(min=2000, max=2100)])
    internal_audit_done = BooleanField(_l("Internal audit done"))
    internal_audit_on = DateField(_l("Internal audit completed on"), [Optional()])
    report_submitted = BooleanField(_l("Audited financial report sent to customs"))
    report_submitted_on = DateField(
        _l("Report sent on"), [Optional()], description=_l("The previous year's audited report is due by 30 June.")
    )
    note = TextAreaField(_l("Note"), [Optional(), Length(max=TEXT_MAX)])


class CreditEventForm(FlaskForm):
    status = SelectField(_l("New credit status"), choices=[])
    effective_on = DateField(_l("Effective on"), [DataRequired()])
    source = StringField(
        _l("Source"),
        [DataRequired(), Length(max=200)],
        description=_l("Where the information comes from: a customs notice, 信用中国, a decision number ..."),
    )
    note = TextAreaField(_l("Note"), [Optional(), Length(max=TEXT_MAX)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = CreditStatus.choices()


class BenefitForm(FlaskForm):
    measure_id = SelectField(_l("Support measure"), coerce=int)
    used_on = DateField(_l("Used on"), [DataRequired()])
    figure = DecimalField(_l("Figure"), [Optional(), NumberRange(min=0)], places=2)
    unit = StringField(
        _l("Unit"), [Optional(), Length(max=30)], description=_l("For example 个工作日 (working days) or 万元.")
    )
    note = TextAreaField(_l("Note"), [Optional(), Length(max=TEXT_MAX)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.measure_id.choices = [(0, "—")] + [(m.id, f"{m.number}. {m.display_name}") for m in benefit_measures()]


class CoordinatorForm(FlaskForm):
    coordinator_id = SelectField(_l("Enterprise coordinator (企业协调员)"), coerce=int)

    def __init__(self, *args, enterprise: Any, **kwargs):
        super().__init__(*args, **kwargs)
        self.coordinator_id.choices = [(0, _l("None"))] + [(u.id, str(u)) for u in coordinator_candidates(enterprise)]


def coordinator_candidates(enterprise: Any) -> list[User]:
    """Active customs officers whose offices cover the enterprise's competent office (directly or as its district)."""
    office = enterprise.office
    if office is None:
        return []
    office_ids = [office.id] + ([office.parent_id] if office.parent_id else [])
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == Role.CUSTOMS,
                User.is_active.is_(True),
                or_(
                    *(
                        User.id.in_(select(user_offices.c.user_id).where(user_offices.c.office_id == oid))
                        for oid in office_ids
                    )
                ),
            )
            .order_by(User.display_name, User.id)
        )
    )
