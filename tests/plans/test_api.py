"""Plans API: the plan (GET, POST, PATCH), its tasks (GET, POST) and PATCH /tasks/<id>, in scope only."""

from datetime import date

import pytest

from crm.enterprises.models import Contact
from crm.extensions import db
from crm.plans import services
from crm.plans.models import PlanTemplate


@pytest.fixture
def staff(make_user, make_enterprise, api_token):
    enterprise = make_enterprise(area="350500", office="xm-quanzhou")
    bureau = make_user("bureau", areas=["350500"], username="bureau.qz")
    officer = make_user("customs", offices=["xm-quanzhou"], username="customs.qz")
    return {
        "enterprise": enterprise,
        "bureau_user": bureau,
        "officer": officer,
        "bureau": api_token(bureau),
        "viewer": api_token(make_user("viewer", areas=["350500"])),
        "outsider": api_token(make_user("bureau", areas=["350100"], username="bureau.fz")),
    }


def test_create_read_and_update_the_plan(client, staff):
    e = staff["enterprise"]
    url = f"/api/v1/enterprises/{e.id}/plan"
    assert client.get(url, headers=staff["bureau"]).status_code == 404
    body = {
        "goal": "2027年申请高级认证",
        "target_tier": "aeo_advanced",
        "target_application_on": "2027-03-01",
        "commerce_officer": "bureau.qz",
        "customs_officer": "customs.qz",
    }
    response = client.post(url, json=body, headers=staff["bureau"])
    assert response.status_code == 201, response.json
    assert response.json["status"] == "active" and response.json["customs_officer"] == "customs.qz"
    assert client.post(url, json=body, headers=staff["bureau"]).status_code == 409
    response = client.patch(
        url, json={"target_application_on": "2027-04-01", "status": "draft"}, headers=staff["bureau"]
    )
    assert response.status_code == 200
    assert response.json["target_application_on"] == "2027-04-01" and response.json["status"] == "draft"
    assert client.get(url, headers=staff["viewer"]).json["goal"] == "2027年申请高级认证"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"goal": ""}, "goal"),
        ({"goal": "x", "target_tier": "platinum"}, "target_tier"),
        ({"goal": "x", "target_application_on": "someday"}, "target_application_on"),
        ({"goal": "x", "customs_officer": "nobody"}, "customs_officer"),
        ({"goal": "x", "commerce_officer": "bureau.fz"}, "commerce_officer"),  # outside the enterprise's area
        ({"goal": "x", "colour": "red"}, "colour"),
        ({"goal": "x", "target_tier": {}}, "target_tier"),
        ({"goal": "x", "status": ["active"]}, "status"),
        ({"goal": "x", "contact": 2**40}, "contact"),
        ({"goal": "x", "customs_officer": {"username": "customs.qz"}}, "customs_officer"),
        ({"goal": "x", "started_on": ""}, "started_on"),
    ],
)
def test_invalid_plans_are_refused(client, staff, body, field):
    e = staff["enterprise"]
    response = client.post(f"/api/v1/enterprises/{e.id}/plan", json=body, headers=staff["bureau"])
    assert response.status_code == 422 and field in response.json["error"]["fields"]
    assert services.open_plan(e.id) is None


def test_tasks_create_list_and_patch(client, staff):
    e = staff["enterprise"]
    contact = Contact(enterprise=e, name="陈关务")
    db.session.add(contact)
    db.session.commit()
    client.post(f"/api/v1/enterprises/{e.id}/plan", json={"goal": "g"}, headers=staff["bureau"])
    url = f"/api/v1/enterprises/{e.id}/plan/tasks"
    body = {
        "title": "完善内审制度",
        "items": [10, 11],
        "owner": "customs.qz",
        "due_on": "2026-01-31",
        "status": "doing",
    }
    response = client.post(url, json=body, headers=staff["bureau"])
    assert response.status_code == 201, response.json
    task = response.json
    assert (task["items"], task["owner"], task["status"], task["overdue"]) == ([10, 11], "customs.qz", "doing", True)
    second = client.post(url, json={"title": "提交审计报告", "owner_contact": contact.id}, headers=staff["bureau"]).json
    assert second["owner_contact"] == {"id": contact.id, "name": "陈关务"}
    listed = client.get(url, headers=staff["viewer"]).json
    assert listed["total"] == 2 and listed["items"][0]["title"] == "完善内审制度"
    assert client.get(f"{url}?overdue=1", headers=staff["viewer"]).json["total"] == 1
    response = client.patch(
        f"/api/v1/tasks/{task['id']}", json={"status": "done", "completion_note": "已印发"}, headers=staff["bureau"]
    )
    assert response.status_code == 200
    assert response.json["status"] == "done" and response.json["completed_on"] and not response.json["overdue"]
    plan = client.get(f"/api/v1/enterprises/{e.id}/plan", headers=staff["bureau"]).json
    assert plan["progress"] == {"done": 1, "total": 2, "percent": 50}
    bad = client.post(url, json={"title": "x", "items": [999]}, headers=staff["bureau"])
    assert bad.status_code == 422 and "items" in bad.json["error"]["fields"]
    bad = client.patch(f"/api/v1/tasks/{task['id']}", json={"owner": "bureau.fz"}, headers=staff["bureau"])
    assert bad.status_code == 422


def test_moving_the_target_through_the_api_moves_template_tasks(client, staff):
    e = staff["enterprise"]
    template = PlanTemplate(name="t")
    db.session.add(template)
    db.session.flush()
    services.save_template_task(template, title="预评估", anchor="target", offset_days=30)
    services.create_plan(
        e, goal="g", started_on=date(2026, 6, 1), target_application_on=date(2026, 12, 1), template=template
    )
    db.session.commit()
    client.patch(
        f"/api/v1/enterprises/{e.id}/plan", json={"target_application_on": "2027-01-31"}, headers=staff["bureau"]
    )
    tasks = client.get(f"/api/v1/enterprises/{e.id}/plan/tasks", headers=staff["bureau"]).json["items"]
    assert tasks[0]["due_on"] == "2027-01-01"


def test_scope_and_role_on_every_call(client, staff):
    e = staff["enterprise"]
    plan = services.create_plan(e, goal="g")
    task = services.create_task(plan, title="t")
    db.session.commit()
    out = staff["outsider"]
    assert client.get(f"/api/v1/enterprises/{e.id}/plan", headers=out).status_code == 404
    assert client.patch(f"/api/v1/enterprises/{e.id}/plan", json={"goal": "x"}, headers=out).status_code == 404
    assert client.get(f"/api/v1/enterprises/{e.id}/plan/tasks", headers=out).status_code == 404
    assert client.post(f"/api/v1/enterprises/{e.id}/plan/tasks", json={"title": "x"}, headers=out).status_code == 404
    assert client.get(f"/api/v1/tasks/{task.id}", headers=out).status_code == 404
    assert client.patch(f"/api/v1/tasks/{task.id}", json={"title": "x"}, headers=out).status_code == 404
    viewer = staff["viewer"]
    assert client.patch(f"/api/v1/tasks/{task.id}", json={"title": "x"}, headers=viewer).status_code == 403
    assert client.post(f"/api/v1/enterprises/{e.id}/plan/tasks", json={"title": "x"}, headers=viewer).status_code == 403
    assert task.title == "t"
