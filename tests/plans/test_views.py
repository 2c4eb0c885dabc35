"""Plan pages: they render, respect scope (404 outside it) and roles; the plan document as a page and a PDF."""

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from crm.extensions import db
from crm.plans import services
from crm.plans.models import CultivationTask, Plan, PlanTemplate, TaskStatus


@pytest.fixture
def setting(make_user, make_enterprise, make_assessment):
    enterprise = make_enterprise(area="350100", office="fz-mawei", name="福州闽江进出口贸易有限公司")
    make_assessment(enterprise, {9: "basic", 13: "fail"})
    plan = services.create_plan(
        enterprise,
        goal="2027年上半年申请高级认证",
        target_application_on=date(2027, 3, 1),
        measures="一对一辅导内控制度",
    )
    task = services.create_task(plan, title="完善信息系统安全制度", due_on=date(2026, 1, 10))
    db.session.commit()
    return {
        "enterprise": enterprise,
        "plan": plan,
        "task": task,
        "admin": make_user("admin"),
        "bureau": make_user("bureau", areas=["350100"]),
        "customs": make_user("customs", offices=["fz-mawei"]),
        "viewer": make_user("viewer", areas=["350100"]),
        "manager": make_user("manager"),
        "outsider": make_user("bureau", areas=["350200"]),
    }


def page_urls(s) -> list[str]:
    e, p = s["enterprise"].id, s["plan"].id
    return [f"/enterprises/{e}/plan", f"/plans/{p}", f"/plans/{p}/print"]


def edit_urls(s) -> list[str]:
    p, t = s["plan"].id, s["task"].id
    return [f"/plans/{p}/edit", f"/plans/{p}/tasks/new", f"/tasks/{t}/edit", f"/tasks/{t}/complete"]


def test_pages_render_in_scope(client, setting):
    for role in ("admin", "bureau", "customs", "viewer", "manager"):
        client.login(setting[role])
        for url in page_urls(setting):
            assert client.get(url, follow_redirects=True).status_code == 200, (role, url)
        assert client.get("/plans/").status_code == 200
        assert client.get("/plans/tasks?overdue=1").status_code == 200
    client.login(setting["bureau"])
    for url in edit_urls(setting):
        assert client.get(url).status_code == 200, url
    plan_page = client.get(f"/plans/{setting['plan'].id}").get_data(as_text=True)
    assert "完善信息系统安全制度" in plan_page and "table-danger" in plan_page  # flagged overdue


def test_lists_show_only_records_in_scope(client, setting):
    client.login(setting["outsider"])
    assert "福州闽江进出口贸易有限公司" not in client.get("/plans/?status=").get_data(as_text=True)
    assert "完善信息系统安全制度" not in client.get("/plans/tasks").get_data(as_text=True)
    client.login(setting["bureau"])
    assert "福州闽江进出口贸易有限公司" in client.get("/plans/").get_data(as_text=True)
    assert "完善信息系统安全制度" in client.get("/plans/tasks?overdue=1").get_data(as_text=True)


def test_every_page_answers_404_outside_scope(client, setting):
    client.login(setting["outsider"])
    p, t = setting["plan"].id, setting["task"].id
    for url in [*page_urls(setting), *edit_urls(setting), f"/plans/{p}/document.pdf"]:
        assert client.get(url).status_code == 404, url
    for url in [f"/plans/{p}/gaps", f"/tasks/{t}/delete", f"/tasks/{t}/complete", f"/plans/{p}/edit"]:
        assert client.post_form(url).status_code == 404, url
    assert db.session.get(CultivationTask, t) is not None


def test_read_only_roles_cannot_change_plans(client, setting):
    for role in ("viewer", "manager"):
        client.login(setting[role])
        for url in edit_urls(setting):
            assert client.get(url).status_code == 403, url
        assert client.post_form(f"/plans/{setting['plan'].id}/gaps").status_code == 403


