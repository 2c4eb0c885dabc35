"""Pipeline pages: the board and its JSON move, moves by form and in bulk, the enterprise page, follow-up forms."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.core.timeutil import local_today
from crm.extensions import db
from crm.pipeline.models import BenefitRecord, Certification, StageChange
from crm.pipeline.queries import BOARD_PAGE_SIZE
from crm.reference.models import SupportMeasure


def move_json(client, enterprise, body, *, csrf=True):
    headers = {"X-CSRFToken": client.csrf_token()} if csrf else {}
    return client.post(f"/pipeline/enterprises/{enterprise.id}/transitions", json=body, headers=headers)


def changes(enterprise) -> list[StageChange]:
    return list(db.session.scalars(select(StageChange).where(StageChange.enterprise_id == enterprise.id)))


# --- the board -----------------------------------------------------------------------------------------


def test_board_shows_a_column_per_open_stage_plus_won_and_lost(client, owners, in_stage):
    commerce, _customs = owners
    pooled = in_stage("pooled", name="泉州看板测试有限公司")
    in_stage("withdrawn")
    in_stage("not_passed")
    client.login(commerce)
    body = client.get("/pipeline/").get_data(as_text=True)
    columns = re.findall(r'data-column="([a-z_]+)"', body)
    assert columns == ["candidate", "pooled", "cultivating", "ready", "applied", "in_certification", "won", "lost"]
    assert "泉州看板测试有限公司" in body and f'data-enterprise-id="{pooled.id}"' in body
    lost = body[body.index('data-column="lost"') :]
    assert re.search(r"data-count[^>]*>2<", lost)
    assert "<script>" not in body and 'style="' not in body and "onclick" not in body


def test_board_card_shows_area_officer_days_and_readiness(client, owners, in_stage):
    commerce, customs = owners
    entered = datetime.now(UTC) - timedelta(days=45)
    in_stage("pooled", readiness_outcome="pass", readiness_total=97, stage_entered_at=entered)
    client.login(commerce)
    body = client.get("/pipeline/").get_data(as_text=True)
    card = body[body.index("data-card ") :]
    card = card[: card.index("</li>")]
    days = (local_today() - (entered + timedelta(hours=8)).date()).days
    assert "泉州" in card and str(customs) in card
    assert f"在本阶段 {days} 天" in card and "已超期" in card
    assert "预评估：达标 · 97" in card or "达标 · 97" in card


def test_board_is_scoped(client, in_stage, make_user):
    in_stage("pooled", name="泉州范围测试有限公司")
    client.login(make_user("bureau", areas=["350100"]))
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "泉州范围测试有限公司" not in body


def test_board_filters_as_on_the_list(client, owners, in_stage):
    commerce, _customs = owners
    in_stage("pooled", name="甲筛选测试有限公司", stage_entered_at=datetime.now(UTC))
    in_stage("pooled", name="乙筛选测试有限公司", stage_entered_at=datetime(2020, 1, 1, tzinfo=UTC))
    client.login(commerce)
    body = client.get("/pipeline/?q=甲筛选").get_data(as_text=True)
    assert "甲筛选测试有限公司" in body and "乙筛选测试有限公司" not in body
    body = client.get("/pipeline/?deadline=stale").get_data(as_text=True)
    assert "乙筛选测试有限公司" in body and "甲筛选测试有限公司" not in body


def column_html(body: str, key: str) -> str:
    start = body.index(f'data-column="{key}"')
    end = body.find("data-column=", start + 1)
    return body[start : end if end != -1 else len(body)]


def load_the_rest(client, column: str) -> list[int]:
    """Follow a column's "Load more" URLs as the board's script does; the ids of the cards they bring."""
    seen = []
    url = re.search(r'data-load-more[^>]*data-url="([^"]+)"', column).group(1).replace("&amp;", "&")
    while url:
        page = client.get(url).get_json()
        assert page["count"] <= BOARD_PAGE_SIZE
        seen += [int(i) for i in re.findall(r'data-enterprise-id="(\d+)"', page["html"])]
        url = page["next_url"]
    return seen


def test_board_columns_load_in_pages(client, owners, in_stage):
    commerce, _customs = owners
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = [in_stage("pooled", stage_entered_at=start + timedelta(hours=i)) for i in range(2 * BOARD_PAGE_SIZE + 7)]
    client.login(commerce)
    body = client.get("/pipeline/").get_data(as_text=True)
    pooled = column_html(body, "pooled")
    shown = [int(i) for i in re.findall(r'data-enterprise-id="(\d+)"', pooled)]
    assert shown == [e.id for e in created[:BOARD_PAGE_SIZE]]  # the longest in the stage first
    assert re.search(rf"data-count[^>]*>{len(created)}<", pooled)
    # Without the script, "Load more" is a link to the enterprise list of that stage.
    link = re.search(r'data-load-more href="([^"]+)"', pooled).group(1).replace("&amp;", "&")
    assert link.startswith("/enterprises/?") and "stage=pooled" in link
    assert shown + load_the_rest(client, pooled) == [e.id for e in created]
    # A column without more cards has no "Load more".
    assert "data-load-more" not in column_html(body, "cultivating")


def test_a_column_of_several_stages_pages_through_all_of_them_newest_first(client, owners, in_stage):
    commerce, _customs = owners
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = [
        in_stage("withdrawn" if i % 3 else "not_passed", stage_entered_at=start + timedelta(hours=i))
        for i in range(BOARD_PAGE_SIZE + 6)
    ]
    client.login(commerce)
    body = client.get("/pipeline/?q=").get_data(as_text=True)
    lost = column_html(body, "lost")
    shown = [int(i) for i in re.findall(r'data-enterprise-id="(\d+)"', lost)]
    newest_first = [e.id for e in reversed(created)]
    assert shown == newest_first[:BOARD_PAGE_SIZE]
    link = re.search(r'data-load-more href="([^"]+)"', lost).group(1).replace("&amp;", "&")
    assert "stage=" not in link  # the list filters one stage at a time
    assert shown + load_the_rest(client, lost) == newest_first


def test_board_shows_a_screenful_per_column_in_a_constant_number_of_queries(
    client, owners, in_stage, reference_cache, statements
):
    commerce, _customs = owners
    client.login(commerce)
    stages = ("candidate", "pooled", "cultivating", "ready", "applied", "in_certification", "certified", "withdrawn")

    def board_queries() -> list[str]:
        statements.clear()
        body = client.get("/pipeline/").get_data(as_text=True)
        return body, [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]

    for stage in stages:
        in_stage(stage)
    client.get("/pipeline/")
    _body, few = board_queries()
    for stage in stages:
        for _ in range(BOARD_PAGE_SIZE + 1):
            in_stage(stage)
    client.get("/pipeline/")
    body, many = board_queries()
    assert body.count("data-card ") == len(stages) * BOARD_PAGE_SIZE
    assert len(many) == len(few), "\n".join(s[:100] for s in many)
    # The totals per stage, every column's cards, the cohort filter and the layout's notifications.
    assert len(many) <= 4, "\n".join(s[:100] for s in many)


def test_board_column_page_rejects_a_bad_cursor_and_unknown_column(client, owners):
    commerce, _customs = owners
    client.login(commerce)
    assert client.get("/pipeline/columns/pooled?after=garbage!").status_code == 400
    assert client.get("/pipeline/columns/nowhere").status_code == 404


# --- the JSON move ----------------------------------------------------------------------------------------


def test_json_move_runs_the_service_and_returns_the_card(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("pooled")
    client.login(commerce)
    response = move_json(client, enterprise, {"to": "cultivating"})
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["ok"] and data["stage"] == "cultivating" and data["column"] == "cultivating"
    assert f'data-enterprise-id="{enterprise.id}"' in data["card"]
    assert enterprise.stage == "cultivating" and len(changes(enterprise)) == 1


def test_json_move_refusal_returns_the_reason(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("cultivating")
    client.login(commerce)
    response = move_json(client, enterprise, {"to": "ready"})
    assert response.status_code == 422
    data = response.get_json()
    assert not data["ok"] and not data["dialog"]
    assert "一企一策" in data["message"] and set(data["errors"]) == {"active_plan", "assessment"}
    assert enterprise.stage == "cultivating" and changes(enterprise) == []


def test_json_move_asks_for_the_guards_inputs(client, owners, in_stage, assess):
    commerce, _customs = owners
    enterprise = in_stage("ready")
    assess(enterprise, "pass")
    client.login(commerce)
    data = move_json(client, enterprise, {"to": "applied"}).get_json()
    assert data["dialog"] and data["inputs"] == ["applied_on"] and set(data["errors"]) == {"applied_on"}
    bad = move_json(client, enterprise, {"to": "applied", "applied_on": "2026/05/01"})
    assert bad.status_code == 422 and bad.get_json()["errors"]["applied_on"]
    response = move_json(client, enterprise, {"to": "applied", "applied_on": "2026-05-01", "comment": "已申请"})
    assert response.status_code == 200 and enterprise.stage == "applied"
    assert changes(enterprise)[0].data == {"applied_on": "2026-05-01"}


def test_json_move_dry_run_lists_inputs_without_moving(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    client.login(commerce)
    data = move_json(client, enterprise, {"to": "not_passed", "dry_run": True}).get_json()
    assert data["inputs"] == ["decided_on", "reason"] and data["dialog"]
    assert enterprise.stage == "in_certification"


def test_json_move_needs_the_csrf_header(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("pooled")
    client.login(commerce)
    assert move_json(client, enterprise, {"to": "cultivating"}, csrf=False).status_code == 400
    assert enterprise.stage == "pooled"


def test_json_move_outside_scope_is_404_and_viewers_may_not_move(client, in_stage, make_user):
    enterprise = in_stage("pooled")
    client.login(make_user("bureau", areas=["350100"]))
    assert move_json(client, enterprise, {"to": "cultivating"}).status_code == 404
    client.login(make_user("viewer", areas=["350500"]))
    assert move_json(client, enterprise, {"to": "cultivating"}).status_code == 403
    assert enterprise.stage == "pooled"


# --- moves by form, and the screening partial -------------------------------------------------------------


def test_move_form_asks_only_for_what_the_guard_needs(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    client.login(commerce)
    body = client.get(f"/pipeline/enterprises/{enterprise.id}/move/certified").get_data(as_text=True)
    for name in ("decided_on", "certificate_no", "tier", "comment"):
        assert f'name="{name}"' in body
    assert 'name="applied_on"' not in body and 'name="reason"' not in body


def test_move_form_moves_and_refuses_with_messages_at_the_fields(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("in_certification")
    client.login(commerce)
    url = f"/pipeline/enterprises/{enterprise.id}/move/not_passed"
    refused = client.post_form(url, {"decided_on": "", "reason": ""})
    assert refused.status_code == 200
    body = refused.get_data(as_text=True)
    assert "请填写海关作出决定的日期" in body and "请从列表中选择原因" in body
    assert enterprise.stage == "in_certification"
    response = client.post_form(url, {"decided_on": "2026-01-20", "reason": "trade_security_failed"})
    assert response.status_code == 302 and enterprise.stage == "not_passed"
    assert response.headers["Location"].endswith(f"/pipeline/enterprises/{enterprise.id}")


def test_move_form_shows_conditions_no_field_can_fix(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("pooled", owned=False)
    client.login(commerce)
    body = client.get(f"/pipeline/enterprises/{enterprise.id}/move/cultivating").get_data(as_text=True)
    assert "暂时无法" in body and "商务" in body


def test_screening_partial_accepts_and_declines(client, owners, in_stage, app):
    commerce, _customs = owners
    accept_me = in_stage("candidate")
    decline_me = in_stage("candidate")
    client.login(commerce)
    page = client.get(f"/pipeline/enterprises/{accept_me.id}").get_data(as_text=True)
    assert "纳入培育库" in page and "不予入库" in page
    response = client.post_form(
        f"/pipeline/enterprises/{accept_me.id}/move/pooled", {"next": f"/pipeline/enterprises/{accept_me.id}"}
    )
    assert response.status_code == 302 and accept_me.stage == "pooled"
    response = client.post_form(
        f"/pipeline/enterprises/{decline_me.id}/move/withdrawn",
        {"reason": "declined_at_screening", "comment": "进出口额不足", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and decline_me.stage == "withdrawn"
    assert "evil.example" not in response.headers["Location"]
    with app.test_request_context():
        from flask import render_template

        assert render_template("pipeline/_screening_actions.html", enterprise=accept_me).strip() == ""


@pytest.mark.parametrize(
    "url",
    [
        "/pipeline/enterprises/{id}",
        "/pipeline/enterprises/{id}/history",
        "/pipeline/enterprises/{id}/move",
        "/pipeline/enterprises/{id}/move/withdrawn",
        "/pipeline/enterprises/{id}/compliance",
        "/pipeline/enterprises/{id}/credit",
        "/pipeline/enterprises/{id}/benefits/new",
        "/pipeline/enterprises/{id}/coordinator",
    ],
)
def test_pages_outside_scope_answer_404(client, in_stage, make_user, url):
    enterprise = in_stage("certified")
    client.login(make_user("customs", offices=["fuzhou"]))
    assert client.get(url.format(id=enterprise.id)).status_code == 404
    client.login(make_user("customs", offices=["xiamen"]))  # the district covers 泉州海关
    assert client.get(url.format(id=enterprise.id)).status_code == 200


def test_moving_by_form_outside_scope_is_404(client, in_stage, make_user):
    enterprise = in_stage("pooled")
    client.login(make_user("bureau", areas=["350100"]))
    response = client.post_form(f"/pipeline/enterprises/{enterprise.id}/move/cultivating", {})
    assert response.status_code == 404 and enterprise.stage == "pooled"


@pytest.mark.parametrize(
    ("role", "move_status", "edit_status"),
    [("admin", 200, 200), ("manager", 200, 403), ("bureau", 200, 200), ("customs", 200, 200), ("viewer", 403, 403)],
)
def test_access_by_role(client, in_stage, make_user, role, move_status, edit_status):
    enterprise = in_stage("certified")
    scope = {"areas": ["350500"]} if role in ("bureau", "viewer") else {}
    if role == "customs":
        scope = {"offices": ["xm-quanzhou"]}
    client.login(make_user(role, **scope))
    assert client.get("/pipeline/").status_code == 200
    assert client.get(f"/pipeline/enterprises/{enterprise.id}").status_code == 200
    assert client.get(f"/pipeline/enterprises/{enterprise.id}/move").status_code == move_status
    assert client.get(f"/pipeline/enterprises/{enterprise.id}/credit").status_code == edit_status


# --- the enterprise section ----------------------------------------------------------------------------------


def test_enterprise_page_shows_stage_deadlines_and_history(client, owners, in_stage):
    commerce, _customs = owners
    enterprise = in_stage("in_certification", stage_entered_at=datetime(2020, 1, 1, tzinfo=UTC))
    accepted = local_today() - timedelta(days=100)
    db.session.add(
        Certification(
            enterprise_id=enterprise.id,
            applied_on=accepted - timedelta(days=5),
            accepted_on=accepted,
            decision_due_on=accepted + timedelta(days=90),
        )
    )
    db.session.add(
        StageChange(
            enterprise_id=enterprise.id, from_stage="applied", to_stage="in_certification", comment="海关已受理"
        )
    )
    db.session.commit()
    client.login(commerce)
    body = client.get(f"/pipeline/enterprises/{enterprise.id}").get_data(as_text=True)
    assert "已超期" in body and "认证决定应作出日期" in body and "已逾期 10 天" in body
    assert "海关已受理" in body and "记录延长30日" in body


def test_section_context_contract(in_stage, app, owners):
    from flask import render_template
    from flask_login import login_user

    from crm.pipeline.queries import enterprise_section_context

    commerce, _customs = owners
    enterprise = in_stage("certified")
    with app.test_request_context():
        login_user(commerce)
        context = enterprise_section_context(enterprise)
        assert set(context) == {"pipeline"}
        html = render_template("pipeline/_enterprise_section.html", enterprise=enterprise, **context)
    assert "培育进程" in html and "证后管理" not in html  # no certificate recorded yet


def test_certified_follow_up_forms(client, owners, in_stage):
    commerce, customs = owners
    enterprise = in_stage("certified")
    db.session.add(
        Certification(
            enterprise_id=enterprise.id,
            decided_on=date(2025, 3, 3),
            cycle_start_on=date(2025, 3, 3),
            certificate_no="厦关企认〔2025〕1号",
            tier="aeo_advanced",
        )
    )
    db.session.commit()
    client.login(commerce)
    base = f"/pipeline/enterprises/{enterprise.id}"
    page = client.get(base).get_data(as_text=True)
    assert "厦关企认〔2025〕1号" in page and "2030年3月3日" in page  # re-verification due after 5 years
    assert (
        client.post_form(
            f"{base}/compliance", {"year": "2025", "internal_audit_done": "y", "internal_audit_on": "2025-12-10"}
        ).status_code
        == 302
    )
    measure = db.session.scalars(select(SupportMeasure).where(SupportMeasure.number == 8)).one()
    response = client.post_form(
        f"{base}/benefits/new",
        {"measure_id": str(measure.id), "used_on": "2025-06-01", "figure": "2", "unit": "个工作日"},
    )
    assert response.status_code == 302
    assert client.post_form(f"{base}/coordinator", {"coordinator_id": str(customs.id)}).status_code == 302
    assert enterprise.coordinator_id == customs.id
    response = client.post_form(
        f"{base}/credit", {"status": "discredited", "effective_on": "2025-07-01", "source": "海关认定决定"}
    )
    assert response.status_code == 302 and enterprise.incentives_suspended
    page = client.get(base).get_data(as_text=True)
    assert "激励已暂停" in page and "个工作日" in page
    bad = client.post_form(
        f"{base}/benefits/new", {"measure_id": str(measure.id), "used_on": "2025-08-01", "note": "x"}
    )
    assert bad.status_code == 200 and "暂停" in bad.get_data(as_text=True)
    record = db.session.scalars(select(BenefitRecord).where(BenefitRecord.enterprise_id == enterprise.id)).one()
    assert client.post_form(f"{base}/benefits/{record.id}/delete", {}).status_code == 302
    assert db.session.get(BenefitRecord, record.id) is None


# --- bulk move ------------------------------------------------------------------------------------------------


def test_bulk_move_reports_which_moved_and_why_the_others_did_not(client, owners, in_stage, make_enterprise):
    commerce, _customs = owners
    ready = in_stage("pooled", name="批量可移动有限公司")
    unowned = in_stage("pooled", owned=False, name="批量缺负责人有限公司")
    elsewhere = make_enterprise(area="350100", office="fz-mawei", stage="pooled", name="福州批量有限公司")
    client.login(commerce)
    ids = [ready.id, unowned.id, elsewhere.id]
    form = client.post_form("/pipeline/bulk-move", {"enterprise_ids": ids})
    assert form.status_code == 200 and 'name="step" value="confirm"' in form.get_data(as_text=True)
    response = client.post_form(
        "/pipeline/bulk-move", {"enterprise_ids": ids, "step": "confirm", "to": "cultivating", "comment": "批量"}
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert ready.stage == "cultivating" and unowned.stage == "pooled" and elsewhere.stage == "pooled"
    assert "批量可移动有限公司" in body and "批量缺负责人有限公司" in body and "请先指定" in body
    assert "福州批量有限公司" not in body and f"#{elsewhere.id}" in body


def test_bulk_move_needs_ids_and_a_bounded_selection(client, owners):
    commerce, _customs = owners
    client.login(commerce)
    assert "请至少选择一家企业" in client.get("/pipeline/bulk-move").get_data(as_text=True)
    assert client.get("/pipeline/bulk-move?enterprise_ids=x").status_code == 400
    many = client.post_form("/pipeline/bulk-move", {"enterprise_ids": list(range(1, 502)), "step": "confirm"})
    assert "最多" in many.get_data(as_text=True)
