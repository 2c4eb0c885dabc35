"""The enterprise API: list filters, create (201/422/409), read and update (404 outside scope)."""

import pytest
from sqlalchemy import select

from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.reference.models import KeyCategory
from tests.enterprises.conftest import corrupt_check_character, new_uscc


@pytest.fixture
def listed(make_enterprise):
    high_tech = db.session.scalars(select(KeyCategory).where(KeyCategory.code == "high_tech")).one()
    quanzhou = make_enterprise(name="泉州接口鞋业有限公司", area="350500", office="xm-jinjiang", stage="pooled")
    quanzhou.categories = [high_tech]
    fuzhou = make_enterprise(name="福州接口电子有限公司", area="350100", office="fz-mawei")
    db.session.commit()
    return quanzhou, fuzhou


def ids(client, headers, query=""):
    response = client.get(f"/api/v1/enterprises{query}", headers=headers)
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_list_filters(client, make_user, api_token, listed):
    quanzhou, fuzhou = listed
    headers = api_token(make_user("manager"))
    assert ids(client, headers) >= {quanzhou.id, fuzhou.id}
    assert ids(client, headers, "?area=350500") == {quanzhou.id}
    assert ids(client, headers, "?office=xiamen") == {quanzhou.id}
    assert ids(client, headers, "?office=xm-jinjiang&stage=pooled") == {quanzhou.id}
    assert ids(client, headers, "?category=high_tech") == {quanzhou.id}
    assert ids(client, headers, "?q=接口电子") == {fuzhou.id}
    assert ids(client, headers, f"?q={quanzhou.uscc[-8:].lower()}") == {quanzhou.id}
    item = client.get(f"/api/v1/enterprises/{quanzhou.id}", headers=headers).json
    assert set(item) == {
        "id",
        "name",
        "uscc",
        "customs_code",
        "area",
        "office",
        "business_types",
        "categories",
        "target_tier",
        "stage",
        "credit_status",
        "priority",
        "commerce_officer",
        "customs_officer",
        "created_at",
        "updated_at",
    }
    assert item["area"] == "350500" and item["office"] == "xm-jinjiang" and item["categories"] == ["high_tech"]


