"""Reference data: seeded idempotently from the data files, editable by administrators only."""

from sqlalchemy import func, select

from crm.extensions import db
from crm.pipeline.models import Stage
from crm.reference.models import (
    Area,
    BusinessType,
    CustomsOffice,
    KeyCategory,
    MraPartner,
    RecommendingUnit,
    SupportMeasure,
)
from crm.reference.services import seed_reference


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_has_the_facts_of_the_domain():
    assert count(Area) == 10
    assert db.session.scalars(select(Area.code).order_by(Area.sort_order)).all()[-1] == "350128"
    fuzhou = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "fuzhou")).one()
    xiamen = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "xiamen")).one()
    assert sorted(a.name_zh for a in fuzhou.areas) == sorted(["福州", "莆田", "三明", "南平", "宁德", "平潭综合实验区"])
    assert sorted(a.name_zh for a in xiamen.areas) == sorted(["厦门", "泉州", "漳州", "龙岩"])
    assert {o.code for o in xiamen.children} >= {"xm-dongdu", "xm-haicang"}
    confirmed = {o.code for o in xiamen.children if o.is_confirmed}
    assert confirmed == {"xm-dongdu", "xm-haicang"}
    assert count(KeyCategory) == 7
    assert count(SupportMeasure) == 24
    assert count(BusinessType) >= 10
    assert count(RecommendingUnit) == 15
    assert count(MraPartner) >= 9
    assert [s.code for s in db.session.scalars(select(Stage).order_by(Stage.sort_order))] == [
        "candidate",
        "pooled",
        "cultivating",
        "ready",
        "applied",
        "in_certification",
        "certified",
        "not_passed",
        "withdrawn",
    ]


def test_seed_is_idempotent_and_keeps_admin_edits():
    area = db.session.scalars(select(Area).where(Area.code == "350500")).one()
    area.name_zh = "泉州市"
    before = {model: count(model) for model in (Area, CustomsOffice, KeyCategory, SupportMeasure, Stage)}
    created = seed_reference()
    assert set(created.values()) == {0}
    assert {model: count(model) for model in before} == before
    assert area.name_zh == "泉州市"
    seed_reference(update=True)
    assert area.name_zh == "泉州"


def test_reference_pages_are_admin_only(client, make_user):
    client.login(make_user("manager"))
    assert client.get("/admin/reference/").status_code == 403
    assert client.get("/admin/reference/areas/").status_code == 403


def test_admin_adds_and_edits_an_office(client, make_user):
    client.login(make_user("admin"))
    ningde = db.session.scalars(select(Area).where(Area.code == "350900")).one()
    fuzhou = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "fuzhou")).one()
    response = client.post_form(
        "/admin/reference/offices/new",
        {
            "code": "fz-sandu",
            "name_zh": "三都澳海关",
            "name_en": "Sanduao Customs",
            "sort_order": "500",
            "is_active": "y",
            "parent_id": str(fuzhou.id),
            "areas": [str(ningde.id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    office = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "fz-sandu")).one()
    assert office.parent_id == fuzhou.id and [a.code for a in office.areas] == ["350900"]
    duplicate = client.post_form(
        "/admin/reference/offices/new", {"code": "fz-sandu", "name_zh": "重复", "parent_id": "0"}
    )
    assert duplicate.status_code == 200 and "该代码已被使用" in duplicate.get_data(as_text=True)


def test_rows_of_one_sort_order_are_listed_by_code(app, make_user):
    # A row an administrator adds keeps sort order 0 unless told otherwise: rows sharing one follow their code.
    zz, aa = Area(code="zz-test", name_zh="乙区", sort_order=999), Area(code="aa-test", name_zh="甲区", sort_order=999)
    db.session.add_all([zz, aa])
    db.session.flush()
    zz_office = CustomsOffice(code="zz-office", name_zh="乙关", sort_order=999, areas=[zz, aa])
    aa_office = CustomsOffice(code="aa-office", name_zh="甲关", sort_order=999, areas=[zz])
    db.session.add_all([zz_office, aa_office])
    user = make_user("admin")
    user.areas = [zz, aa]
    user.offices = [zz_office, aa_office]
    db.session.flush()
    db.session.expire_all()
    assert [a.code for a in zz_office.areas] == ["aa-test", "zz-test"]
    assert [o.code for o in zz.offices] == ["aa-office", "zz-office"]
    assert [a.code for a in user.areas] == ["aa-test", "zz-test"]
    assert [o.code for o in user.offices] == ["aa-office", "zz-office"]
    with app.test_request_context():
        from crm.reference.forms import OfficeForm

        choices = [label for _id, label in OfficeForm(model=CustomsOffice).areas.choices]
    assert choices.index("甲区") < choices.index("乙区")
