"""The enterprise pages: list, pool, detail, forms, contacts, recommendations, notes, saved views, bulk actions."""

import pytest
from sqlalchemy import func, select

from crm.enterprises.models import Contact, Enterprise, EnterpriseNote, Priority, Recommendation, SavedView
from crm.extensions import db
from crm.reference.models import Area, CustomsOffice, KeyCategory, RecommendingUnit
from tests.enterprises.conftest import corrupt_check_character, new_uscc


def ref_id(model, code):
    return db.session.scalar(select(model.id).where(model.code == code))


@pytest.fixture
def quanzhou_bureau(make_user):
    return make_user("bureau", areas=["350500"])


@pytest.fixture
def cities(make_enterprise):
    quanzhou = make_enterprise(
        name="泉州恒达鞋业有限公司", area="350500", office="xm-quanzhou", customs_code="3505960101"
    )
    fuzhou = make_enterprise(name="福州马尾电子有限公司", area="350100", office="fz-mawei")
    return quanzhou, fuzhou


def form_data(**overrides):
    data = {
        "name": "泉州新华纺织有限公司",
        "uscc": new_uscc(),
        "customs_code": "",
        "area_id": ref_id(Area, "350500"),
        "office_id": ref_id(CustomsOffice, "xm-quanzhou"),
        "target_tier": "aeo_advanced",
        "credit_status": "regular",
        "priority": "",
        "commerce_officer_id": 0,
        "customs_officer_id": 0,
        "unit_id": 0,
        "recommendation_priority": "B",
    }
    data.update(overrides)
    return data


# --- list ------------------------------------------------------------------------------------------------


def test_list_shows_scope_stage_counts_and_search(client, quanzhou_bureau, cities):
    quanzhou, fuzhou = cities
    client.login(quanzhou_bureau)
    body = client.get("/enterprises/").get_data(as_text=True)
    assert quanzhou.name in body and fuzhou.name not in body
    assert "推荐候选" in body  # stage counts above the table
    found = client.get("/enterprises/?q=恒达").get_data(as_text=True)
    assert quanzhou.name in found
    assert fuzhou.name not in client.get("/enterprises/?q=马尾电子").get_data(as_text=True)
    by_code = client.get(f"/enterprises/?q={quanzhou.uscc[5:14].lower()}").get_data(as_text=True)
    assert quanzhou.name in by_code
    assert quanzhou.name in client.get("/enterprises/?q=０１０１").get_data(as_text=True)  # full-width customs code


def test_list_filters_sorting_and_pages(client, make_user, make_enterprise):
    admin = make_user("admin")
    for n in range(5):
        make_enterprise(name=f"排序测试{n}有限公司", area="350200", office="xm-dongdu", priority=Priority.A)
    make_enterprise(name="筛选对照有限公司", area="350200", office="xm-dongdu", stage="pooled")
    client.login(admin)
    body = client.get("/enterprises/?area=350200&priority=A&sort=name&per_page=2&page=2").get_data(as_text=True)
    assert "排序测试2有限公司" in body and "排序测试3有限公司" in body
    assert "排序测试0有限公司" not in body and "筛选对照有限公司" not in body
    assert "?area=350200" in body or "area=350200" in body
    pooled = client.get("/enterprises/?area=350200&stage=pooled").get_data(as_text=True)
    assert "筛选对照有限公司" in pooled and "排序测试0有限公司" not in pooled
    assert client.get("/enterprises/?office=xiamen").status_code == 200  # a district covers its offices
    assert "筛选对照有限公司" in client.get("/enterprises/?office=xiamen").get_data(as_text=True)
    assert client.get("/enterprises/?page=0").status_code == 400
    assert client.get("/enterprises/?stale=1&officer=me&category=high_tech&sort=-trade_value").status_code == 200


def test_unknown_filter_values_are_ignored(client, make_user, cities):
    client.login(make_user("manager"))
    body = client.get("/enterprises/?area=nowhere&stage=nope&sort=bogus").get_data(as_text=True)
    assert cities[0].name in body and cities[1].name in body


