"""The visit API: POST /api/v1/enterprises/<id>/visits, GET /api/v1/visits?officer=&area=&from=&to=,
GET/PATCH /api/v1/visits/<id>."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from crm.api.openapi import build_document
from crm.core.timeutil import local_today, to_local
from crm.extensions import db
from crm.plans.models import CultivationTask
from crm.standards.models import AssessmentResult, Judgement
from crm.visits.models import Visit, VisitStatus


def test_post_creates_a_visit_with_problems_and_follow_ups(
    client, officer, make_user, make_enterprise, make_contact, make_plan, standard, api_token
):
    enterprise = make_enterprise()
    contact = make_contact(enterprise)
    make_plan(enterprise)
    colleague = make_user("bureau", areas=["350100"], username="chen.bureau")
    yesterday = local_today() - timedelta(days=1)
    body = {
        "status": "done",
        "kind": "joint",
        "starts_at": f"{yesterday.isoformat()}T14:00:00+08:00",
        "duration_minutes": 120,
        "location": "企业会议室",
        "participants": [colleague.username],
        "contacts": [contact.id],
        "attendee_names": ["财务总监 陈先生"],
        "items": [1, 3],
        "free_topics": ["AEO互认"],
        "summary": "联合走访，了解认证准备情况。",
        "problems": [{"item": 3, "description": "监控未覆盖装卸区", "judgement": "fail"}],
        "requests": "希望组织培训。",
        "follow_ups": [{"title": "增设监控", "items": [3], "owner_contact": contact.id, "due_on": "2027-01-31"}],
    }
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/visits", json=body, headers=api_token(officer))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    visit = db.session.get(Visit, data["id"])
    assert response.headers["Location"].endswith(f"/api/v1/visits/{visit.id}")
    assert data["officer"] == officer.username
    assert {p["username"] for p in data["participants"]} == {officer.username, colleague.username}
    assert [i["number"] for i in data["items"]] == [1, 3]
    assert to_local(visit.starts_at).time() == time(14, 0) and visit.duration_minutes == 120
    assert data["problems"][0]["item"] == 3 and data["problems"][0]["assessment_id"] is not None
    [task] = data["follow_up_tasks"]
    assert task["title"] == "增设监控" and task["items"] == [3] and task["due_on"] == "2027-01-31"
    assert data["warnings"] == []
    stored = db.session.get(CultivationTask, task["id"])
    assert (stored.source_kind, stored.source_id, stored.owner_contact_id) == ("visit", visit.id, contact.id)
    [result] = db.session.scalars(select(AssessmentResult).where(AssessmentResult.judgement != Judgement.PENDING)).all()
    assert result.judgement == Judgement.FAIL and result.item.number == 3


def test_post_without_an_active_plan_keeps_the_follow_ups_and_warns(client, officer, make_enterprise, api_token):
    enterprise = make_enterprise()
    body = {"starts_at": "2026-06-01T09:00:00", "follow_ups": [{"title": "制定培育方案"}]}
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/visits", json=body, headers=api_token(officer))
    assert response.status_code == 201
    data = response.get_json()
    assert data["status"] == "done" and data["starts_at"] == "2026-06-01T01:00:00+00:00"  # naive = Shanghai time
    assert data["follow_up_tasks"] == [] and [f["title"] for f in data["pending_follow_ups"]] == ["制定培育方案"]
    assert len(data["warnings"]) == 1


def test_post_answers_422_with_every_invalid_field(client, officer, make_enterprise, api_token, standard):
    enterprise = make_enterprise()
    body = {
        "status": "maybe",
        "kind": "visit",
        "participants": ["nobody"],
        "items": [99],
        "contacts": [12345, -4028870783775744720896, 2**31],
        "colour": "red",
    }
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/visits", json=body, headers=api_token(officer))
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"status", "kind", "starts_at", "participants", "items", "contacts", "colour"}
    tomorrow = local_today() + timedelta(days=1)
    response = client.post(
        f"/api/v1/enterprises/{enterprise.id}/visits",
        json={"starts_at": f"{tomorrow.isoformat()}T09:00:00+08:00"},
        headers=api_token(officer),
    )
    assert response.status_code == 422 and set(response.get_json()["error"]["fields"]) == {"starts_at"}
    assert db.session.scalars(select(Visit)).all() == []
    assert (
        client.post(f"/api/v1/enterprises/{enterprise.id}/visits", data="x", headers=api_token(officer)).status_code
        == 400
    )


def test_a_viewer_may_not_post(client, make_user, make_enterprise, api_token):
    enterprise = make_enterprise()
    headers = api_token(make_user("viewer", areas=["350100"]))
    body = {"starts_at": "2026-06-01T09:00:00+08:00"}
    assert client.post(f"/api/v1/enterprises/{enterprise.id}/visits", json=body, headers=headers).status_code == 403


def test_list_filters_by_officer_area_and_dates(client, officer, make_user, make_enterprise, make_visit, api_token):
    manager = make_user("manager")
    commerce = make_user("bureau", areas=["350500"], username="quanzhou.bureau")
    fuzhou = make_enterprise()
    quanzhou = make_enterprise(area="350500", office="xm-quanzhou")
    march = make_visit(fuzhou, officer, day=date(2026, 3, 10))
    april = make_visit(quanzhou, commerce, day=date(2026, 4, 10), participants=[officer])
    may = make_visit(quanzhou, commerce, day=date(2026, 5, 31), at=time(23, 0))
    headers = api_token(manager)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/visits?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "total", "page", "per_page"}
        return [item["id"] for item in body["items"]]

    assert ids("") == [may.id, april.id, march.id]
    assert ids(f"officer={officer.username}") == [april.id, march.id]
    assert ids("officer=quanzhou.bureau&area=350500") == [may.id, april.id]
    assert ids("area=350100") == [march.id]
    assert ids("from=2026-04-01&to=2026-05-31") == [may.id, april.id]  # "to" is a whole local day
    assert ids("from=2026-06-01") == []
    assert ids("officer=nobody") == []
    assert ids("per_page=1&page=2") == [april.id]
    response = client.get("/api/v1/visits?from=yesterday", headers=headers)
    assert response.status_code == 400 and "from" in response.get_json()["error"]["fields"]


def test_get_one_visit(client, officer, make_enterprise, make_visit, api_token):
    visit = make_visit(make_enterprise(), officer, summary="走访纪要")
    response = client.get(f"/api/v1/visits/{visit.id}", headers=api_token(officer))
    data = response.get_json()
    assert response.status_code == 200 and data["summary"] == "走访纪要" and data["status"] == "done"
    assert data["attachments"] == [] and data["follow_up_tasks"] == []
    assert client.get("/api/v1/visits/999999", headers=api_token(officer)).status_code == 404


def test_patch_logs_a_planned_visit_and_cancels_another(client, officer, make_enterprise, make_visit, api_token):
    enterprise = make_enterprise()
    headers = api_token(officer)
    today = local_today()
    planned = make_visit(enterprise, officer, day=today, at=time(0, 0), status=VisitStatus.PLANNED)
    response = client.patch(
        f"/api/v1/visits/{planned.id}", json={"status": "done", "summary": "已按计划走访"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "done" and response.get_json()["logged_at"] is not None
    assert planned.status == VisitStatus.DONE and planned.summary == "已按计划走访"
    # Going back is refused.
    response = client.patch(f"/api/v1/visits/{planned.id}", json={"status": "planned"}, headers=headers)
    assert response.status_code == 422

    other = make_visit(enterprise, officer, day=today + timedelta(days=5), status=VisitStatus.PLANNED)
    response = client.patch(f"/api/v1/visits/{other.id}", json={"status": "cancelled"}, headers=headers)
    assert response.status_code == 422 and "cancel_reason" in response.get_json()["error"]["fields"]
    response = client.patch(
        f"/api/v1/visits/{other.id}", json={"status": "cancelled", "cancel_reason": "企业停产检修"}, headers=headers
    )
    assert response.status_code == 200 and response.get_json()["cancel_reason"] == "企业停产检修"


def test_patch_changes_only_the_given_fields(client, officer, make_enterprise, make_visit, make_plan, api_token):
    enterprise = make_enterprise()
    make_plan(enterprise)
    visit = make_visit(enterprise, officer, summary="原纪要", location="会议室", attendee_names=["王女士"])
    response = client.patch(
        f"/api/v1/visits/{visit.id}",
        json={"requests": "申请预评估", "follow_ups": [{"title": "准备预评估材料", "owner": officer.username}]},
        headers=api_token(officer),
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["summary"] == "原纪要" and data["location"] == "会议室" and data["attendee_names"] == ["王女士"]
    assert data["requests"] == "申请预评估"
    assert [t["title"] for t in data["follow_up_tasks"]] == ["准备预评估材料"]


def test_the_openapi_document_describes_the_visit_api(client):
    document = build_document()
    paths = document["paths"]
    assert set(paths["/enterprises/{enterprise_id}/visits"]) >= {"post"}
    assert {p["name"] for p in paths["/visits"]["get"]["parameters"] if "name" in p} >= {
        "officer",
        "area",
        "from",
        "to",
    }
    assert set(paths["/visits/{visit_id}"]) >= {"get", "patch"}
    assert "Visit" in document["components"]["schemas"]
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_list_loads_a_page_in_a_fixed_number_of_queries(
    client, officer, make_enterprise, make_visit, api_token, standard
):
    from sqlalchemy import event

    headers = api_token(officer)
    enterprise = make_enterprise()
    from crm.visits.services import Finding

    for day in range(1, 4):
        make_visit(enterprise, officer, day=date(2026, 3, day), findings=[Finding("问题", item=standard.by_number[1])])

    def count_queries() -> int:
        statements: list[str] = []

        def listener(*args, **kwargs):
            statements.append(args[2])

        db.session.expire_all()
        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/api/v1/visits", headers=headers).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return sum(1 for statement in statements if statement.lstrip().upper().startswith("SELECT"))

    few = count_queries()
    for day in range(4, 12):
        make_visit(enterprise, officer, day=date(2026, 3, day), findings=[Finding("问题", item=standard.by_number[2])])
    assert count_queries() == few
