"""Standards API: the catalog, recording an assessment (201 with total, bonus, outcome, failing), the latest one."""

from datetime import date

import pytest

from crm.extensions import db


@pytest.fixture
def staff(make_user, make_enterprise, api_token):
    enterprise = make_enterprise(area="350500", office="xm-quanzhou")
    return {
        "enterprise": enterprise,
        "bureau": api_token(make_user("bureau", areas=["350500"])),
        "viewer": api_token(make_user("viewer", areas=["350500"])),
        "outsider": api_token(make_user("customs", offices=["fuzhou"])),
    }


def all_pass(**overrides) -> list[dict]:
    results = [{"item": n, "result": "pass"} for n in range(1, 69)]
    results += [{"item": n, "result": "na"} for n in range(69, 75)]
    for item, value in overrides.items():
        number = int(item.removeprefix("i"))
        results = [r for r in results if r["item"] != number] + [{"item": number, "result": value, "note": "记录"}]
    return results


def test_list_standards_and_items(client, staff):
    response = client.get("/api/v1/standards", headers=staff["viewer"])
    assert response.status_code == 200
    version = next(v for v in response.json["items"] if v["code"] == "aeo-advanced-2026")
    assert version["items"] == 74 and version["verified"] is False and version["rules"]["pass_line"] == 95
    response = client.get("/api/v1/standards/aeo-advanced-2026/items?per_page=200", headers=staff["viewer"])
    assert response.json["total"] == 74
    item13 = next(i for i in response.json["items"] if i["number"] == 13)
    assert item13["category"] == "finance" and item13["clause"] == 7 and item13["computed_from"] == "solvency"
    assert client.get("/api/v1/standards/nope/items", headers=staff["viewer"]).status_code == 404


def test_post_an_assessment_returns_its_evaluation(client, staff):
    enterprise = staff["enterprise"]
    body = {
        "standard": "aeo-advanced-2026",
        "kind": "officer",
        "assessed_on": "2026-06-01",
        "results": all_pass(i9="basic", i50="basic", i61="basic", i66="basic", i70="pass"),
    }
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/assessments", json=body, headers=staff["bureau"])
    assert response.status_code == 201, response.json
    data = response.json
    assert (data["total"], data["bonus"], data["outcome"]) == (97, 1, "fail")
    assert data["failing"] == [{"item": n, "conditions": ["max_basic"]} for n in (9, 50, 61, 66)]
    assert enterprise.readiness_outcome == "fail" and enterprise.readiness_total == 97
    latest = client.get(f"/api/v1/enterprises/{enterprise.id}/assessments/latest", headers=staff["viewer"])
    assert latest.status_code == 200 and latest.json["id"] == data["id"]
    assert next(r for r in latest.json["results"] if r["item"] == 9)["note"] == "记录"


def test_missing_results_are_pending_and_the_outcome_incomplete(client, staff):
    enterprise = staff["enterprise"]
    body = {"standard": "aeo-advanced-2026", "kind": "self", "assessed_on": "2026-05-01", "results": all_pass()[:60]}
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/assessments", json=body, headers=staff["bureau"])
    assert response.status_code == 201
    assert response.json["outcome"] == "incomplete" and response.json["failing"] == []
    assert response.json["pending"] == list(range(61, 75))


def test_a_draft_does_not_become_the_latest(client, staff):
    enterprise = staff["enterprise"]
    body = {"standard": "aeo-advanced-2026", "kind": "self", "assessed_on": "2026-05-01", "draft": True}
    assert (
        client.post(f"/api/v1/enterprises/{enterprise.id}/assessments", json=body, headers=staff["bureau"]).status_code
        == 201
    )
    response = client.get(f"/api/v1/enterprises/{enterprise.id}/assessments/latest", headers=staff["bureau"])
    assert response.status_code == 404
    assert enterprise.readiness_outcome is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"standard": "nope"}, "standard"),
        ({"kind": "friend"}, "kind"),
        ({"assessed_on": "2026-13-01"}, "assessed_on"),
        ({"assessed_on": "2999-01-01"}, "assessed_on"),
        ({"results": [{"item": 75, "result": "pass"}]}, "results[0]"),
        ({"results": [{"item": 5, "result": "great"}]}, "results[0]"),
        ({"results": [{"item": 70, "result": "basic"}]}, "results[0]"),
        ({"results": [{"item": 5, "result": "pass"}, {"item": 5, "result": "fail"}]}, "results[1]"),
        # Values of the wrong JSON shape are refused like any other (never a server error).
        ({"kind": {}}, "kind"),
        ({"standard": ["aeo-advanced-2026"]}, "standard"),
        ({"assessed_on": ""}, "assessed_on"),
        ({"results": [{"item": 5, "result": {}}]}, "results[0]"),
        ({"results": [{"item": 2**40, "result": "pass"}]}, "results[0]"),
    ],
)
def test_invalid_assessments_are_refused_and_change_nothing(client, staff, change, field):
    enterprise = staff["enterprise"]
    body = {"standard": "aeo-advanced-2026", "kind": "self", "assessed_on": "2026-05-01"} | change
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/assessments", json=body, headers=staff["bureau"])
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert client.get(f"/api/v1/enterprises/{enterprise.id}/assessments", headers=staff["bureau"]).json["total"] == 0


def test_scope_and_role_on_every_call(client, staff):
    enterprise = staff["enterprise"]
    body = {"standard": "aeo-advanced-2026", "kind": "self", "assessed_on": date(2026, 5, 1).isoformat()}
    url = f"/api/v1/enterprises/{enterprise.id}/assessments"
    assert client.post(url, json=body, headers=staff["outsider"]).status_code == 404
    assert client.get(url, headers=staff["outsider"]).status_code == 404
    assert client.get(f"{url}/latest", headers=staff["outsider"]).status_code == 404
    assert client.post(url, json=body, headers=staff["viewer"]).status_code == 403
    assert client.post(url, json=body).status_code == 401
    db.session.rollback()


def test_the_openapi_document_describes_the_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/standards",
        "/standards/{code}/items",
        "/enterprises/{enterprise_id}/assessments",
        "/enterprises/{enterprise_id}/assessments/latest",
        "/enterprises/{enterprise_id}/plan",
        "/enterprises/{enterprise_id}/plan/tasks",
        "/tasks/{task_id}",
    ):
        assert path in paths


def test_the_latest_assessment_refuses_an_empty_or_unknown_kind(client, staff):
    url = f"/api/v1/enterprises/{staff['enterprise'].id}/assessments/latest"
    for query in ("?kind=", "?kind=friend", "?kind=self&kind=officer"):
        response = client.get(url + query, headers=staff["viewer"])
        assert response.status_code == 422 and "kind" in response.json["error"]["fields"], query
