"""The pass rule of a standard version, and the financial items computed from statement figures.

Pure functions over plain values: no database, no request. ``evaluate`` is the one place the pass rule is
applied; the assessment services, the API, the plan document and the tests all call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from crm.standards.models import AssessmentOutcome, Judgement

#: The settings of the 2026 advanced standard; a version's own ``rules`` override them key by key.
DEFAULT_RULES: dict[str, Any] = {
    "base": 100,
    "pass_line": 95,
    "no_fail": True,
    "scores": {"pass": 0, "basic": -1, "fail": -2},
    "bonus_per_item": 1,
    "bonus_cap": 2,
    "max_basic": 3,
    "max_basic_categories": ["internal_control", "trade_security"],
}

#: Condition codes, in the order they are reported.
NO_FAIL, MAX_BASIC, MIN_TOTAL = "no_fail", "max_basic", "min_total"
CONDITIONS = (NO_FAIL, MAX_BASIC, MIN_TOTAL)


def effective_rules(rules: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_RULES)
    merged.update(rules or {})
    merged["scores"] = {**DEFAULT_RULES["scores"], **((rules or {}).get("scores") or {})}
    return merged


@dataclass(frozen=True)
class Entry:
    """One applicable item of an assessment and its judgement, as the rule sees it."""

    number: int
    category: str
    judgement: Judgement
    is_bonus: bool = False


@dataclass
class Evaluation:
    total: int
    #: Bonus points counted in the total (after the cap).
    bonus: int
    #: Bonus points earned before the cap.
    bonus_earned: int
    deductions: int
    outcome: AssessmentOutcome
    #: condition code -> the item numbers that break it (only conditions that are broken).
    broken: dict[str, list[int]] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)
    #: 基本达标 items in the limited categories, and the limit (None: no limit).
    basic_limited: list[int] = field(default_factory=list)
    max_basic: int | None = None
    pass_line: int = 95
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failing(self) -> list[dict[str, Any]]:
        """Each item that breaks the rule, with the conditions it breaks (the API's ``failing``)."""
        by_item: dict[int, list[str]] = {}
        for condition in CONDITIONS:
            for number in self.broken.get(condition, []):
                by_item.setdefault(number, []).append(condition)
        return [{"item": number, "conditions": conditions} for number, conditions in sorted(by_item.items())]


def evaluate(rules: Mapping[str, Any] | None, entries: Iterable[Entry]) -> Evaluation:
    """Apply a version's pass rule to the judgements of the applicable items.

    - ``no_fail``: no scored item is 不达标;
    - ``max_basic``: at most N 基本达标 among the items of the listed categories;
    - ``min_total``: base + Σ scores + min(bonus, cap) ≥ pass line.
    不适用 items are not counted. A bonus item scores ``bonus_per_item`` when 达标 and nothing otherwise.
    The outcome is ``fail`` as soon as a condition is broken whatever the 待评估 items turn out to be (even
    if every pending bonus item were met); otherwise ``incomplete`` while any item is 待评估; otherwise ``pass``.
    """
    rules = effective_rules(rules)
    scores = rules["scores"]
    limited = set(rules.get("max_basic_categories") or [])
    max_basic = rules.get("max_basic")
    entries = sorted(entries, key=lambda e: e.number)

    deductions = 0
    bonus_items = 0
    pending_bonus = 0
    fails: list[int] = []
    basics_limited: list[int] = []
    deducting: list[int] = []
    pending: list[int] = []
    counts = {j.value: 0 for j in Judgement}
    for entry in entries:
        counts[entry.judgement.value] += 1
        if entry.judgement is Judgement.PENDING:
            pending.append(entry.number)
            if entry.is_bonus:
                pending_bonus += 1
            continue
        if entry.judgement is Judgement.NOT_APPLICABLE:
            continue
        if entry.is_bonus:
            bonus_items += entry.judgement is Judgement.PASS
            continue
        score = int(scores.get(entry.judgement.value, 0))
        deductions += score
        if score < 0:
            deducting.append(entry.number)
        if entry.judgement is Judgement.FAIL:
            fails.append(entry.number)
        elif entry.judgement is Judgement.BASIC and entry.category in limited:
            basics_limited.append(entry.number)

    per_item = int(rules.get("bonus_per_item") or 0)
    cap = rules.get("bonus_cap")
    earned = bonus_items * per_item
    counted = earned if cap is None else min(earned, int(cap))
    base, pass_line = int(rules.get("base", 100)), int(rules.get("pass_line", 95))
    total = base + deductions + counted

    broken: dict[str, list[int]] = {}
    if rules.get("no_fail", True) and fails:
        broken[NO_FAIL] = fails
    if max_basic is not None and len(basics_limited) > int(max_basic):
        broken[MAX_BASIC] = basics_limited
    best_bonus = (bonus_items + pending_bonus) * per_item
    best_total = base + deductions + (best_bonus if cap is None else min(best_bonus, int(cap)))
    if best_total < pass_line:
        broken[MIN_TOTAL] = deducting

    if broken:
        outcome = AssessmentOutcome.FAIL
    elif pending:
        outcome = AssessmentOutcome.INCOMPLETE
    else:
        outcome = AssessmentOutcome.PASS
    return Evaluation(
        total=total,
        bonus=counted,
        bonus_earned=earned,
        deductions=deductions,
        outcome=outcome,
        broken=broken,
        pending=pending,
        basic_limited=basics_limited,
        max_basic=None if max_basic is None else int(max_basic),
        pass_line=pass_line,
        counts=counts,
    )


# --- financial items (12-14) --------------------------------------------------------------------------

AUDIT_OPINIONS: dict[str, Judgement] = {
    "unqualified": Judgement.PASS,
    "qualified": Judgement.BASIC,
    "adverse": Judgement.FAIL,
    "disclaimer": Judgement.FAIL,
}

#: Statement lines the officer enters (amounts in 万元; only their ratios matter).
FINANCIAL_LINES = (
    "total_assets",
    "total_assets_opening",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
    "cash",
    "operating_revenue",
    "operating_cost",
    "operating_profit",
    "total_profit",
    "interest_expense",
    "net_profit",
    "operating_cash_flow",
)
#: Lines that may be left empty (an empty interest expense counts as 0; the opening assets are optional).
OPTIONAL_LINES = frozenset({"total_assets_opening", "interest_expense"})

RATIO_KINDS = {
    # ratio code: (shown as a percentage?, lines it needs)
    "debt_ratio": (True, ("total_liabilities", "total_assets")),
    "cash_ratio": (False, ("cash", "current_liabilities")),
    "operating_cash_flow_ratio": (False, ("operating_cash_flow", "current_liabilities")),
    "current_ratio": (False, ("current_assets", "current_liabilities")),
    "net_profit": (False, ("net_profit",)),
    "operating_margin": (True, ("operating_profit", "operating_revenue")),
    "gross_margin": (True, ("operating_revenue", "operating_cost")),
    "operating_cash_flow": (False, ("operating_cash_flow",)),
    "return_on_assets": (True, ("total_profit", "total_assets")),
}
OPERATORS = ("<=", ">=", ">", "<")
FINANCIAL_GROUPS = ("solvency", "profitability")


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _divide(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def ratio_value(code: str, lines: Mapping[str, Any]) -> Decimal | None:
    """The value of a ratio from statement lines; None when it cannot be computed (a line missing, a zero divisor)."""
    v = {name: to_decimal(lines.get(name)) for name in FINANCIAL_LINES}
    if code == "debt_ratio":
        return _divide(v["total_liabilities"], v["total_assets"])
    if code == "cash_ratio":
        return _divide(v["cash"], v["current_liabilities"])
    if code == "operating_cash_flow_ratio":
        return _divide(v["operating_cash_flow"], v["current_liabilities"])
    if code == "current_ratio":
        return _divide(v["current_assets"], v["current_liabilities"])
    if code == "net_profit":
        return v["net_profit"]
    if code == "operating_margin":
        return _divide(v["operating_profit"], v["operating_revenue"])
    if code == "gross_margin":
        if v["operating_revenue"] is None or v["operating_cost"] is None:
            return None
        return _divide(v["operating_revenue"] - v["operating_cost"], v["operating_revenue"])
    if code == "operating_cash_flow":
        return v["operating_cash_flow"]
    if code == "return_on_assets":
        if v["total_profit"] is None or v["total_assets"] is None:
            return None
        assets = (
            v["total_assets"]
            if v["total_assets_opening"] is None
            else (v["total_assets"] + v["total_assets_opening"]) / 2
        )
        return _divide(v["total_profit"] + (v["interest_expense"] or Decimal(0)), assets)
    raise KeyError(code)


def _compare(value: Decimal, op: str, threshold: Decimal) -> bool:
    return {
        "<=": value <= threshold,
        ">=": value >= threshold,
        ">": value > threshold,
        "<": value < threshold,
    }[op]


@dataclass(frozen=True)
class RatioResult:
    code: str
    value: Decimal | None
    op: str
    threshold: Decimal
    is_percent: bool
    met: bool


@dataclass(frozen=True)
class ComputedItem:
    group: str
    judgement: Judgement
    met: int
    ratios: tuple[RatioResult, ...]


def threshold_for(spec: Mapping[str, Any], is_production: bool) -> Decimal:
    if "value" in spec:
        return Decimal(str(spec["value"]))
    return Decimal(str(spec["production" if is_production else "non_production"]))


def compute_group(
    financial_rules: Mapping[str, Any], group: str, lines: Mapping[str, Any], *, is_production: bool
) -> ComputedItem:
    """Judge solvency or profitability: ≥ met_for_pass ratios met = 达标, ≥ met_for_basic = 基本达标, else 不达标."""
    results = []
    for spec in financial_rules.get(group) or []:
        code = spec["ratio"]
        value = ratio_value(code, lines)
        threshold = threshold_for(spec, is_production)
        met = value is not None and _compare(value, spec["op"], threshold)
        if met and code == "operating_margin":
            # 营业利润率 counts only with a positive operating profit as well.
            met = (to_decimal(lines.get("operating_profit")) or Decimal(0)) > 0
        results.append(RatioResult(code, value, spec["op"], threshold, RATIO_KINDS[code][0], met))
    met_count = sum(r.met for r in results)
    if met_count >= int(financial_rules.get("met_for_pass", 2)):
        judgement = Judgement.PASS
    elif met_count >= int(financial_rules.get("met_for_basic", 1)):
        judgement = Judgement.BASIC
    else:
        judgement = Judgement.FAIL
    return ComputedItem(group, judgement, met_count, tuple(results))


def audit_opinion_judgement(opinion: str | None) -> Judgement:
    return AUDIT_OPINIONS.get(opinion or "", Judgement.PENDING)


def compute_financials(rules: Mapping[str, Any] | None, financials: Mapping[str, Any]) -> dict[str, ComputedItem]:
    """The computed judgements of a version's financial items, keyed by ``computed_from``."""
    financial_rules = (rules or {}).get("financial") or {}
    lines = financials.get("lines") or {}
    is_production = bool(financials.get("is_production"))
    computed: dict[str, ComputedItem] = {}
    opinion = financials.get("audit_opinion")
    computed["audit_opinion"] = ComputedItem("audit_opinion", audit_opinion_judgement(opinion), 0, ())
    for group in FINANCIAL_GROUPS:
        if financial_rules.get(group):
            computed[group] = compute_group(financial_rules, group, lines, is_production=is_production)
    return computed
