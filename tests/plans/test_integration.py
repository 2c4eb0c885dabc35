"""Integration points other features use: the enterprise-page sections, the assessment timeline, readiness."""

from datetime import date

from flask import render_template_string
from flask_login import login_user

from crm.core.timeline import TimelineEntry
from crm.plans import queries as plan_queries
from crm.plans import services as plan_services
from crm.standards import queries as standard_queries


def test_enterprise_sections_render(app, make_user, make_enterprise, make_assessment):
    user = make_user("bureau", areas=["350100"])
    enterprise = make_enterprise()
    make_assessment(enterprise, {13: "fail"}, on=date(2026, 5, 1))
    plan = plan_services.create_plan(enterprise, goal="申请高级认证")
    plan_services.create_task(plan, title="逾期的任务", due_on=date(2020, 1, 1))
    with app.test_request_context():
        login_user(user)
        context = standard_queries.enterprise_section_context(enterprise) | plan_queries.enterprise_section_context(
            enterprise
        )
        assert set(context) == {"standards_section", "plans_section"}
        html = render_template_string(
            '{% include "standards/_enterprise_section.html" %}{% include "plans/_enterprise_section.html" %}',
            **context,
        )
    assert "98" in html and "(13)" in html
    assert "逾期的任务" in html and "申请高级认证" in html
    assert context["plans_section"]["progress"].total == 1


def test_sections_without_records(app, make_user, make_enterprise):
    user = make_user("viewer", areas=["350100"])
    enterprise = make_enterprise()
    with app.test_request_context():
        login_user(user)
        context = standard_queries.enterprise_section_context(enterprise) | plan_queries.enterprise_section_context(
            enterprise
        )
        html = render_template_string(
            '{% include "standards/_enterprise_section.html" %}{% include "plans/_enterprise_section.html" %}',
            **context,
        )
    assert context["plans_section"]["plan"] is None and context["standards_section"]["latest"] is None
    assert "btn-primary" not in html  # a viewer gets no create buttons


def test_readiness_badge(app, make_user, make_enterprise, make_assessment):
    enterprise = make_enterprise()
    template = '{% from "standards/_readiness.html" import readiness_badge %}{{ readiness_badge(e) }}'
    with app.test_request_context():
        assert "未评估" in render_template_string(template, e=enterprise)
        make_assessment(enterprise)
        html = render_template_string(template, e=enterprise)
    assert "符合标准" in html and "100" in html


def test_assessment_timeline_entries(app, make_enterprise, make_assessment):
    enterprise = make_enterprise()
    first = make_assessment(enterprise, on=date(2026, 3, 1))
    make_assessment(enterprise, {5: "fail"}, on=date(2026, 4, 1))
    make_assessment(enterprise, draft=True)
    with app.test_request_context():
        entries = standard_queries.timeline_entries(enterprise.id)
        assert len(entries) == 2 and all(isinstance(e, TimelineEntry) for e in entries)
        assert entries[0].at >= entries[1].at and entries[0].kind == "assessment"
        assert entries[1].url.endswith(f"/assessments/{first.id}")
        assert standard_queries.timeline_entries(enterprise.id, limit=1) == entries[:1]
        assert standard_queries.timeline_entries(enterprise.id, before=entries[1].at) == []


def test_the_section_reads_the_open_plans_progress_and_its_soonest_open_tasks(app, make_user, make_enterprise):
    """One query gives both: the counts over all the plan's tasks, the first 50 open ones by due date."""
    from crm.plans.models import TaskStatus

    user = make_user("admin")
    enterprise = make_enterprise()
    plan = plan_services.create_plan(enterprise, goal="申请高级认证")
    tasks = [
        plan_services.create_task(plan, title=f"任务{k}", due_on=date(2020, 1, 1 + k % 28) if k % 3 else None)
        for k in range(55)
    ]
    for task in tasks[:4]:
        task.status = TaskStatus.DONE
    with app.test_request_context():
        login_user(user)
        today = date(2026, 6, 1)
        section = plan_queries.enterprise_section_context(enterprise)["plans_section"]
        expected = plan_services.progress(plan, section["today"])
        assert section["progress"] == expected and expected.total == 55 and expected.done == 4
        open_tasks = sorted(tasks[4:], key=lambda t: (t.due_on is None, t.due_on or today, t.id))[:50]
        assert (
            section["overdue"] + section["upcoming"]
            == [t for t in open_tasks if t.due_on is not None] + [t for t in open_tasks if t.due_on is None][:5]
        )
        for task in tasks:
            task.status = TaskStatus.DONE
        section = plan_queries.enterprise_section_context(enterprise)["plans_section"]
    assert section["progress"].total == 55 and section["progress"].done == 55
    assert section["overdue"] == [] and section["upcoming"] == []
