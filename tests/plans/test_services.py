"""Plans and tasks: one open plan, tasks from gaps without duplicates, template dates, progress and overdue."""

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from crm.core.timeutil import local_today
from crm.enterprises.models import Contact
from crm.extensions import db
from crm.plans import services
from crm.plans.models import OffsetAnchor, Plan, PlanStatus, PlanTemplate, TaskStatus


def test_active_plan_create_and_complete_task_contract(make_enterprise, make_user):
    enterprise = make_enterprise()
    assert services.active_plan(enterprise.id) is None
    plan = services.create_plan(enterprise, goal="一年内通过高级认证")
    assert services.active_plan(enterprise.id) is plan and plan.status is PlanStatus.ACTIVE
    owner = make_user("customs", offices=["fz-mawei"])
    task = services.create_task(
        plan, title="  走访企业 ", owner=owner, due_on=date(2026, 7, 1), source_kind="visit", source_id=4
    )
    assert (task.title, task.owner_id, task.enterprise_id, task.status) == (
        "走访企业",
        owner.id,
        enterprise.id,
        TaskStatus.TODO,
    )
    assert (task.source_kind, task.source_id) == ("visit", 4)
    services.complete_task(task, note="已完成", on=date(2026, 6, 20))
    assert (task.status, task.completed_on, task.completion_note) == (TaskStatus.DONE, date(2026, 6, 20), "已完成")
    services.complete_task(task)
    assert task.completed_on == local_today() and task.completion_note == "已完成"


def test_one_open_plan_per_enterprise(make_enterprise):
    enterprise = make_enterprise()
    plan = services.create_plan(enterprise, goal="A", status="draft")
    with pytest.raises(services.PlanError):
        services.create_plan(enterprise, goal="B")
    services.update_plan(plan, status="abandoned")
    second = services.create_plan(enterprise, goal="B")
    with pytest.raises(services.PlanError):
        services.update_plan(plan, status="active")
    assert services.open_plan(enterprise.id) is second