def test_scope_on_list_detail_and_update(client, make_user, api_token, listed):
    quanzhou, fuzhou = listed
    headers = api_token(make_user("bureau", areas=["350500"]))
    assert ids(client, headers) == {quanzhou.id}
    assert client.get(f"/api/v1/enterprises/{fuzhou.id}", headers=headers).status_code == 404
    response = client.patch(f"/api/v1/enterprises/{fuzhou.id}", json={"name": "x"}, headers=headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_create_returns_201_with_the_object(client, make_user, api_token):
    commerce = make_user("bureau", username="qz.commerce", areas=["350500"])
    officer = make_user("customs", username="qz.customs", offices=["xm-quanzhou"])
    headers = api_token(make_user("bureau", areas=["350500"]))
    code = new_uscc()
    body = {
        "name": "泉州接口新建有限公司",
        "uscc": code[:9].lower() + " " + code[9:],
        "customs_code": "3505960888",
        "area": "350500",
        "office": "xm-quanzhou",
        "business_types": ["consignee"],
        "categories": ["specialised", "own_brand"],
        "target_tier": "aeo",
        "priority": "B",
        "commerce_officer": "qz.commerce",
        "customs_officer": "qz.customs",
        "trade_value": 512.3,
        "employees": 240,
    }
    response = client.post("/api/v1/enterprises", json=body, headers=headers)
    assert response.status_code == 201, response.json
    item = response.json
    assert item["uscc"] == code and item["stage"] == "candidate" and item["target_tier"] == "aeo"
    assert item["commerce_officer"] == "qz.commerce" and item["customs_officer"] == "qz.customs"
    assert item["categories"] == ["specialised", "own_brand"] or sorted(item["categories"]) == [
        "own_brand",
        "specialised",
    ]
    assert response.headers["Location"].endswith(f"/api/v1/enterprises/{item['id']}")
    enterprise = db.session.get(Enterprise, item["id"])
    assert enterprise.commerce_officer_id == commerce.id and enterprise.customs_officer_id == officer.id


def test_create_with_an_existing_code_is_409_with_its_id(client, make_user, api_token, listed):
    quanzhou, _ = listed
    headers = api_token(make_user("admin"))
    response = client.post(
        "/api/v1/enterprises", json={"name": "重复", "uscc": quanzhou.uscc, "area": "350500"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json["error"]["existing_id"] == quanzhou.id


def test_invalid_fields_are_422_with_each_field(client, make_user, api_token):
    headers = api_token(make_user("admin"))
    response = client.post(
        "/api/v1/enterprises",
        json={
            "name": "错误示例",
            "uscc": corrupt_check_character(new_uscc()),
            "area": "350500",
            "office": "fz-mawei",
            "categories": ["nope"],
            "employees": "many",
            "commerce_officer": "nobody",
            "colour": "red",
        },
        headers=headers,
    )
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert {"categories", "employees", "commerce_officer", "colour"} <= set(fields)
    second = client.post(
        "/api/v1/enterprises",
        json={"name": "错误示例", "uscc": corrupt_check_character(new_uscc()), "area": "350500", "office": "fz-mawei"},
        headers=headers,
    )
    assert second.status_code == 422
    assert set(second.json["error"]["fields"]) == {"uscc", "office"}
    missing = client.post("/api/v1/enterprises", json={}, headers=headers)
    assert set(missing.json["error"]["fields"]) == {"name", "uscc", "area"}


def test_patch_updates_officers_by_username_and_credit_status(client, make_user, api_token, listed):
    quanzhou, fuzhou = listed
    officer = make_user("customs", username="jj.officer", offices=["xm-jinjiang"])
    headers = api_token(make_user("admin"))
    response = client.patch(
        f"/api/v1/enterprises/{quanzhou.id}",
        json={"customs_officer": "jj.officer", "credit_status": "aeo", "id": 999, "stage": "certified"},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["customs_officer"] == "jj.officer" and response.json["credit_status"] == "aeo"
    assert response.json["stage"] == "pooled", "read-only fields are ignored"
    assert quanzhou.customs_officer_id == officer.id
    wrong = client.patch(f"/api/v1/enterprises/{fuzhou.id}", json={"customs_officer": "jj.officer"}, headers=headers)
    assert wrong.status_code == 422 and "customs_officer" in wrong.json["error"]["fields"]
    clash = client.patch(f"/api/v1/enterprises/{fuzhou.id}", json={"uscc": quanzhou.uscc}, headers=headers)
    assert clash.status_code == 409 and clash.json["error"]["existing_id"] == quanzhou.id
    cleared = client.patch(f"/api/v1/enterprises/{quanzhou.id}", json={"customs_officer": None}, headers=headers)
    assert cleared.json["customs_officer"] is None


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_roles_without_edit_get_403(client, make_user, api_token, listed, role):
    quanzhou, _ = listed
    headers = api_token(make_user(role, **({"areas": ["350500"]} if role == "viewer" else {})))
    assert client.patch(f"/api/v1/enterprises/{quanzhou.id}", json={"name": "x"}, headers=headers).status_code == 403
    created = client.post(
        "/api/v1/enterprises", json={"name": "x", "uscc": new_uscc(), "area": "350500"}, headers=headers
    )
    assert created.status_code == 403


def test_openapi_describes_the_writes(client):
    document = client.get("/api/v1/openapi.json").json
    operations = document["paths"]["/enterprises"]
    assert {"get", "post"} <= set(operations)
    assert {"get", "patch"} <= set(document["paths"]["/enterprises/{enterprise_id}"])
    assert "409" in operations["post"]["responses"] and "422" in operations["post"]["responses"]
    parameters = {p.get("name") for p in operations["get"]["parameters"] if "name" in p}
    assert {"area", "office", "stage", "category", "q"} <= parameters
