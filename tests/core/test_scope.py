"""Jurisdiction scope: who sees which enterprises, in views and in the API."""

import pytest
from sqlalchemy import select

from crm.core.scope import build_scope, scoped_enterprises
from crm.enterprises.models import Enterprise
from crm.extensions import db


@pytest.fixture
def two_cities(make_enterprise):
    fuzhou = make_enterprise(area="350100", office="fz-mawei", name="福州马尾测试有限公司")
    quanzhou = make_enterprise(area="350500", office="xm-quanzhou", name="泉州测试鞋业有限公司")
    return fuzhou, quanzhou


def visible_ids(user):
    return set(db.session.scalars(scoped_enterprises(select(Enterprise.id), user=user)))


def test_quanzhou_bureau_sees_only_quanzhou(make_user, two_cities):
    fuzhou, quanzhou = two_cities
    bureau = make_user("bureau", areas=["350500"])
    assert quanzhou.id in visible_ids(bureau)
    assert fuzhou.id not in visible_ids(bureau)


def test_district_customs_scope_covers_subordinate_offices(make_user, two_cities):
    fuzhou, quanzhou = two_cities
    district = make_user("customs", offices=["fuzhou"])
    subordinate = make_user("customs", offices=["fz-changle-airport"])
    assert fuzhou.id in visible_ids(district)
    assert quanzhou.id not in visible_ids(district)
    assert fuzhou.id not in visible_ids(subordinate)
    assert build_scope(district).covers_office(fuzhou.office_id)


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_admins_and_managers_see_everything(make_user, two_cities, role):
    user = make_user(role)
    assert {e.id for e in two_cities} <= visible_ids(user)


def test_viewer_sees_its_areas_and_offices(make_user, two_cities):
    fuzhou, quanzhou = two_cities
    viewer = make_user("viewer", areas=["350500"], offices=["fz-mawei"])
    assert {fuzhou.id, quanzhou.id} <= visible_ids(viewer)
    other_viewer = make_user("viewer", areas=["350200"])
    assert not ({fuzhou.id, quanzhou.id} & visible_ids(other_viewer))


def test_inactive_or_anonymous_users_see_nothing(make_user, two_cities):
    bureau = make_user("bureau", areas=["350500"])
    bureau.is_active = False
    assert build_scope(bureau).is_empty
    assert build_scope(None).is_empty


def test_quanzhou_bureau_gets_404_for_a_fuzhou_record_in_a_view(client, make_user, two_cities):
    fuzhou, quanzhou = two_cities
    client.login(make_user("bureau", areas=["350500"]))
    assert client.get(f"/enterprises/{quanzhou.id}").status_code == 200
    assert client.get(f"/enterprises/{fuzhou.id}").status_code == 404
    listing = client.get("/enterprises/").get_data(as_text=True)
    assert quanzhou.name in listing and fuzhou.name not in listing


def test_quanzhou_bureau_gets_404_for_a_fuzhou_record_in_the_api(client, make_user, api_token, two_cities):
    fuzhou, quanzhou = two_cities
    headers = api_token(make_user("bureau", areas=["350500"]))
    assert client.get(f"/api/v1/enterprises/{quanzhou.id}", headers=headers).status_code == 200
    response = client.get(f"/api/v1/enterprises/{fuzhou.id}", headers=headers)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    ids = {item["id"] for item in client.get("/api/v1/enterprises?per_page=200", headers=headers).json["items"]}
    assert quanzhou.id in ids and fuzhou.id not in ids


def test_home_counts_respect_scope(client, make_user, two_cities):
    from crm.main.queries import stage_counts

    bureau = make_user("bureau", areas=["350500"])
    counts = {stage.code: n for stage, n in stage_counts(bureau)}
    assert counts["candidate"] == 1
    manager_counts = {stage.code: n for stage, n in stage_counts(make_user("manager"))}
    assert manager_counts["candidate"] >= 2
