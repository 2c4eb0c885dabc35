"""Standards and assessment pages: they render, they respect scope (404 outside it) and roles, attachments."""

import io
from datetime import date

import pytest
from sqlalchemy import select

from crm.core.files import StoredFile
from crm.extensions import db
from crm.standards import services
from crm.standards.models import Assessment, AssessmentOutcome, Judgement
from tests.standards.test_catalog import SMALL

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def setting(make_user, make_enterprise, make_assessment):
    """An enterprise of 福州 (马尾海关) with two assessments, and users inside and outside its scope."""
    enterprise = make_enterprise(area="350100", office="fz-mawei")
    first = make_assessment(enterprise, {9: "fail"}, on=date(2026, 3, 1))
    second = make_assessment(enterprise, {9: "pass", 44: "basic"}, on=date(2026, 5, 1))
    return {
        "enterprise": enterprise,
        "first": first,
        "second": second,
        "admin": make_user("admin"),
        "bureau": make_user("bureau", areas=["350100"]),
        "customs": make_user("customs", offices=["fuzhou"]),
        "viewer": make_user("viewer", areas=["350100"]),
        "manager": make_user("manager"),
        "outsider": make_user("bureau", areas=["350200"]),
        "other_customs": make_user("customs", offices=["xiamen"]),
    }


def urls(s) -> list[str]:
    e, a, b = s["enterprise"].id, s["first"].id, s["second"].id
    return [
        f"/enterprises/{e}/assessments/",
        f"/assessments/{b}",
        f"/assessments/{b}/items/9",
        f"/assessments/{b}/financials",
        f"/assessments/{b}/compare?with={a}",
    ]


