"""The dashboard page: scope, filters, the home page per role, and the certification targets' administration."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from crm.core.audit import AuditLog
from crm.dashboard.models import CertificationTarget
from crm.extensions import db
from tests.dashboard.conftest import YEAR, area_id, office_id


def charts_of(response) -> dict:
    """The JSON the page embeds for its charts."""
    match = re.search(r"<div id=\"dashboard-data\" hidden data-charts='(.*?)'></div>", response.get_data(as_text=True))
    assert match, "no chart data on the page"
    return json.loads(html.unescape(match.group(1)))


def funnel_count(charts: dict, stage_name: str) -> int:
    funnel = charts["funnel"]
    return funnel["series"][0]["data"][funnel["categories"].index(stage_name)]


# --- scope ---------------------------------------------------------------------------------------------------


def test_a_bureau_user_sees_only_the_figures_of_their_areas(client, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    client.login(make_user("bureau", areas=["350500"]))

    response = client.get("/dashboard/")

    assert response.status_code == 200
    charts = charts_of(response)
    assert funnel_count(charts, "入库培育") == 1
    assert charts["areas"]["categories"] == ["泉州"]
    page = response.get_data(as_text=True)
    assert "马尾海关" not in page


def test_a_manager_sees_every_area(client, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    client.login(make_user("manager"))
    charts = charts_of(client.get("/dashboard/"))
    assert funnel_count(charts, "入库培育") == 2
    assert set(charts["areas"]["categories"]) == {"福州", "泉州"}


def test_a_customs_officer_sees_the_enterprises_of_their_offices(client, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    make_enterprise(area="350500", office="xm-shishi", stage="pooled")
    client.login(make_user("customs", offices=["xm-quanzhou"]))
    charts = charts_of(client.get("/dashboard/"))
    assert funnel_count(charts, "入库培育") == 1
    assert charts["offices"]["categories"] == ["泉州海关"]


def test_narrowing_outside_the_scope_is_refused(client, make_user, make_enterprise):
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    client.login(make_user("bureau", areas=["350500"]))
    response = client.get(f"/dashboard/?area={area_id('350100')}")
    assert response.status_code == 400
    assert "dashboard-data" not in response.get_data(as_text=True)
    response = client.get(f"/dashboard/?office={office_id('fz-mawei')}")
    assert response.status_code == 400


def test_narrowing_within_the_scope(client, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    client.login(make_user("manager"))
    charts = charts_of(client.get(f"/dashboard/?area={area_id('350100')}"))
    assert funnel_count(charts, "入库培育") == 1
    charts = charts_of(client.get(f"/dashboard/?office={office_id('xm-quanzhou')}"))
    assert charts["offices"]["categories"] == ["泉州海关"]


# --- filters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-13-01", "start", "YYYY-MM-DD"),
        ("end=yesterday", "end", "YYYY-MM-DD"),
        ("start=2026-05-01&end=2026-04-01", "end", "The end date is before the start date."),
        ("start=2015-01-01&end=2026-01-01", "end", "at most 5 years"),
        ("start=1900-01-01&end=1900-02-01", "start", "between 2000 and 2100"),
        ("area=abc", "area", "within your scope"),
    ],
)
def test_bad_filters_answer_400_with_a_message_at_the_field(client, make_user, query, field, message):
    user = make_user("manager", language="en")
    client.login(user)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert message in page


def test_the_date_range_defaults_to_this_year(client, make_user):
    client.login(make_user("manager", language="en"))
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "From " in page and "within your scope" in page


def test_a_valid_range_is_applied(client, make_user, make_enterprise):
    client.login(make_user("manager"))
    response = client.get(f"/dashboard/?start={YEAR}-01-01&end={YEAR}-03-31")
    assert response.status_code == 200
    assert charts_of(response)["trend"]["categories"] == [f"{YEAR}-01", f"{YEAR}-02", f"{YEAR}-03"]


def test_every_chart_has_its_table_underneath(client, make_user, make_enterprise):
    make_enterprise(stage="pooled")
    client.login(make_user("manager"))
    page = client.get("/dashboard/").get_data(as_text=True)
    for key in re.findall(r'data-chart="([a-z]+)"', page):
        assert f'id="chart-{key}-table"' in page


# --- home ------------------------------------------------------------------------------------------------------


def test_managers_land_on_the_dashboard(client, make_user, make_enterprise):
    make_enterprise(stage="pooled")
    client.login(make_user("manager"))
    response = client.get("/")
    assert response.status_code == 200
    assert "我管辖范围内的培育进度" in response.get_data(as_text=True)
    assert funnel_count(charts_of(response), "入库培育") == 1


def test_others_see_their_scope_summary_and_their_enterprises(client, make_user, make_enterprise):
    user = make_user("bureau", areas=["350500"])
    make_enterprise(area="350500", office="xm-quanzhou", stage="certified", incentives_suspended=True)
    make_enterprise(area="350100", office="fz-mawei", stage="certified", incentives_suspended=True)
    client.login(user)
    page = client.get("/").get_data(as_text=True)
    assert "我管辖范围内的培育进度" in page and "我的企业" in page
    assert re.search(r"激励已暂停</div><div[^>]*>1<", page)
    assert "/dashboard/" in page


# --- certification targets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("manager", 403), ("bureau", 403), ("viewer", 403)])
def test_only_administrators_edit_targets(client, make_user, role, status):
    client.login(make_user(role))
    assert client.get("/admin/targets/").status_code == status
    assert client.get("/admin/targets/new").status_code == status


def test_an_administrator_sets_a_target_and_it_is_audited(client, make_user):
    client.login(make_user("admin"))
    response = client.post_form("/admin/targets/new", {"area_id": area_id("350500"), "year": YEAR, "target": 12})
    assert response.status_code == 302
    row = db.session.scalars(select(CertificationTarget)).one()
    assert (row.area_id, row.year, row.target) == (area_id("350500"), YEAR, 12)
    assert db.session.scalars(
        select(AuditLog).where(AuditLog.record_type == "CertificationTarget", AuditLog.record_id == str(row.id))
    ).first()
    response = client.post_form(f"/admin/targets/{row.id}", {"area_id": area_id("350500"), "year": YEAR, "target": 15})
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.target == 15


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"year": YEAR, "target": 5}, "area_id"),
        ({"area": "350500", "year": YEAR, "target": -1}, "target"),
        ({"area": "350500", "year": YEAR, "target": ""}, "target"),
        ({"area": "350500", "year": 1999, "target": 5}, "year"),
        ({"area": "350500", "year": "abc", "target": 5}, "year"),
        ({"area": "350500", "year": YEAR, "target": 7}, "year"),  # a second target for the same area and year
    ],
)
def test_target_validation(client, make_user, values, field):
    db.session.add(CertificationTarget(area_id=area_id("350500"), year=YEAR, target=3))
    db.session.commit()
    client.login(make_user("admin"))
    data = {key: value for key, value in values.items() if key != "area"}
    if "area" in values:
        data["area_id"] = area_id(values["area"])
    response = client.post_form("/admin/targets/new", data)
    assert response.status_code == 200
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(CertificationTarget)) == 1


def test_deleting_a_target(client, make_user):
    row = CertificationTarget(area_id=area_id("350500"), year=YEAR, target=3)
    db.session.add(row)
    db.session.commit()
    client.login(make_user("admin"))
    assert client.post_form(f"/admin/targets/{row.id}/delete").status_code == 302
    assert db.session.get(CertificationTarget, row.id) is None
