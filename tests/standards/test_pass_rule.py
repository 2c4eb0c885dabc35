"""The pass rule on hand-built cases at each boundary, and the financial items at their thresholds."""

from decimal import Decimal

import pytest

from crm.standards.models import AssessmentOutcome, Judgement
from crm.standards.rules import (
    MAX_BASIC,
    MIN_TOTAL,
    NO_FAIL,
    Entry,
    compute_financials,
    compute_group,
    evaluate,
)

RULES = {
    "base": 100,
    "pass_line": 95,
    "no_fail": True,
    "scores": {"pass": 0, "basic": -1, "fail": -2},
    "bonus_per_item": 1,
    "bonus_cap": 2,
    "max_basic": 3,
    "max_basic_categories": ["internal_control", "trade_security"],
}

# Items of the 2026 standard by category: 1-11 internal control, 12-15 finance, 16-43 compliance,
# 44-68 trade security, 69-74 bonus.
CATEGORY = {
    **dict.fromkeys(range(1, 12), "internal_control"),
    **dict.fromkeys(range(12, 16), "finance"),
    **dict.fromkeys(range(16, 44), "compliance"),
    **dict.fromkeys(range(44, 69), "trade_security"),
    **dict.fromkeys(range(69, 75), "bonus"),
}


def entries(**judged) -> list[Entry]:
    """Every item 达标 (bonus items 不适用) unless given as item_<n>=Judgement."""
    result = []
    for number, category in CATEGORY.items():
        bonus = category == "bonus"
        default = Judgement.NOT_APPLICABLE if bonus else Judgement.PASS
        result.append(Entry(number, category, judged.get(f"item_{number}", default), bonus))
    return result


def test_all_items_met_passes_with_100_points():
    result = evaluate(RULES, entries())
    assert (result.total, result.bonus, result.outcome) == (100, 0, AssessmentOutcome.PASS)
    assert result.broken == {} and result.failing == []


def test_95_points_passes_and_94_fails():
    # Five 基本达标 outside the limited categories: 95 points.
    five = {f"item_{n}": Judgement.BASIC for n in (16, 17, 18, 19, 20)}
    result = evaluate(RULES, entries(**five))
    assert (result.total, result.outcome) == (95, AssessmentOutcome.PASS)

    six = five | {"item_21": Judgement.BASIC}
    result = evaluate(RULES, entries(**six))
    assert (result.total, result.outcome) == (94, AssessmentOutcome.FAIL)
    assert result.broken == {MIN_TOTAL: [16, 17, 18, 19, 20, 21]}
    assert {f["item"] for f in result.failing} == {16, 17, 18, 19, 20, 21}


def test_a_single_fail_breaks_the_rule_even_at_98_points():
    result = evaluate(RULES, entries(item_15=Judgement.FAIL))
    assert result.total == 98
    assert result.outcome is AssessmentOutcome.FAIL
    assert result.broken == {NO_FAIL: [15]}
    assert result.failing == [{"item": 15, "conditions": [NO_FAIL]}]


def test_the_fourth_basic_across_internal_control_and_trade_security_fails():
    three = {"item_3": Judgement.BASIC, "item_9": Judgement.BASIC, "item_50": Judgement.BASIC}
    result = evaluate(RULES, entries(**three))
    assert (result.total, result.outcome) == (97, AssessmentOutcome.PASS)
    assert result.basic_limited == [3, 9, 50]

    four = three | {"item_61": Judgement.BASIC}
    result = evaluate(RULES, entries(**four))
    assert result.total == 96
    assert result.outcome is AssessmentOutcome.FAIL
    assert result.broken == {MAX_BASIC: [3, 9, 50, 61]}


def test_basic_items_in_other_categories_do_not_count_towards_the_limit():
    judged = {f"item_{n}": Judgement.BASIC for n in (1, 2, 3, 13, 20)}
    result = evaluate(RULES, entries(**judged))
    assert result.basic_limited == [1, 2, 3]
    assert (result.total, result.outcome) == (95, AssessmentOutcome.PASS)


def test_bonus_is_one_point_per_item_capped_at_two():
    one = evaluate(RULES, entries(item_69=Judgement.PASS))
    assert (one.total, one.bonus, one.bonus_earned) == (101, 1, 1)
    three = evaluate(RULES, entries(item_69=Judgement.PASS, item_70=Judgement.PASS, item_72=Judgement.PASS))
    assert (three.total, three.bonus, three.bonus_earned) == (102, 2, 3)