# --- detail ------------------------------------------------------------------------------------------------


def test_detail_is_scoped_and_shows_sections_and_timeline(client, quanzhou_bureau, cities):
    quanzhou, fuzhou = cities
    client.login(quanzhou_bureau)
    assert client.get(f"/enterprises/{fuzhou.id}").status_code == 404
    assert client.get(f"/enterprises/{fuzhou.id}/timeline").status_code == 404
    body = client.get(f"/enterprises/{quanzhou.id}").get_data(as_text=True)
    for anchor in (
        "section-contacts",
        "section-recommendations",
        "section-credit",
        "section-notes",
        "section-timeline",
    ):
        assert anchor in body
    assert "AEOCN3505960101" in body


# --- create and edit ---------------------------------------------------------------------------------------


def test_create_with_a_recommendation_enters_candidate(client, quanzhou_bureau):
    client.login(quanzhou_bureau)
    data = form_data(
        unit_id=ref_id(RecommendingUnit, "commerce-350500"), recommendation_priority="A", reason="产业链龙头"
    )
    response = client.post_form("/enterprises/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    enterprise = db.session.scalars(select(Enterprise).where(Enterprise.uscc == data["uscc"])).one()
    assert enterprise.stage == "candidate" and enterprise.priority == Priority.A
    assert [r.reason for r in enterprise.recommendations] == ["产业链龙头"]
    assert enterprise.recommendations[0].recommended_by_id == quanzhou_bureau.id


def test_create_wrong_code_is_reported_at_the_field_in_chinese(client, quanzhou_bureau):
    client.login(quanzhou_bureau)
    data = form_data(uscc=corrupt_check_character(new_uscc()))
    body = client.post_form("/enterprises/new", data).get_data(as_text=True)
    assert 'id="uscc-error"' in body and "校验码" in body
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_create_with_an_existing_code_links_to_the_record(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    response = client.post_form("/enterprises/new", form_data(uscc=" " + quanzhou.uscc.lower()))
    assert response.status_code == 302 and response.location.endswith(f"/enterprises/{quanzhou.id}")
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 2


def test_create_with_an_existing_code_outside_scope_does_not_reveal_it(client, quanzhou_bureau, cities):
    _, fuzhou = cities
    client.login(quanzhou_bureau)
    body = client.post_form("/enterprises/new", form_data(uscc=fuzhou.uscc)).get_data(as_text=True)
    assert "管辖范围" in body and fuzhou.name not in body


def test_similar_name_warns_with_links_and_the_user_may_continue(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    data = form_data(name="泉州恒达鞋业股份有限公司")
    warned = client.post_form("/enterprises/new", data).get_data(as_text=True)
    assert f"/enterprises/{quanzhou.id}" in warned and "仍然添加" in warned
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 2
    data["confirm_similar"] = "1"
    assert client.post_form("/enterprises/new", data).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 3


def test_office_not_serving_the_area_is_refused_with_the_offices_that_do(client, quanzhou_bureau):
    client.login(quanzhou_bureau)
    body = client.post_form("/enterprises/new", form_data(office_id=ref_id(CustomsOffice, "fz-mawei"))).get_data(
        as_text=True
    )
    assert 'id="office_id-error"' in body and "泉州海关" in body


def test_edit_changes_fields_and_keeps_errors_at_fields(client, quanzhou_bureau, cities):
    quanzhou, fuzhou = cities
    client.login(quanzhou_bureau)
    page = client.get(f"/enterprises/{quanzhou.id}/edit").get_data(as_text=True)
    assert quanzhou.uscc in page
    data = form_data(name="泉州恒达鞋业集团有限公司", uscc=quanzhou.uscc, customs_code="3505960101", industry="制鞋业")
    assert client.post_form(f"/enterprises/{quanzhou.id}/edit", data).status_code == 302
    assert quanzhou.name == "泉州恒达鞋业集团有限公司" and quanzhou.industry == "制鞋业"
    clash = client.post_form(f"/enterprises/{quanzhou.id}/edit", {**data, "uscc": fuzhou.uscc})
    assert "另一家企业" in clash.get_data(as_text=True)
    assert client.get(f"/enterprises/{fuzhou.id}/edit").status_code == 404


# --- permissions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "read", "write", "merge", "export"),
    [
        ("admin", 200, 200, 200, 200),
        ("manager", 200, 403, 200, 200),
        ("bureau", 200, 200, 403, 200),
        ("customs", 200, 200, 403, 200),
        ("viewer", 200, 403, 403, 403),
    ],
)
def test_access_by_role(client, make_user, make_enterprise, role, read, write, merge, export):
    enterprise = make_enterprise(area="350500", office="xm-quanzhou")
    scope = {"bureau": {"areas": ["350500"]}, "customs": {"offices": ["xm-quanzhou"]}, "viewer": {"areas": ["350500"]}}
    client.login(make_user(role, **scope.get(role, {})))
    assert client.get("/enterprises/").status_code == read
    assert client.get(f"/enterprises/{enterprise.id}").status_code == read
    assert client.get("/enterprises/pool").status_code == read
    assert client.get("/enterprises/new").status_code == write
    assert client.get(f"/enterprises/{enterprise.id}/edit").status_code == write
    assert client.get(f"/enterprises/{enterprise.id}/contacts/new").status_code == write
    assert client.get(f"/enterprises/{enterprise.id}/recommendations/new").status_code == write
    assert client.post_form(f"/enterprises/{enterprise.id}/notes", {"body": "x"}).status_code in (
        (302,) if write == 200 else (403,)
    )
    assert client.get(f"/enterprises/{enterprise.id}/merge").status_code == merge
    assert client.get("/enterprises/export.csv").status_code == export


def test_anonymous_users_are_sent_to_login(client, make_enterprise):
    enterprise = make_enterprise()
    assert client.get(f"/enterprises/{enterprise.id}").status_code == 302


# --- contacts, recommendations, notes, credit -------------------------------------------------------------


def test_contacts_through_the_pages(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    url = f"/enterprises/{quanzhou.id}/contacts/new"
    bad = client.post_form(url, {"name": "王伟", "role": "customs_lead", "mobile": "1380013800"}).get_data(as_text=True)
    assert "11位数字" in bad
    assert (
        client.post_form(url, {"name": "王伟", "role": "customs_lead", "mobile": "+86 138 0013 8000"}).status_code
        == 302
    )
    assert (
        client.post_form(url, {"name": "李娜", "role": "finance_lead", "phone": "0595-22345678转8001"}).status_code
        == 302
    )
    contacts = db.session.scalars(
        select(Contact).where(Contact.enterprise_id == quanzhou.id).order_by(Contact.id)
    ).all()
    assert [(c.name, c.mobile, c.is_primary) for c in contacts] == [("王伟", "13800138000", True), ("李娜", "", False)]
    assert client.post_form(f"/enterprises/{quanzhou.id}/contacts/{contacts[1].id}/primary").status_code == 302
    assert contacts[1].is_primary and not contacts[0].is_primary
    assert client.post_form(f"/enterprises/{quanzhou.id}/contacts/{contacts[1].id}/delete").status_code == 302
    assert contacts[0].is_primary
    nothing = client.post_form(url, {"name": "赵强", "role": "liaison"}).get_data(as_text=True)
    assert "至少填写" in nothing


def test_contact_of_another_enterprise_is_404(client, make_user, cities):
    quanzhou, fuzhou = cities
    contact = Contact(enterprise=fuzhou, name="陈静", mobile="13900000000")
    db.session.add(contact)
    db.session.commit()
    client.login(make_user("admin"))
    assert client.get(f"/enterprises/{quanzhou.id}/contacts/{contact.id}/edit").status_code == 404


def test_recommendations_through_the_pages(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    url = f"/enterprises/{quanzhou.id}/recommendations/new"
    unit = ref_id(RecommendingUnit, "commerce-350500")
    data = {
        "unit_id": unit,
        "recommendation_priority": "A",
        "reason": "出口规模大",
        "recommendation_categories": [ref_id(KeyCategory, "own_brand")],
    }
    assert client.post_form(url, data).status_code == 302
    again = client.post_form(url, data).get_data(as_text=True)
    assert "已推荐过" in again
    recommendation = db.session.scalars(select(Recommendation).where(Recommendation.enterprise_id == quanzhou.id)).one()
    edit_url = f"/enterprises/{quanzhou.id}/recommendations/{recommendation.id}/edit"
    assert client.post_form(edit_url, {**data, "recommendation_priority": "C"}).status_code == 302
    assert quanzhou.priority == Priority.C
    body = client.get(f"/enterprises/{quanzhou.id}").get_data(as_text=True)
    assert "出口规模大" in body and "泉州市商务局" in body


def test_notes_appear_in_the_timeline_with_their_author(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    assert client.post_form(f"/enterprises/{quanzhou.id}/notes", {"body": "电话沟通申报意向"}).status_code == 302
    note = db.session.scalars(select(EnterpriseNote)).one()
    body = client.get(f"/enterprises/{quanzhou.id}").get_data(as_text=True)
    assert "电话沟通申报意向" in body and quanzhou_bureau.display_name in body
    client.post_form(f"/enterprises/{quanzhou.id}/notes/{note.id}/delete")
    assert db.session.get(EnterpriseNote, note.id) is None


def test_credit_status_form(client, quanzhou_bureau, cities):
    quanzhou, _ = cities
    client.login(quanzhou_bureau)
    response = client.post_form(
        f"/enterprises/{quanzhou.id}/credit",
        {"status": "discredited", "effective_on": "2026-03-01", "source": "信用中国"},
    )
    assert response.status_code == 302
    assert quanzhou.incentives_suspended
    assert "失信企业" in client.get(f"/enterprises/{quanzhou.id}").get_data(as_text=True)


# --- pool -----------------------------------------------------------------------------------------------


def test_pool_lists_candidates_awaiting_screening_in_scope(client, quanzhou_bureau, make_enterprise):
    waiting = make_enterprise(name="待筛选甲有限公司", area="350500", office="xm-quanzhou", priority=Priority.A)
    low = make_enterprise(name="待筛选乙有限公司", area="350500", office="xm-quanzhou", priority=Priority.C)
    pooled = make_enterprise(name="已入库有限公司", area="350500", office="xm-quanzhou", stage="pooled")
    elsewhere = make_enterprise(name="福州候选有限公司", area="350100", office="fz-mawei")
    db.session.add(
        Recommendation(
            enterprise=waiting,
            unit_id=ref_id(RecommendingUnit, "commerce-350500"),
            recommended_on=waiting.created_at.date(),
        )
    )
    db.session.commit()
    client.login(quanzhou_bureau)
    body = client.get("/enterprises/pool").get_data(as_text=True)
    assert waiting.name in body and low.name in body
    assert pooled.name not in body and elsewhere.name not in body
    assert body.index(waiting.name) < body.index(low.name)
    assert "泉州市商务局" in body
    filtered = client.get("/enterprises/pool?unit=commerce-350500").get_data(as_text=True)
    assert waiting.name in filtered and low.name not in filtered


# --- saved views ------------------------------------------------------------------------------------------


def test_saved_views_are_per_user_and_shareable(client, app, make_user, cities):
    owner = make_user("bureau", areas=["350500"])
    colleague = make_user("bureau", areas=["350500"])
    client.login(owner)
    client.post_form("/enterprises/views", {"name": "A类候选", "query": "stage=candidate&priority=A&junk=1"})
    client.post_form("/enterprises/views", {"name": "共享：泉州", "query": "area=350500", "is_shared": "y"})
    private, shared = db.session.scalars(select(SavedView).order_by(SavedView.id)).all()
    assert private.query == "stage=candidate&priority=A"
    response = client.get(f"/enterprises/views/{private.id}")
    assert response.status_code == 302 and "priority=A" in response.location
    other = app.test_client()
    other.login(colleague)
    listing = other.get("/enterprises/").get_data(as_text=True)
    assert "共享：泉州" in listing and "A类候选" not in listing
    assert other.get(f"/enterprises/views/{shared.id}").status_code == 302
    assert other.get(f"/enterprises/views/{private.id}").status_code == 404
    assert other.post_form(f"/enterprises/views/{shared.id}/delete").status_code == 404
    assert client.post_form(f"/enterprises/views/{shared.id}/delete").status_code == 302
    assert db.session.get(SavedView, shared.id) is None


# --- bulk actions ------------------------------------------------------------------------------------------


def test_bulk_assign_officer_and_categories(client, quanzhou_bureau, make_user, make_enterprise, cities):
    quanzhou, fuzhou = cities
    second = make_enterprise(area="350500", office="xm-quanzhou")
    officer = make_user("customs", offices=["xm-quanzhou"])
    client.login(quanzhou_bureau)
    response = client.post_form(
        "/enterprises/bulk",
        {"action": "assign_officer", "ids": [quanzhou.id, second.id, fuzhou.id], "assign_officer-officer": officer.id},
    )
    assert response.status_code == 302
    assert quanzhou.customs_officer_id == officer.id and second.customs_officer_id == officer.id
    assert fuzhou.customs_officer_id is None, "a selection outside the caller's scope is ignored"
    category = ref_id(KeyCategory, "specialised")
    client.post_form(
        "/enterprises/bulk", {"action": "add_category", "ids": [quanzhou.id], "add_category-category": category}
    )
    assert [c.code for c in quanzhou.categories] == ["specialised"]
    client.post_form(
        "/enterprises/bulk", {"action": "remove_category", "ids": [quanzhou.id], "remove_category-category": category}
    )
    assert quanzhou.categories == []


def test_bulk_on_all_matching_and_officers_outside_their_jurisdiction(client, make_user, make_enterprise):
    admin = make_user("admin")
    officer = make_user("bureau", areas=["350200"])
    inside = [make_enterprise(area="350200", office="xm-dongdu") for _ in range(3)]
    outside = make_enterprise(area="350500", office="xm-quanzhou")
    client.login(admin)
    response = client.post_form(
        "/enterprises/bulk",
        {"action": "assign_officer", "all_matching": "1", "query": "", "assign_officer-officer": officer.id},
    )
    assert response.status_code == 302
    assert all(e.commerce_officer_id == officer.id for e in inside)
    assert outside.commerce_officer_id is None


def test_bulk_export_of_the_selection_and_permissions(client, make_user, make_enterprise):
    chosen = make_enterprise(name="选中导出有限公司", area="350500", office="xm-quanzhou")
    make_enterprise(name="未选中有限公司", area="350500", office="xm-quanzhou")
    client.login(make_user("bureau", areas=["350500"]))
    response = client.post_form("/enterprises/bulk", {"action": "export", "ids": [chosen.id], "export-format": "csv"})
    text = response.get_data().decode("utf-8-sig")
    assert "选中导出有限公司" in text and "未选中有限公司" not in text
    client.login(make_user("viewer", areas=["350500"]))
    assert client.post_form("/enterprises/bulk", {"action": "export", "ids": [chosen.id]}).status_code == 403
    assert client.post_form("/enterprises/bulk", {"action": "add_category", "ids": [chosen.id]}).status_code == 403


def test_field_errors_come_before_the_similar_name_warning(client, quanzhou_bureau, cities):
    client.login(quanzhou_bureau)
    data = form_data(name="泉州恒达鞋业股份有限公司", uscc=corrupt_check_character(new_uscc()))
    body = client.post_form("/enterprises/new", data).get_data(as_text=True)
    assert 'id="uscc-error"' in body and "仍然添加" not in body
