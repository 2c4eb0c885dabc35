"""The benchmark's arithmetic: ratios against targets, missing figures, the results file and the table.

The benchmark itself is not part of the suite (``make bench``); what decides its verdicts is.
"""

import json
import math

import pytest

from bench.figures import MEASUREMENTS, Measurement
from bench.results import (
    FAILED,
    MEASURED,
    NOT_AVAILABLE,
    Figure,
    Target,
    evaluate,
    evaluate_all,
    render_table,
    results_document,
    write_results,
)
from bench.settings import FIGURES, TARGETS, URLS
from bench.tools import parse_wrk

LIST = Target("list_vs_floor", "list ÷ floor", "list_rps", "floor_rps", ">=", 0.6)
DEEP = Target("deep_page", "page 1,000 ÷ page 1", "deep_ms", "first_ms", "<=", 2)
MEMORY = Target("worker_memory", "worker memory (MB)", "rss_mb", None, "<=", 150)


def figures(**values):
    result = {}
    for key, value in values.items():
        figure = Figure(key, key, "x")
        if value is None:
            figure.missing(NOT_AVAILABLE, "the dashboard is not merged yet")
        elif value == "failed":
            figure.missing(FAILED, "wrk printed no result")
        else:
            figure.measured(value)
        result[key] = figure
    return result


def test_a_ratio_of_two_figures_of_the_run_is_judged_against_its_target():
    met = evaluate(LIST, figures(list_rps=300, floor_rps=400))
    assert met.status == MEASURED
    assert met.value == pytest.approx(0.75)
    assert met.met is True
    missed = evaluate(LIST, figures(list_rps=200, floor_rps=400))
    assert missed.value == pytest.approx(0.5)
    assert missed.met is False
    assert evaluate(DEEP, figures(deep_ms=30, first_ms=15)).met is True  # exactly the bound
    assert evaluate(DEEP, figures(deep_ms=31, first_ms=15)).met is False


def test_a_bound_without_denominator_compares_the_figure_itself():
    assert evaluate(MEMORY, figures(rss_mb=149.9)).met is True
    check = evaluate(MEMORY, figures(rss_mb=151))
    assert check.value == 151
    assert check.met is False


def test_a_missing_figure_makes_its_targets_not_available_never_a_number():
    check = evaluate(LIST, figures(list_rps=None, floor_rps=400))
    assert (check.value, check.met, check.status) == (None, None, NOT_AVAILABLE)
    assert "dashboard is not merged yet" in check.note
    failed = evaluate(LIST, figures(list_rps=300, floor_rps="failed"))
    assert (failed.value, failed.met, failed.status) == (None, None, FAILED)
    unknown = evaluate(LIST, figures(floor_rps=400))
    assert unknown.status == NOT_AVAILABLE
    assert "list_rps" in unknown.note
    zero = evaluate(LIST, figures(list_rps=300, floor_rps=0))
    assert (zero.value, zero.status) == (None, FAILED)


def test_figures_refuse_values_that_are_not_numbers():
    for bad in (math.nan, math.inf, None):
        with pytest.raises(ValueError, match="finite number"):
            Figure("x", "x", "s").measured(bad)
    with pytest.raises(ValueError, match="op must be"):
        Target("t", "t", "a", "b", "<", 1)