def test_the_database_refuses_a_second_active_plan(make_enterprise):
    enterprise = make_enterprise()
    services.create_plan(enterprise, goal="A")
    savepoint = db.session.begin_nested()
    db.session.add(Plan(enterprise_id=enterprise.id, status=PlanStatus.ACTIVE, goal="B"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()


def test_responsible_people_must_fit_their_roles_and_see_the_enterprise(make_enterprise, make_user):
    enterprise = make_enterprise(area="350100", office="fz-mawei")
    fuzhou_bureau = make_user("bureau", areas=["350100"])
    xiamen_bureau = make_user("bureau", areas=["350200"])
    officer = make_user("customs", offices=["fuzhou"])  # the district covers its subordinate offices
    plan = services.create_plan(enterprise, goal="A", commerce_officer=fuzhou_bureau, customs_officer=officer)
    assert (plan.commerce_officer_id, plan.customs_officer_id) == (fuzhou_bureau.id, officer.id)
    with pytest.raises(services.PlanError):
        services.update_plan(plan, commerce_officer=xiamen_bureau)
    with pytest.raises(services.PlanError):
        services.update_plan(plan, customs_officer=fuzhou_bureau)


def test_tasks_from_gaps_skip_items_with_an_open_task(make_enterprise, make_assessment):
    enterprise = make_enterprise()
    contact = Contact(enterprise=enterprise, name="王关务")
    db.session.add(contact)
    db.session.flush()
    plan = services.create_plan(
        enterprise, goal="A", target_application_on=local_today() + timedelta(days=120), contact=contact
    )
    with pytest.raises(services.PlanError):
        services.create_tasks_from_gaps(plan)  # no assessment yet
    make_assessment(enterprise, {9: "basic", 13: "fail", 50: "basic", 70: "fail", 8: "pending"})
    created = services.create_tasks_from_gaps(plan)
    assert [sorted(i.number for i in t.items) for t in created] == [[9], [13], [50]]  # a bonus item is no gap
    assert all(t.owner_contact_id == contact.id and t.source_kind == "assessment" for t in created)
    assert created[0].due_on == plan.target_application_on - timedelta(days=30)
    assert services.create_tasks_from_gaps(plan) == []  # no duplicates
    # Finishing a task re-opens its item to a new gap task if the next assessment still finds it short.
    services.complete_task(created[0])
    make_assessment(enterprise, {9: "basic", 13: "basic", 44: "fail"}, on=date(2026, 7, 1))
    again = services.create_tasks_from_gaps(plan)
    assert [sorted(i.number for i in t.items) for t in again] == [[9], [44]]


def make_template() -> PlanTemplate:
    template = PlanTemplate(name="标准培育流程")
    db.session.add(template)
    db.session.flush()
    services.save_template_task(template, title="企业自评", anchor="start", offset_days=14, item_numbers=[10])
    services.save_template_task(template, title="内审", anchor="target", offset_days=60, item_numbers=[10, 11])
    services.save_template_task(template, title="预评估", anchor="target", offset_days=30)
    return template


def test_a_plan_starts_from_a_template_with_dated_tasks(make_enterprise):
    enterprise = make_enterprise()
    template = make_template()
    plan = services.create_plan(
        enterprise, goal="A", started_on=date(2026, 6, 1), target_application_on=date(2026, 12, 1), template=template
    )
    tasks = {t.title: t for t in plan.tasks}
    assert tasks["企业自评"].due_on == date(2026, 6, 15)
    assert tasks["内审"].due_on == date(2026, 10, 2)
    assert tasks["预评估"].due_on == date(2026, 11, 1)
    assert sorted(i.number for i in tasks["内审"].items) == [10, 11]
    assert plan.template_id == template.id


def test_moving_the_target_date_moves_unfinished_target_anchored_tasks(make_enterprise):
    enterprise = make_enterprise()
    plan = services.create_plan(
        enterprise,
        goal="A",
        started_on=date(2026, 6, 1),
        target_application_on=date(2026, 12, 1),
        template=make_template(),
    )
    tasks = {t.title: t for t in plan.tasks}
    services.complete_task(tasks["内审"], on=date(2026, 9, 30))
    tasks["预评估"].due_on = date(2026, 11, 5)  # adjusted by hand: keeps its 4 days
    manual = services.create_task(plan, title="手工任务", due_on=date(2026, 11, 20))
    services.update_plan(plan, target_application_on=date(2027, 1, 15))
    assert tasks["预评估"].due_on == date(2026, 12, 20)  # moved 45 days like the target
    assert tasks["内审"].due_on == date(2026, 10, 2)  # finished: unchanged
    assert tasks["企业自评"].due_on == date(2026, 6, 15)  # anchored to the start
    assert manual.due_on == date(2026, 11, 20)  # not from the template
    services.update_plan(plan, started_on=date(2026, 6, 11))
    assert tasks["企业自评"].due_on == date(2026, 6, 25)


def test_template_tasks_get_dates_once_the_target_is_set(make_enterprise):
    plan = services.create_plan(make_enterprise(), goal="A", started_on=date(2026, 6, 1), template=make_template())
    tasks = {t.title: t for t in plan.tasks}
    assert tasks["预评估"].due_on is None
    services.update_plan(plan, target_application_on=date(2026, 12, 1))
    assert tasks["预评估"].due_on == date(2026, 11, 1)


def test_progress_and_overdue(make_enterprise):
    plan = services.create_plan(make_enterprise(), goal="A")
    today = date(2026, 6, 10)
    done = services.create_task(plan, title="done", due_on=date(2026, 6, 1))
    services.complete_task(done, on=date(2026, 6, 2))
    late = services.create_task(plan, title="late", due_on=date(2026, 6, 9))
    services.create_task(plan, title="today", due_on=today)
    services.create_task(plan, title="undated")
    progress = services.progress(plan, today)
    assert (progress.done, progress.total, progress.overdue, progress.percent) == (1, 4, 1, 25)
    assert services.is_overdue(late, today) and not services.is_overdue(done, today)


def test_update_task_status_sets_and_clears_the_completion_date(make_enterprise):
    plan = services.create_plan(make_enterprise(), goal="A")
    task = services.create_task(plan, title="t")
    services.update_task(task, status="done", completion_note="ok")
    assert task.completed_on == local_today() and task.completion_note == "ok"
    services.update_task(task, status="doing")
    assert task.completed_on is None and task.status is TaskStatus.DOING
    with pytest.raises(services.PlanError):
        services.update_task(task, title=" ")


def test_template_anchor_values():
    assert OffsetAnchor("target").label


def test_a_tasks_items_are_listed_by_number(make_enterprise, version):
    # Pages and the API list them as loaded: in the standard's order, not in the order they were linked.
    plan = services.create_plan(make_enterprise(), goal="A", target_application_on=local_today() + timedelta(days=90))
    by_number = {item.number: item for item in version.items}
    task = services.create_task(plan, title="内控制度", items=[by_number[50], by_number[9], by_number[13]])
    db.session.flush()
    db.session.expire(task)
    assert [item.number for item in task.items] == [9, 13, 50]