def test_bonus_lifts_94_to_the_pass_line():
    judged = {f"item_{n}": Judgement.BASIC for n in (16, 17, 18, 19, 20, 21)}
    result = evaluate(RULES, entries(**judged, item_70=Judgement.PASS))
    assert (result.total, result.outcome) == (95, AssessmentOutcome.PASS)
    # The cap holds: 92 points plus three bonus items is 94, not 95.
    judged = {f"item_{n}": Judgement.BASIC for n in (16, 17, 18, 19, 20, 21, 22, 23)}
    capped = evaluate(RULES, entries(**judged, item_69=Judgement.PASS, item_70=Judgement.PASS, item_71=Judgement.PASS))
    assert (capped.total, capped.outcome) == (94, AssessmentOutcome.FAIL)


def test_not_applicable_items_are_not_counted():
    judged = {f"item_{n}": Judgement.NOT_APPLICABLE for n in range(44, 69)}
    result = evaluate(RULES, entries(**judged))
    assert (result.total, result.outcome) == (100, AssessmentOutcome.PASS)
    assert result.counts["na"] == 25 + 6


def test_pending_items_make_the_result_incomplete_never_pass():
    result = evaluate(RULES, entries(item_8=Judgement.PENDING))
    assert result.outcome is AssessmentOutcome.INCOMPLETE
    assert result.pending == [8]
    assert result.total == 100
    # A pending bonus item too: nothing is certain until every item is judged.
    assert evaluate(RULES, entries(item_71=Judgement.PENDING)).outcome is AssessmentOutcome.INCOMPLETE


def test_pending_items_cannot_hide_a_broken_condition():
    assert evaluate(RULES, entries(item_8=Judgement.PENDING, item_15=Judgement.FAIL)).outcome is AssessmentOutcome.FAIL
    # 94 points with a pending bonus item could still reach 95: incomplete, not fail.
    judged = {f"item_{n}": Judgement.BASIC for n in (16, 17, 18, 19, 20, 21)}
    maybe = evaluate(RULES, entries(**judged, item_74=Judgement.PENDING))
    assert (maybe.total, maybe.outcome) == (94, AssessmentOutcome.INCOMPLETE)
    # At 93 one pending bonus item (+1) cannot reach the line any more; two could (+2, the cap).
    judged7 = {f"item_{n}": Judgement.BASIC for n in (16, 17, 18, 19, 20, 21, 22)}
    assert evaluate(RULES, entries(**judged7, item_74=Judgement.PENDING)).outcome is AssessmentOutcome.FAIL
    two_pending = entries(**judged7, item_73=Judgement.PENDING, item_74=Judgement.PENDING)
    assert evaluate(RULES, two_pending).outcome is AssessmentOutcome.INCOMPLETE


def test_rules_are_settings_of_the_version():
    lenient = RULES | {"pass_line": 90, "max_basic": None, "no_fail": False}
    judged = {f"item_{n}": Judgement.BASIC for n in (1, 2, 3, 4, 5)} | {"item_30": Judgement.FAIL}
    result = evaluate(lenient, entries(**judged))
    assert (result.total, result.outcome) == (93, AssessmentOutcome.PASS)


# --- financial items ------------------------------------------------------------------------------------

FINANCIAL = {
    "met_for_pass": 2,
    "met_for_basic": 1,
    "solvency": [
        {"ratio": "debt_ratio", "op": "<=", "production": 0.85, "non_production": 0.75},
        {"ratio": "cash_ratio", "op": ">=", "value": 0.2},
        {"ratio": "operating_cash_flow_ratio", "op": ">=", "value": 0.1},
        {"ratio": "current_ratio", "op": ">=", "value": 1.0},
    ],
    "profitability": [
        {"ratio": "net_profit", "op": ">", "value": 0},
        {"ratio": "operating_margin", "op": ">=", "value": 0.01},
        {"ratio": "gross_margin", "op": ">=", "value": 0.01},
        {"ratio": "operating_cash_flow", "op": ">", "value": 0},
        {"ratio": "return_on_assets", "op": ">=", "value": 0.01},
    ],
}


def solvency_lines(liabilities, cash="0", ocf="0", current_assets="0") -> dict:
    return {
        "total_assets": "1000",
        "total_liabilities": liabilities,
        "current_liabilities": "100",
        "cash": cash,
        "operating_cash_flow": ocf,
        "current_assets": current_assets,
    }


