"""Administration of the stages (names, order, SLA; codes fixed) and of the reasons list."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.pipeline.models import Stage, TransitionReason


def test_admin_edits_stage_names_order_and_sla_but_not_codes(client, make_user):
    client.login(make_user("admin"))
    response = client.post_form(
        "/admin/pipeline/stages/pooled",
        {"name_zh": "入库", "name_en": "Pooled", "sort_order": "25", "sla_days": "45", "code": "hacked"},
    )
    assert response.status_code == 302
    stage = db.session.get(Stage, "pooled")
    assert (stage.name_zh, stage.name_en, stage.sort_order, stage.sla_days) == ("入库", "Pooled", 25, 45)
    assert db.session.get(Stage, "hacked") is None
    assert (
        client.post_form(
            "/admin/pipeline/stages/pooled",
            {"name_zh": "入库", "name_en": "Pooled", "sort_order": "25", "sla_days": ""},
        ).status_code
        == 302
    )
    assert db.session.get(Stage, "pooled").sla_days is None
    assert client.get("/admin/pipeline/stages/nowhere").status_code == 404


def test_admin_rejects_bad_stage_values(client, make_user):
    client.login(make_user("admin"))
    response = client.post_form(
        "/admin/pipeline/stages/ready", {"name_zh": "", "name_en": "Ready", "sort_order": "40", "sla_days": "-3"}
    )
    assert response.status_code == 200
    stage = db.session.get(Stage, "ready")
    assert stage.name_zh == "预评估达标" and stage.sla_days == 60


def test_admin_reorders_stages(client, make_user):
    client.login(make_user("admin"))
    assert client.post_form("/admin/pipeline/stages/ready/move", {"direction": "up"}).status_code == 302
    codes = [s.code for s in db.session.scalars(select(Stage).order_by(Stage.sort_order))]
    assert codes[:4] == ["candidate", "pooled", "ready", "cultivating"]
    assert client.post_form("/admin/pipeline/stages/ready/move", {"direction": "sideways"}).status_code == 400


def test_stage_admin_is_for_administrators(client, make_user):
    client.login(make_user("manager"))
    assert client.get("/admin/pipeline/stages/").status_code == 403
    assert (
        client.post_form(
            "/admin/pipeline/stages/pooled", {"name_zh": "x", "name_en": "x", "sort_order": "1"}
        ).status_code
        == 403
    )
    assert client.get("/admin/pipeline/reasons/").status_code == 403


def test_admin_adds_renames_and_deactivates_reasons(client, make_user):
    client.login(make_user("admin"))
    response = client.post_form(
        "/admin/pipeline/reasons/new",
        {
            "code": "moved_abroad",
            "stage_code": "withdrawn",
            "name_zh": "企业迁出福建",
            "name_en": "Moved out",
            "sort_order": "5",
            "is_active": "y",
        },
    )
    assert response.status_code == 302
    reason = db.session.scalars(select(TransitionReason).where(TransitionReason.code == "moved_abroad")).one()
    assert reason.stage_code == "withdrawn" and reason.is_active
    duplicate = client.post_form(
        "/admin/pipeline/reasons/new", {"code": "moved_abroad", "stage_code": "withdrawn", "name_zh": "重复"}
    )
    assert duplicate.status_code == 200 and "该代码已被使用" in duplicate.get_data(as_text=True)
    response = client.post_form(
        f"/admin/pipeline/reasons/{reason.id}",
        {"code": "renamed", "stage_code": "withdrawn", "name_zh": "企业迁出本省", "sort_order": "5"},
    )
    assert response.status_code == 302
    assert (reason.code, reason.name_zh, reason.is_active) == ("moved_abroad", "企业迁出本省", False)
    assert (
        client.post_form(
            "/admin/pipeline/reasons/new", {"code": "x", "stage_code": "pooled", "name_zh": "x"}
        ).status_code
        == 200
    )
