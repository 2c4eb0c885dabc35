"""Forms of the standards package: catalog import and rules, assessments, judgements, financial figures."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from crm.core.timeutil import local_today
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.standards.models import AssessmentKind, AssessmentResult, Judgement, StandardVersion
from crm.standards.rules import FINANCIAL_LINES, OPTIONAL_LINES

EVIDENCE_MAX = 4000


class ImportForm(FlaskForm):
    file = FileField(
        _l("Catalog file"),
        [FileRequired(_l("Choose a file."))],
        description=_l("A .yaml or .xlsx file in the format described in the README."),
    )
    replace = BooleanField(
        _l("Replace the version with the same code"),
        description=_l(
            "Items keep their numbers, so existing assessments stay attached; the version becomes unverified."
        ),
    )


class RulesForm(FlaskForm):
    base = IntegerField(_l("Base score"), [InputRequired(), NumberRange(min=0, max=1000)])
    pass_line = IntegerField(_l("Pass line"), [InputRequired(), NumberRange(min=0, max=1000)])
    no_fail = BooleanField(_l("Any 不达标 item fails the assessment"))
    score_basic = IntegerField(_l("Points for 基本达标"), [InputRequired(), NumberRange(min=-100, max=0)])
    score_fail = IntegerField(_l("Points for 不达标"), [InputRequired(), NumberRange(min=-100, max=0)])
    bonus_per_item = IntegerField(_l("Bonus points per bonus item met"), [InputRequired(), NumberRange(min=0, max=100)])
    bonus_cap = IntegerField(
        _l("Bonus cap"), [Optional(), NumberRange(min=0, max=100)], description=_l("Empty for no cap.")
    )
    max_basic = IntegerField(
        _l("Most 基本达标 items allowed in the listed categories"),
        [Optional(), NumberRange(min=0, max=1000)],
        description=_l("Empty for no limit."),
    )
    max_basic_categories = SelectMultipleField(_l("Categories the limit counts"), choices=[])

    def __init__(self, *args, version: StandardVersion, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_basic_categories.choices = [(c.code, c.name_zh) for c in version.categories]

    def rules(self, version: StandardVersion) -> dict:
        rules = dict(version.rules or {})
        rules.update(
            base=self.base.data,
            pass_line=self.pass_line.data,
            no_fail=self.no_fail.data,
            scores={"pass": 0, "basic": self.score_basic.data, "fail": self.score_fail.data},
            bonus_per_item=self.bonus_per_item.data,
            bonus_cap=self.bonus_cap.data,
            max_basic=self.max_basic.data,
            max_basic_categories=list(self.max_basic_categories.data or []),
        )
        return rules


class NewAssessmentForm(FlaskForm):
    kind = SelectField(_l("Kind"), [DataRequired()], choices=[])
    version_id = SelectField(_l("Standard version"), [DataRequired()], coerce=int, choices=[])
    assessed_on = DateField(_l("Assessment date"), [DataRequired()], default=local_today)
    note = TextAreaField(_l("Note"), [Optional(), Length(max=4000)])

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = AssessmentKind.choices()
        versions = db.session.scalars(
            select(StandardVersion).order_by(StandardVersion.effective_on.desc().nulls_last(), StandardVersion.code)
        ).all()
        # The enterprise's target tier first.
        versions = sorted(versions, key=lambda v: v.tier != enterprise.target_tier)
        self.version_id.choices = [(v.id, f"{v.title}{'' if v.is_verified else ' *'}") for v in versions]

    def validate_assessed_on(self, field) -> None:
        if field.data and field.data > local_today():
            raise ValidationError(_l("The assessment date cannot be in the future."))


class AssessmentHeaderForm(FlaskForm):
    kind = SelectField(_l("Kind"), [DataRequired()], choices=[])
    assessed_on = DateField(_l("Assessment date"), [DataRequired()])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=4000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = AssessmentKind.choices()

    def validate_assessed_on(self, field) -> None:
        if field.data and field.data > local_today():
            raise ValidationError(_l("The assessment date cannot be in the future."))


def judgement_choices(is_bonus: bool) -> list[tuple[str, str]]:
    """A bonus item is met or not: it has no 基本达标."""
    return [(j.value, j.label) for j in Judgement if not (is_bonus and j is Judgement.BASIC)]


def checklist_form(results: Sequence[AssessmentResult], **kwargs) -> FlaskForm:
    """A form with a judgement and an evidence field per result (``j_<number>`` and ``e_<number>``)."""

    class ChecklistForm(AssessmentHeaderForm):
        pass

    for result in results:
        number = result.item.number
        setattr(
            ChecklistForm,
            f"j_{number}",
            SelectField(
                _l("Judgement"),
                [DataRequired()],
                choices=judgement_choices(result.item.is_bonus),
                default=result.judgement.value,
            ),
        )
        setattr(
            ChecklistForm,
            f"e_{number}",
            TextAreaField(_l("Evidence"), [Optional(), Length(max=EVIDENCE_MAX)], default=result.evidence),
        )
    return ChecklistForm(**kwargs)


class ResultForm(FlaskForm):
    judgement = SelectField(_l("Judgement"), [DataRequired()], choices=[])
    evidence = TextAreaField(_l("Evidence"), [Optional(), Length(max=EVIDENCE_MAX)])

    def __init__(self, *args, is_bonus: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.judgement.choices = judgement_choices(is_bonus)


class AttachmentForm(FlaskForm):
    file = FileField(
        _l("Attachment"),
        [FileRequired(_l("Choose a file."))],
        description=_l("PDF, image or Office file, at most 20 MB."),
    )


AUDIT_OPINION_CHOICES = [
    ("", _l("No audited report yet")),
    ("unqualified", _l("Unqualified opinion (无保留意见)")),
    ("qualified", _l("Qualified opinion (保留意见)")),
    ("adverse", _l("Adverse opinion (否定意见)")),
    ("disclaimer", _l("Disclaimer of opinion (无法表示意见)")),
]

LINE_LABELS = {
    "total_assets": _l("Total assets at year end (资产总额)"),
    "total_assets_opening": _l("Total assets at the start of the year"),
    "total_liabilities": _l("Total liabilities (负债总额)"),
    "current_assets": _l("Current assets (流动资产)"),
    "current_liabilities": _l("Current liabilities (流动负债)"),
    "cash": _l("Cash and cash equivalents (货币资金)"),
    "operating_revenue": _l("Operating revenue (营业收入)"),
    "operating_cost": _l("Operating cost (营业成本)"),
    "operating_profit": _l("Operating profit (营业利润)"),
    "total_profit": _l("Total profit (利润总额)"),
    "interest_expense": _l("Interest expense (利息支出)"),
    "net_profit": _l("Net profit (净利润)"),
    "operating_cash_flow": _l("Net operating cash flow (经营活动现金流量净额)"),
}


class FinancialsForm(FlaskForm):
    year = IntegerField(_l("Financial year"), [Optional(), NumberRange(min=1990, max=2100)])
    is_production = BooleanField(
        _l("Production enterprise (生产型企业)"),
        description=_l("Production enterprises have a higher debt-ratio threshold."),
    )
    audit_opinion = SelectField(_l("Audit opinion"), choices=AUDIT_OPINION_CHOICES)
    apply = BooleanField(_l("Set the computed items to these judgements"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.apply.data:
            for name in FINANCIAL_LINES:
                field = self[name]
                if name not in OPTIONAL_LINES and field.data is None:
                    field.errors = [*field.errors, _l("Enter this figure to compute the judgements.")]
                    ok = False
        return ok

    def financials(self) -> dict:
        return {
            "year": self.year.data,
            "is_production": self.is_production.data,
            "audit_opinion": self.audit_opinion.data or None,
            "lines": {name: self[name].data for name in FINANCIAL_LINES if self[name].data is not None},
        }


for _name in FINANCIAL_LINES:
    setattr(
        FinancialsForm,
        _name,
        DecimalField(LINE_LABELS[_name], [Optional(), NumberRange(min=-1e12, max=1e12)], places=2),
    )