@pytest.mark.parametrize(
    ("liabilities", "is_production", "met"),
    [
        ("850", True, True),  # 85% exactly: met for a production enterprise
        ("851", True, False),
        ("750", False, True),  # 75% exactly: met for a non-production enterprise
        ("751", False, False),
        ("800", False, False),  # 80% is fine for production, too high for non-production
        ("800", True, True),
    ],
)
def test_debt_ratio_threshold_depends_on_production(liabilities, is_production, met):
    result = compute_group(FINANCIAL, "solvency", solvency_lines(liabilities), is_production=is_production)
    debt = result.ratios[0]
    assert debt.code == "debt_ratio" and debt.met is met
    assert debt.threshold == (Decimal("0.85") if is_production else Decimal("0.75"))
    # Only this ratio can be met here: 1 met = 基本达标, 0 = 不达标.
    assert result.judgement is (Judgement.BASIC if met else Judgement.FAIL)


@pytest.mark.parametrize(
    ("cash", "ocf", "current_assets", "met_codes"),
    [
        ("20", "10", "100", {"cash_ratio", "operating_cash_flow_ratio", "current_ratio"}),  # each exactly at its line
        ("19.99", "9.99", "99.99", set()),
    ],
)
def test_solvency_ratios_at_their_thresholds(cash, ocf, current_assets, met_codes):
    lines = solvency_lines("900", cash=cash, ocf=ocf, current_assets=current_assets)
    result = compute_group(FINANCIAL, "solvency", lines, is_production=True)
    assert {r.code for r in result.ratios if r.met} == met_codes
    assert result.judgement is (Judgement.PASS if len(met_codes) >= 2 else Judgement.FAIL)


def profit_lines(**overrides) -> dict:
    lines = {
        "total_assets": "1000",
        "operating_revenue": "1000",
        "operating_cost": "1000",  # gross margin 0
        "operating_profit": "0",
        "total_profit": "0",
        "interest_expense": "0",
        "net_profit": "0",
        "operating_cash_flow": "0",
    }
    return lines | overrides


def test_profitability_two_ratios_meet_one_is_basic_none_fails():
    nothing = compute_group(FINANCIAL, "profitability", profit_lines(), is_production=False)
    assert (nothing.met, nothing.judgement) == (0, Judgement.FAIL)
    one = compute_group(FINANCIAL, "profitability", profit_lines(net_profit="0.01"), is_production=False)
    assert (one.met, one.judgement) == (1, Judgement.BASIC)
    two = compute_group(
        FINANCIAL, "profitability", profit_lines(net_profit="1", operating_cost="990"), is_production=False
    )
    assert (two.met, two.judgement) == (2, Judgement.PASS)  # gross margin exactly 1%


def test_operating_margin_needs_a_positive_operating_profit_and_one_percent():
    at_line = compute_group(FINANCIAL, "profitability", profit_lines(operating_profit="10"), is_production=True)
    assert next(r for r in at_line.ratios if r.code == "operating_margin").met
    below = compute_group(FINANCIAL, "profitability", profit_lines(operating_profit="9.99"), is_production=True)
    assert not next(r for r in below.ratios if r.code == "operating_margin").met


def test_return_on_assets_uses_average_assets_and_interest():
    lines = profit_lines(total_profit="5", interest_expense="5", total_assets_opening="1000")
    result = compute_group(FINANCIAL, "profitability", lines, is_production=True)
    roa = next(r for r in result.ratios if r.code == "return_on_assets")
    assert roa.value == Decimal("0.01") and roa.met


def test_a_zero_divisor_leaves_the_ratio_unmet():
    lines = solvency_lines("0") | {"total_assets": "0", "current_liabilities": "0"}
    result = compute_group(FINANCIAL, "solvency", lines, is_production=True)
    assert all(r.value is None and not r.met for r in result.ratios)


@pytest.mark.parametrize(
    ("opinion", "judgement"),
    [
        ("unqualified", Judgement.PASS),
        ("qualified", Judgement.BASIC),
        ("adverse", Judgement.FAIL),
        ("disclaimer", Judgement.FAIL),
        (None, Judgement.PENDING),
    ],
)
def test_audit_opinion_judgement(opinion, judgement):
    computed = compute_financials({"financial": FINANCIAL}, {"audit_opinion": opinion, "lines": {}})
    assert computed["audit_opinion"].judgement is judgement
