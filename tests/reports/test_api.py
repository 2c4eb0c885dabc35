"""GET /api/v1/reports/pipeline: the shape, the scope, the errors."""

from __future__ import annotations

import pytest

from tests.reports.conftest import PERIOD

STAGES = {
    "candidate",
    "pooled",
    "cultivating",
    "ready",
    "applied",
    "in_certification",
    "certified",
    "not_passed",
    "withdrawn",
}


def test_shape_by_area(client, world, manager, api_token):
    response = client.get(
        "/api/v1/reports/pipeline", query_string=PERIOD | {"group_by": "area"}, headers=api_token(manager)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"rows", "totals"}
    for row in body["rows"]:
        assert set(row) == {"key", "label", "counts", "total"}
        assert set(row["counts"]) == STAGES
        assert row["total"] == sum(row["counts"].values())
    rows = {row["key"]: row for row in body["rows"]}
    assert rows["350100"]["counts"]["cultivating"] == 1 and rows["350100"]["total"] == 2
    assert body["totals"]["total"] == 4 and set(body["totals"]) == {"counts", "total"}


@pytest.mark.parametrize("group_by", ["area", "office", "category", "cohort", "officer", "month"])
def test_every_grouping_answers(client, world, manager, api_token, group_by):
    response = client.get(
        "/api/v1/reports/pipeline", query_string=PERIOD | {"group_by": group_by}, headers=api_token(manager)
    )
    assert response.status_code == 200
    assert response.get_json()["rows"]


def test_month_keys(client, world, manager, api_token):
    body = client.get(
        "/api/v1/reports/pipeline", query_string=PERIOD | {"group_by": "month"}, headers=api_token(manager)
    ).get_json()
    assert [row["key"] for row in body["rows"]] == ["2026-01", "2026-02", "2026-03"]


def test_scope_of_a_bureau_user(client, world, bureau_fq, api_token):
    body = client.get("/api/v1/reports/pipeline", query_string=PERIOD, headers=api_token(bureau_fq)).get_json()
    assert {row["key"] for row in body["rows"]} == {"350100", "350500"}
    assert body["totals"]["total"] == 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"group_by": "planet"}, "group_by"),
        ({"from": "2026-02-30"}, "from"),
        ({"area": "nowhere"}, "area"),
        ({"officer": "-1"}, "officer"),
        ({"stage": ""}, "stage"),
        ({"from": "0001-01-01", "to": "0001-12-31"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"officer": "99999999999999999999999"}, "officer"),
        ({"cohort": "0"}, "cohort"),
    ],
)
def test_bad_arguments_answer_422(client, manager, api_token, args, field):
    response = client.get("/api/v1/reports/pipeline", query_string=args, headers=api_token(manager))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]


def test_needs_a_token(client):
    assert client.get("/api/v1/reports/pipeline").status_code == 401


def test_documented(app):
    from crm.api.openapi import build_document

    build_document.cache_clear()
    operation = build_document()["paths"]["/reports/pipeline"]["get"]
    assert operation["operationId"] == "getPipelineReport"