def test_pages_render_for_staff_in_scope(client, setting):
    for role in ("admin", "bureau", "customs", "viewer", "manager"):
        client.login(setting[role])
        for url in urls(setting):
            assert client.get(url).status_code == 200, (role, url)
    client.login(setting["bureau"])
    for url in [
        f"/enterprises/{setting['enterprise'].id}/assessments/new",
        f"/assessments/{setting['second'].id}/edit",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get("/standards/").status_code == 200
    catalog_page = client.get("/standards/aeo-advanced-2026").get_data(as_text=True)
    assert "(74)" in catalog_page and "国家级企业技术中心" in catalog_page


def test_compare_without_a_choice_takes_the_neighbouring_assessment(client, setting, make_enterprise, make_assessment):
    client.login(setting["bureau"])
    first, second = setting["first"], setting["second"]
    for assessment in (second, first):  # the one before, else the one after
        page = client.get(f"/assessments/{assessment.id}/compare")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "2026年3月1日" in body and "2026年5月1日" in body
    alone = make_assessment(make_enterprise(area="350100"), {9: "pass"}, on=date(2026, 5, 2))
    assert client.get(f"/assessments/{alone.id}/compare").status_code == 404  # nothing to compare with


@pytest.mark.parametrize("role", ["outsider", "other_customs"])
def test_every_page_answers_404_outside_scope(client, setting, role):
    client.login(setting[role])
    e, b = setting["enterprise"].id, setting["second"].id
    for url in [*urls(setting), f"/enterprises/{e}/assessments/new", f"/assessments/{b}/edit"]:
        assert client.get(url).status_code == 404, url
    for url in [f"/assessments/{b}/delete", f"/assessments/{b}/items/9", f"/assessments/{b}/financials"]:
        assert client.post_form(url).status_code == 404, url
    assert db.session.get(Assessment, b) is not None


def test_read_only_roles_cannot_change_assessments(client, setting):
    b = setting["second"].id
    for role in ("viewer", "manager"):
        client.login(setting[role])
        assert client.get(f"/assessments/{b}/edit").status_code == 403
        assert client.post_form(f"/assessments/{b}/items/9", {"judgement": "fail"}).status_code == 403
        assert client.post_form(f"/assessments/{b}/delete").status_code == 403


def test_start_judge_and_finalise_an_assessment(client, setting):
    enterprise = setting["enterprise"]
    client.login(setting["customs"])
    response = client.post_form(
        f"/enterprises/{enterprise.id}/assessments/new",
        {
            "kind": "officer",
            "version_id": services.version_by_code("aeo-advanced-2026").id,
            "assessed_on": "2026-06-10",
        },
    )
    assert response.status_code == 302
    assessment = db.session.scalars(select(Assessment).order_by(Assessment.id.desc())).first()
    assert assessment.is_draft and len(assessment.results) == 74
    data = {"kind": "officer", "assessed_on": "2026-06-10", "note": "", "action": "finalise"}
    for result in assessment.results:
        number = result.item.number
        data[f"j_{number}"] = "na" if result.item.is_bonus else "pass"
        data[f"e_{number}"] = ""
    data["j_13"], data["e_13"] = "fail", "资产负债率过高"
    response = client.post_form(f"/assessments/{assessment.id}/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert not assessment.is_draft
    assert (assessment.outcome, assessment.total) == (AssessmentOutcome.FAIL, 98)
    assert enterprise.readiness_outcome == "fail"
    page = client.get(f"/assessments/{assessment.id}").get_data(as_text=True)
    assert "资产负债率过高" in page


def test_a_bonus_item_cannot_be_judged_basic_through_the_form(client, setting):
    client.login(setting["bureau"])
    b = setting["second"]
    response = client.post_form(f"/assessments/{b.id}/items/70", {"judgement": "basic", "evidence": ""})
    assert response.status_code == 200  # the form shows the error
    assert {r.judgement for r in b.results if r.item.number == 70} == {Judgement.NOT_APPLICABLE}


def test_financial_figures_page_computes_and_applies(client, setting):
    client.login(setting["bureau"])
    b = setting["second"]
    figures = {
        "year": "2025",
        "audit_opinion": "unqualified",
        "total_assets": "1000",
        "total_liabilities": "900",
        "current_assets": "100",
        "current_liabilities": "200",
        "cash": "10",
        "operating_cash_flow": "-5",
        "operating_revenue": "100",
        "operating_cost": "120",
        "operating_profit": "-20",
        "total_profit": "-20",
        "net_profit": "-20",
        "apply": "y",
    }
    response = client.post_form(f"/assessments/{b.id}/financials", figures)
    assert response.status_code == 302
    judged = {r.item.number: r.judgement for r in b.results}
    assert (judged[12], judged[13], judged[14]) == (Judgement.PASS, Judgement.FAIL, Judgement.FAIL)
    page = client.get(f"/assessments/{b.id}/financials").get_data(as_text=True)
    assert "90.00%" in page  # the debt ratio is shown
    # Applying needs every figure.
    response = client.post_form(f"/assessments/{b.id}/financials", {"audit_opinion": "unqualified", "apply": "y"})
    assert response.status_code == 200


def test_attachments_are_stored_served_in_scope_and_404_outside(client, setting):
    b = setting["second"]
    client.login(setting["bureau"])
    response = client.post_form(
        f"/assessments/{b.id}/items/9/attachments",
        {"file": (io.BytesIO(PDF), "内审报告.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    stored = db.session.scalars(select(StoredFile).order_by(StoredFile.id.desc())).first()
    assert stored.filename == "内审报告.pdf" and stored.enterprise_id == setting["enterprise"].id
    url = f"/assessments/{b.id}/attachments/{stored.id}"
    response = client.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Cache-Control"] == "private, no-store"
    response.close()
    # Another assessment's URL, or a user outside the enterprise's scope: 404.
    assert client.get(f"/assessments/{setting['first'].id}/attachments/{stored.id}").status_code == 404
    client.login(setting["outsider"])
    assert client.get(url).status_code == 404
    assert client.post_form(f"{url}/delete").status_code == 404
    # A file of the wrong kind is refused with a message.
    client.login(setting["bureau"])
    response = client.post_form(
        f"/assessments/{b.id}/items/9/attachments",
        {"file": (io.BytesIO(b"MZ\x90\x00 not a document"), "tool.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "不接受" in response.get_data(as_text=True) or "not accepted" in response.get_data(as_text=True)
    # Deleting the assessment deletes its attachments.
    path = stored.path
    client.post_form(f"/assessments/{b.id}/delete")
    assert db.session.get(StoredFile, stored.id) is None and not path.exists()


def test_admin_imports_a_version_and_marks_it_verified(client, make_user):
    admin = make_user("admin")
    client.login(admin)
    response = client.post_form(
        "/standards/import", {"file": (io.BytesIO(SMALL.encode()), "small.yaml")}, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    version = services.version_by_code("aeo-2026-test")
    assert version is not None and not version.is_verified
    client.post_form("/standards/aeo-2026-test/verify", {"verified": "y"})
    assert version.is_verified and version.verified_by_id == admin.id
    broken = SMALL.replace("tier: aeo", "tier: gold").replace("aeo-2026-test", "aeo-broken")
    response = client.post_form(
        "/standards/import", {"file": (io.BytesIO(broken.encode()), "broken.yaml")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200 and "tier" in response.get_data(as_text=True)
    assert services.version_by_code("aeo-broken") is None
    assert client.get("/standards/aeo-2026-test/export.yaml").status_code == 200
    assert client.get("/standards/aeo-2026-test/rules").status_code == 200


def test_editing_the_pass_rule_re_evaluates_assessments(client, make_user, setting):
    client.login(setting["admin"])
    first = setting["first"]
    assert first.outcome is AssessmentOutcome.FAIL
    data = {
        "base": "100",
        "pass_line": "95",
        "score_basic": "-1",
        "score_fail": "-2",
        "bonus_per_item": "1",
        "bonus_cap": "2",
        "max_basic": "3",
        "max_basic_categories": ["internal_control", "trade_security"],
    }  # no_fail unticked: a single 不达标 no longer fails
    response = client.post_form("/standards/aeo-advanced-2026/rules", data)
    assert response.status_code == 302
    db.session.refresh(first)
    assert first.outcome is AssessmentOutcome.PASS


def test_only_administrators_manage_the_catalog(client, setting):
    client.login(setting["bureau"])
    assert client.get("/standards/import").status_code == 403
    assert client.post_form("/standards/aeo-advanced-2026/verify", {"verified": "y"}).status_code == 403
    assert client.get("/standards/aeo-advanced-2026/rules").status_code == 403
