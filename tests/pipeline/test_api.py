"""The pipeline API: stages, transitions (200 or 422 transition_blocked), history; scoped like every record."""

from __future__ import annotations

from datetime import date

from crm.api.openapi import build_document
from crm.extensions import db
from crm.pipeline.models import StageChange


def test_stages_are_listed_in_order(client, make_user, api_token):
    headers = api_token(make_user("viewer", areas=["350500"]))
    response = client.get("/api/v1/stages", headers=headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] == 9 and data["page"] == 1
    assert [s["code"] for s in data["items"]][:3] == ["candidate", "pooled", "cultivating"]
    assert data["items"][0] == {
        "code": "candidate",
        "name_zh": "推荐候选",
        "name_en": "Candidate",
        "sort_order": 10,
        "sla_days": 30,
        "kind": "open",
    }


def test_transition_returns_the_enterprise(client, owners, in_stage, api_token):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    from crm.pipeline.models import Certification  # noqa: F401  (the move creates it)

    headers = api_token(commerce)
    response = client.post(
        f"/api/v1/enterprises/{enterprise.id}/transitions",
        json={"to": "withdrawn", "reason": "enterprise_declined", "comment": "企业暂缓认证计划"},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["id"] == enterprise.id and data["stage"] == "withdrawn"
    assert data["days_in_stage"] == 0 and data["is_stale"] is False and data["incentives_suspended"] is False
    change = db.session.scalars(db.select(StageChange).where(StageChange.enterprise_id == enterprise.id)).one()
    assert (change.to_stage, change.comment, change.data) == (
        "withdrawn",
        "企业暂缓认证计划",
        {"reason": "enterprise_declined"},
    )


def test_a_blocked_transition_is_422_with_the_failing_conditions(client, owners, in_stage, api_token):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    response = client.post(
        f"/api/v1/enterprises/{enterprise.id}/transitions", json={"to": "applied"}, headers=api_token(commerce)
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "transition_blocked"
    assert set(error["fields"]) == {"applied_on", "assessment"}
    assert error["fields"]["applied_on"] == ["请填写提交申请的日期。"]
    assert enterprise.stage == "ready"


def test_unknown_and_same_stage_are_blocked(client, owners, in_stage, api_token):
    commerce, _customs = owners
    enterprise = in_stage("pooled")
    headers = api_token(commerce)
    for body in ({"to": "nowhere"}, {"to": "pooled"}, {}):
        response = client.post(f"/api/v1/enterprises/{enterprise.id}/transitions", json=body, headers=headers)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "transition_blocked"
        assert set(response.get_json()["error"]["fields"]) == {"to"}


def test_unreadable_fields_are_a_validation_error(client, owners, in_stage, api_token):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    headers = api_token(commerce)
    url = f"/api/v1/enterprises/{enterprise.id}/transitions"
    response = client.post(url, json={"to": "applied", "applied_on": "01/05/2026", "comment": 5}, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and set(error["fields"]) == {"applied_on", "comment"}
    assert client.post(url, data="not json", headers=headers).status_code == 400


def test_transitions_are_scoped_and_need_the_permission(client, in_stage, make_user, api_token):
    enterprise = in_stage("pooled")
    url = f"/api/v1/enterprises/{enterprise.id}/transitions"
    outside = api_token(make_user("customs", offices=["fuzhou"]))
    response = client.post(url, json={"to": "cultivating"}, headers=outside)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/enterprises/{enterprise.id}/history", headers=outside).status_code == 404
    viewer = api_token(make_user("viewer", areas=["350500"]))
    assert client.post(url, json={"to": "cultivating"}, headers=viewer).status_code == 403
    assert (
        client.post("/api/v1/enterprises/999999/transitions", json={"to": "pooled"}, headers=outside).status_code == 404
    )
    assert enterprise.stage == "pooled"


def test_history_lists_changes_newest_first(client, owners, in_stage, api_token, manager):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    headers = api_token(commerce)
    url = f"/api/v1/enterprises/{enterprise.id}/transitions"
    client.post(
        url, json={"to": "not_passed", "decided_on": "2026-05-02", "reason": "compliance_failed"}, headers=headers
    )
    client.post(url, json={"to": "cultivating", "comment": "整改后再培育"}, headers=headers)
    response = client.get(f"/api/v1/enterprises/{enterprise.id}/history", headers=headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] == 2
    newest, oldest = data["items"]
    assert (newest["from"], newest["to"], newest["comment"]) == ("not_passed", "cultivating", "整改后再培育")
    assert oldest["data"] == {"decided_on": "2026-05-02", "reason": "compliance_failed"}
    assert oldest["changed_by"] == commerce.username and oldest["override_reason"] is None


def test_the_api_is_described(app):
    document = build_document()
    for path in ("/stages", "/enterprises/{enterprise_id}/transitions", "/enterprises/{enterprise_id}/history"):
        assert path in document["paths"]
    assert "TransitionRequest" in document["components"]["schemas"]
    assert date.today()  # the document builds without duplicate paths or components
