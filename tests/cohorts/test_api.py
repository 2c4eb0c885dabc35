"""The cohorts API: create, read, change, members; scope and permissions."""

from __future__ import annotations

from crm.cohorts.models import Cohort, CohortMember
from crm.enterprises.models import CreditStatus
from crm.extensions import db


def test_create_read_update_and_members(client, make_user, make_enterprise, api_token):
    bureau = make_user("bureau", areas=["350100"])
    headers = api_token(bureau)
    lead = make_enterprise(credit_status=CreditStatus.AEO)
    a, b = make_enterprise(), make_enterprise()
    response = client.post(
        "/api/v1/cohorts",
        json={"name": "产业链 1+N", "kind": "supply_chain", "lead_enterprise_id": lead.id, "target_date": "2027-06-30"},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    cohort_id = response.json["id"]
    assert response.json["lead"]["id"] == lead.id and response.json["lead_is_aeo"] is True

    response = client.post(
        f"/api/v1/cohorts/{cohort_id}/members",
        json={"enterprise_ids": [a.id, b.id, lead.id], "relation": "supplier"},
        headers=headers,
    )
    assert response.status_code == 200
    assert sorted(response.json["added"]) == sorted([a.id, b.id]) and response.json["lead_refused"] is True

    detail = client.get(f"/api/v1/cohorts/{cohort_id}", headers=headers).json
    assert {m["enterprise_id"] for m in detail["members"]} == {a.id, b.id}
    assert all(m["priority"] for m in detail["members"])
    assert detail["rollup"]["members"] == 2

    response = client.patch(f"/api/v1/cohorts/{cohort_id}", json={"lead_enterprise_id": a.id}, headers=headers)
    assert response.status_code == 422, "a member cannot become the lead"
    response = client.patch(f"/api/v1/cohorts/{cohort_id}", json={"name": "改名", "notes": "备注"}, headers=headers)
    assert response.status_code == 200 and response.json["name"] == "改名"

    response = client.delete(f"/api/v1/cohorts/{cohort_id}/members/{a.id}", headers=headers)
    assert response.status_code == 200
    assert [m["enterprise_id"] for m in response.json["members"]] == [b.id]
    assert client.delete(f"/api/v1/cohorts/{cohort_id}/members/{a.id}", headers=headers).status_code == 404

    listing = client.get("/api/v1/cohorts", query_string={"kind": "supply_chain"}, headers=headers).json
    assert [c["id"] for c in listing["items"]] == [cohort_id]


def test_api_scope_hides_out_of_scope_members_and_cohorts(client, make_user, make_enterprise, make_cohort, api_token):
    lead = make_enterprise()
    fz = make_enterprise()
    qz = make_enterprise(area="350500", office="xm-quanzhou")
    cohort = make_cohort(lead=lead, members=[(fz, "subsidiary"), (qz, "supplier")])
    quanzhou = api_token(make_user("bureau", areas=["350500"]))
    detail = client.get(f"/api/v1/cohorts/{cohort.id}", headers=quanzhou).json
    assert detail["lead"] is None
    assert [m["enterprise_id"] for m in detail["members"]] == [qz.id]
    assert detail["hidden_members"] == 1 and detail["rollup"]["members"] == 1
    response = client.post(f"/api/v1/cohorts/{cohort.id}/members", json={"enterprise_ids": [lead.id]}, headers=quanzhou)
    assert response.status_code == 422, "an enterprise outside the caller's scope cannot be added"
    assert client.delete(f"/api/v1/cohorts/{cohort.id}/members/{fz.id}", headers=quanzhou).status_code == 404

    xiamen = api_token(make_user("bureau", areas=["350200"]))
    assert client.get(f"/api/v1/cohorts/{cohort.id}", headers=xiamen).status_code == 404
    assert client.get("/api/v1/cohorts", headers=xiamen).json["total"] == 0


def test_api_writes_need_the_edit_permission(client, make_user, make_enterprise, make_cohort, api_token):
    cohort = make_cohort()
    for role in ("manager", "viewer"):
        headers = api_token(make_user(role, areas=["350100"]) if role == "viewer" else make_user(role))
        assert client.post("/api/v1/cohorts", json={}, headers=headers).status_code == 403
        assert client.patch(f"/api/v1/cohorts/{cohort.id}", json={"name": "x"}, headers=headers).status_code == 403
        assert client.get(f"/api/v1/cohorts/{cohort.id}", headers=headers).status_code == 200
    assert client.get("/api/v1/cohorts").status_code == 401
    assert db.session.get(Cohort, cohort.id).name != "x"


def test_api_validation(client, make_user, api_token):
    headers = api_token(make_user("admin"))
    response = client.post("/api/v1/cohorts", json={"name": " ", "kind": "ring", "extra": 1}, headers=headers)
    assert response.status_code == 422
    assert {"kind", "extra", "lead_enterprise_id"} <= set(response.json["error"]["fields"])
    assert db.session.query(CohortMember).count() == 0