def test_create_a_plan_from_a_template_and_tasks_from_gaps(client, make_enterprise, make_assessment, setting):
    enterprise = make_enterprise(area="350100", office="fz-mawei")
    make_assessment(enterprise, {5: "basic"})
    template = PlanTemplate(name="模板")
    db.session.add(template)
    db.session.flush()
    services.save_template_task(template, title="企业自评", anchor="start", offset_days=10)
    db.session.commit()
    client.login(setting["bureau"])
    response = client.post_form(
        f"/enterprises/{enterprise.id}/plan/new",
        {
            "goal": "申请认证企业",
            "target_tier": "aeo",
            "started_on": "2026-06-01",
            "target_application_on": "2026-12-01",
            "status": "active",
            "commerce_officer_id": setting["bureau"].id,
            "customs_officer_id": setting["customs"].id,
            "contact_id": "0",
            "measures": "",
            "template_id": template.id,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    plan = services.active_plan(enterprise.id)
    assert [t.due_on for t in plan.tasks] == [date(2026, 6, 11)]
    client.post_form(f"/plans/{plan.id}/gaps")
    client.post_form(f"/plans/{plan.id}/gaps")
    titles = [t.title for t in db.session.scalars(select(CultivationTask).where(CultivationTask.plan_id == plan.id))]
    assert len(titles) == 2 and any("5" in title for title in titles)
    # A second plan is refused while this one is open.
    response = client.post_form(f"/enterprises/{enterprise.id}/plan/new", {"goal": "x", "status": "active"})
    assert response.status_code == 200
    assert db.session.scalar(select(db.func.count(Plan.id)).where(Plan.enterprise_id == enterprise.id)) == 1


def test_add_edit_and_complete_a_task(client, setting):
    client.login(setting["customs"])
    plan = setting["plan"]
    response = client.post_form(
        f"/plans/{plan.id}/tasks/new",
        {
            "title": "内审报告",
            "items": "10, 11",
            "owner": f"user:{setting['customs'].id}",
            "due_on": "2026-12-01",
            "status": "doing",
        },
    )
    assert response.status_code == 302
    task = db.session.scalars(select(CultivationTask).where(CultivationTask.title == "内审报告")).one()
    assert sorted(i.number for i in task.items) == [10, 11] and task.status is TaskStatus.DOING
    response = client.post_form(
        f"/plans/{plan.id}/tasks/new", {"title": "x", "items": "10, 999", "owner": "", "status": "todo"}
    )
    assert response.status_code == 200 and "999" in response.get_data(as_text=True)
    response = client.post_form(
        f"/tasks/{task.id}/complete", {"completed_on": "2026-06-01", "completion_note": "已提交"}
    )
    assert response.status_code == 302
    assert (task.status, task.completed_on, task.completion_note) == (TaskStatus.DONE, date(2026, 6, 1), "已提交")


def test_the_plan_document_is_a_pdf_with_the_enterprise_name_as_text(client, setting):
    client.login(setting["bureau"])
    response = client.get(f"/plans/{setting['plan'].id}/document.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    compact = text.replace(" ", "").replace("\n", "")
    assert "福州闽江进出口贸易有限公司" in compact
    assert "一企一策培育方案" in compact
    assert "完善信息系统安全制度" in compact


def test_the_print_page_is_chinese_whatever_the_language(client, setting, make_user):
    english = make_user("bureau", areas=["350100"], language="en")
    client.login(english)
    page = client.get(f"/plans/{setting['plan'].id}/print").get_data(as_text=True)
    assert "一企一策培育方案" in page and "企业基本情况" in page
    assert "<style" not in page and "style=" not in page  # the CSP allows neither


def test_the_print_page_names_its_icon(client, setting):
    """Without one the browser asks for /favicon.ico, which the app does not serve: a 404 in the console."""
    client.login(setting["admin"])
    page = client.get(f"/plans/{setting['plan'].id}/print").get_data(as_text=True)
    assert '<link rel="icon" href="/static/img/favicon.svg' in page


def test_admin_manages_templates(client, setting):
    client.login(setting["admin"])
    response = client.post_form(
        "/admin/plan-templates/new", {"name": "外贸企业通用模板", "description": "", "is_active": "y"}
    )
    assert response.status_code == 302
    template = db.session.scalars(select(PlanTemplate).where(PlanTemplate.name == "外贸企业通用模板")).one()
    response = client.post_form(
        f"/admin/plan-templates/{template.id}/tasks/new",
        {"title": "模拟认证", "anchor": "target", "offset_days": "0", "item_numbers": "1, 2"},
    )
    assert response.status_code == 302
    db.session.refresh(template)
    assert [(t.title, t.offset_days, t.item_numbers) for t in template.tasks] == [("模拟认证", 0, [1, 2])]
    assert client.get("/admin/plan-templates/").status_code == 200
    client.login(setting["bureau"])
    assert client.get("/admin/plan-templates/").status_code == 403


def test_pages_render_in_english(client, setting, make_user, make_assessment):
    english = make_user("admin", language="en")
    client.login(english)
    assessment = make_assessment(setting["enterprise"], {13: "basic"}, on=date(2026, 6, 2))
    e, p, t, a = setting["enterprise"].id, setting["plan"].id, setting["task"].id, assessment.id
    for url in [
        "/plans/",
        "/plans/tasks",
        f"/plans/{p}",
        f"/plans/{p}/edit",
        f"/plans/{p}/tasks/new",
        f"/tasks/{t}/edit",
        f"/tasks/{t}/complete",
        f"/enterprises/{e}/plan/new",
        "/admin/plan-templates/",
        "/admin/plan-templates/new",
        "/standards/",
        "/standards/aeo-advanced-2026",
        "/standards/import",
        "/standards/aeo-advanced-2026/rules",
        f"/enterprises/{e}/assessments/",
        f"/enterprises/{e}/assessments/new",
        f"/assessments/{a}",
        f"/assessments/{a}/edit",
        f"/assessments/{a}/items/13",
        f"/assessments/{a}/financials",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="en"' in response.get_data(as_text=True), url