def test_results_file_holds_every_figure_and_target_with_a_summary(tmp_path):
    values = figures(list_rps=300, floor_rps=400, deep_ms=45, first_ms=15, rss_mb=None)
    values["list_rps"].detail["percentiles_ms"] = {"50": 12.5}
    checks = evaluate_all([LIST, DEEP, MEMORY], values)
    document = results_document({"size": 5000}, values, checks)
    path = write_results(tmp_path / "bench" / "results.json", document)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["size"] == 5000
    assert written["figures"]["list_rps"]["value"] == 300
    assert written["figures"]["list_rps"]["detail"] == {"percentiles_ms": {"50": 12.5}}
    assert written["figures"]["rss_mb"] == {
        "key": "rss_mb",
        "label": "rss_mb",
        "unit": "x",
        "value": None,
        "status": NOT_AVAILABLE,
        "note": "the dashboard is not merged yet",
        "detail": {},
    }
    by_key = {t["key"]: t for t in written["targets"]}
    assert by_key["list_vs_floor"] | {"value": round(by_key["list_vs_floor"]["value"], 3)} == {
        "key": "list_vs_floor",
        "label": "list ÷ floor",
        "numerator": "list_rps",
        "denominator": "floor_rps",
        "value": 0.75,
        "target": ">= 0.6",
        "met": True,
        "status": MEASURED,
        "note": "",
    }
    assert by_key["deep_page"]["met"] is False
    assert by_key["worker_memory"]["status"] == NOT_AVAILABLE
    assert written["summary"] == {
        "measured": 4,
        "not_available": 1,
        "failed": 0,
        "targets_met": 1,
        "targets_missed": 1,
        "targets_pending": 1,
    }
    with pytest.raises(ValueError, match="JSON compliant"):
        write_results(tmp_path / "nan.json", {"value": math.nan})


def test_the_table_shows_verdicts_and_says_what_is_not_available_yet():
    values = figures(list_rps=300, floor_rps=400, deep_ms=45, first_ms=15, rss_mb=None)
    table = render_table(values, evaluate_all([LIST, DEEP, MEMORY], values))
    lines = table.splitlines()
    assert any(line.startswith("list ÷ floor") and "0.75" in line and line.endswith("met") for line in lines)
    assert any(line.startswith("page 1,000 ÷ page 1") and "3.00" in line and "MISSED" in line for line in lines)
    assert any(line.startswith("worker memory (MB)") and line.endswith(NOT_AVAILABLE) for line in lines)
    assert any(line.startswith("rss_mb") and NOT_AVAILABLE in line and "dashboard" in line for line in lines)


def test_the_registry_is_consistent_every_target_has_a_measurement():
    produced = [key for measurement in MEASUREMENTS for key in measurement.produces]
    assert len(produced) == len(set(produced)), "each figure comes from one measurement"
    assert set(produced) == set(FIGURES)
    for target in TARGETS:
        assert target.numerator in FIGURES
        assert target.denominator is None or target.denominator in FIGURES
    for measurement in MEASUREMENTS:
        assert set(measurement.urls) <= set(URLS), measurement.key


def test_a_measurement_waits_for_its_url_or_its_function():
    ready = Measurement("list", ("a",), lambda bench: {}, ("enterprise_list",))
    assert ready.missing_reason() is None
    no_url = Measurement("dash", ("a",), lambda bench: {}, ("dashboard",), waiting_for="the dashboard is not merged")
    assert URLS["dashboard"] is None or no_url.missing_reason() is None
    if URLS["dashboard"] is None:
        assert "the dashboard is not merged" in no_url.missing_reason()
        assert "URLS['dashboard']" in no_url.missing_reason()
    no_function = Measurement("import", ("a",), None, waiting_for="import is not merged yet")
    assert no_function.missing_reason() == "import is not merged yet"


WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:41234/enterprises/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.02ms    2.10ms  30.11ms   88.00%
    Req/Sec    76.90      8.20    90.00     70.00%
  Latency Distribution
     50%   12.50ms
     75%  850.00us
     90%    1.20s
     99%    2.00m
  231 requests in 3.00s, 4.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:     76.93
Transfer/sec:      1.37MB
"""


def test_wrk_reports_are_read_with_their_units():
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == 76.93
    assert result.requests == 231
    assert result.percentiles_ms == {"50": 12.5, "75": 0.85, "90": 1200.0, "99": 120_000.0}
    assert result.p50_ms == 12.5
    assert result.non_2xx_3xx == 3
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1}
