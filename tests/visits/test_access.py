"""Who may log and see visits: a visit of an enterprise outside the caller's scope answers 404 everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.core.timeutil import local_today
from crm.extensions import db
from crm.visits.models import Visit, VisitStatus

from .conftest import form_data


@pytest.fixture
def quanzhou_officer(make_user):
    return make_user("customs", offices=["xm-quanzhou"], display_name="泉州关员")


def _count() -> int:
    return db.session.scalar(select(func.count(Visit.id)))


def test_an_officer_cannot_log_a_visit_outside_scope(client, officer, quanzhou_officer, make_enterprise):
    enterprise = make_enterprise()  # 福州, 马尾海关
    client.login(quanzhou_officer)
    assert client.get(f"/enterprises/{enterprise.id}/visits/new").status_code == 404
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new", form_data(officer_id=str(quanzhou_officer.id))
    )
    assert response.status_code == 404
    assert _count() == 0


def test_an_officer_cannot_see_or_change_a_visit_outside_scope(
    client, officer, quanzhou_officer, make_enterprise, make_visit
):
    enterprise = make_enterprise()
    visit = make_visit(enterprise, officer)
    planned = make_visit(enterprise, officer, day=local_today() + timedelta(days=3), status=VisitStatus.PLANNED)
    client.login(quanzhou_officer)
    for url in (f"/visits/{visit.id}", f"/visits/{visit.id}/edit", f"/visits/{planned.id}/log"):
        assert client.get(url).status_code == 404, url
    assert client.post_form(f"/visits/{planned.id}/cancel", {"reason": "x"}).status_code == 404
    assert client.post_form(f"/visits/{visit.id}/follow-ups").status_code == 404
    assert planned.status == VisitStatus.PLANNED
    listing = client.get("/visits/").get_data(as_text=True)
    assert f"/visits/{visit.id}" not in listing


def test_the_api_answers_404_outside_scope(client, officer, quanzhou_officer, make_enterprise, make_visit, api_token):
    enterprise = make_enterprise()
    visit = make_visit(enterprise, officer)
    headers = api_token(quanzhou_officer)
    body = {"starts_at": "2026-01-05T10:00:00+08:00", "summary": "x"}
    assert client.post(f"/api/v1/enterprises/{enterprise.id}/visits", json=body, headers=headers).status_code == 404
    assert client.get(f"/api/v1/visits/{visit.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/v1/visits/{visit.id}", json={"summary": "y"}, headers=headers).status_code == 404
    listing = client.get("/api/v1/visits", headers=headers).get_json()
    assert listing["total"] == 0
    assert _count() == 1 and visit.summary == ""


def test_a_district_officer_and_commerce_staff_of_the_area_see_the_visit(
    client, officer, make_user, make_enterprise, make_visit
):
    enterprise = make_enterprise()
    visit = make_visit(enterprise, officer)
    for user in (
        make_user("customs", offices=["fuzhou"]),  # 福州海关 covers 马尾海关
        make_user("bureau", areas=["350100"]),
        make_user("manager"),
    ):
        client.login(user)
        assert client.get(f"/visits/{visit.id}").status_code == 200, user.role


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("manager", 403), ("bureau", 200), ("customs", 200), ("viewer", 403)],
)
def test_logging_needs_the_edit_permission(client, make_user, make_enterprise, role, expected):
    enterprise = make_enterprise()
    scope = {"bureau": {"areas": ["350100"]}, "customs": {"offices": ["fz-mawei"]}, "viewer": {"areas": ["350100"]}}
    client.login(make_user(role, **scope.get(role, {})))
    assert client.get(f"/enterprises/{enterprise.id}/visits/new").status_code == expected


@pytest.mark.parametrize("path", ["/my-work/", "/calendar/", "/visits/", "/calendar/subscription"])
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_statistics_need_the_reports_permission(client, make_user):
    client.login(make_user("viewer", areas=["350100"]))
    assert client.get("/visits/statistics").status_code == 200
