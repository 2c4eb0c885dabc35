"""Reading API input: JSON values of the wrong shape, whole numbers written as 3.0, ids beyond the database range,
empty or repeated query arguments. Each is a clear 422 (or accepted, when the document allows it), never a 500."""

from __future__ import annotations

import pytest

from crm.api.helpers import as_id, as_int, id_list, is_choice, parse_date, query_choice, query_date
from crm.core.security import MAX_URL_INTEGER


def test_whole_numbers_and_ids():
    assert as_int(3) == 3 and as_int(3.0) == 3 and as_int(True) is None and as_int(3.5) is None and as_int("3") is None
    assert as_id(1) == 1 and as_id(MAX_URL_INTEGER) == MAX_URL_INTEGER
    assert as_id(0) is None and as_id(MAX_URL_INTEGER + 1) is None and as_id(-4) is None
    assert id_list([1, 2.0]) == [1, 2] and id_list([]) is None and id_list([1, {}]) is None and id_list({}) is None


def test_choices_and_dates():
    assert is_choice("a", ["a", "b"]) and not is_choice({}, ["a"]) and not is_choice(["a"], ["a"])
    errors: dict = {}
    assert parse_date("2026-05-01", "d", errors).isoformat() == "2026-05-01" and parse_date(None, "d", errors) is None
    for bad in ("", "20260501", "2026-02-30", 20260501, {}):
        errors = {}
        assert parse_date(bad, "d", errors) is None and errors == {"d": [errors["d"][0]]}, bad


@pytest.mark.parametrize(
    ("query", "expected", "error"),
    [
        ("", None, False),
        ("kind=a", "a", False),
        ("kind=", None, True),
        ("kind=c", None, True),
        ("kind=a&kind=b", None, True),
    ],
)
def test_query_choice(app, query, expected, error):
    with app.test_request_context(f"/?{query}"):
        errors: dict = {}
        assert query_choice("kind", ["a", "b"], errors) == expected
        assert bool(errors) == error


def test_query_date(app):
    with app.test_request_context("/?from=2026-01-02&to="):
        errors: dict = {}
        assert query_date("from", errors).isoformat() == "2026-01-02"
        assert query_date("to", errors) is None and "to" in errors
        assert query_date("missing", errors) is None and "missing" not in errors
