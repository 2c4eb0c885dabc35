"""The task and plan lists at scale: totals kept in Redis until the plans change, far pages read by id first."""

from datetime import date

from crm.core.pagination import paginate
from crm.extensions import db
from crm.plans import queries, services
from crm.plans.models import CultivationTask, Plan


def _plan_with_tasks(enterprise, count: int) -> Plan:
    plan = services.create_plan(enterprise, goal="一企一策", target_application_on=date(2027, 3, 1))
    for n in range(count):
        services.create_task(plan, title=f"任务{n:02d}", due_on=date(2026, 1, 1 + n % 3) if n % 4 else None)
    db.session.commit()
    return plan


def test_a_far_page_read_by_id_first_is_the_same_page(make_user, make_enterprise):
    _plan_with_tasks(make_enterprise(), 23)
    _plan_with_tasks(make_enterprise(area="350500", office="xm-quanzhou"), 7)
    for user in (make_user("manager"), make_user("bureau", areas=["350100"])):
        stmt = queries.task_list({}, user=user)
        for page in (1, 2, 3, 4, 9):
            by_offset = paginate(stmt, page, 7)
            by_id = paginate(stmt, page, 7, id_column=CultivationTask.id)
            assert [t.id for t in by_id.items] == [t.id for t in by_offset.items]
            assert by_id.total == by_offset.total
    plans = queries.plan_list({"status": "open"}, user=make_user("manager"))
    assert [p.id for p in paginate(plans, 2, 1, id_column=Plan.id).items] == [p.id for p in paginate(plans, 2, 1).items]


def test_the_task_lists_total_follows_the_tasks_and_is_kept_across_visits(
    counts_cache, real_db, client, make_user, make_enterprise, statements
):
    manager = make_user("manager")
    enterprise = make_enterprise()
    plan = _plan_with_tasks(enterprise, 3)
    client.login(manager)

    def counted() -> bool:
        return any("count(*)" in s.lower() and "FROM cultivation_tasks" in s for s in statements)

    assert "任务02" in client.get("/plans/tasks?status=").get_data(as_text=True)
    statements.clear()
    client.get("/plans/tasks?status=")
    assert not counted()  # kept in Redis
    # A visit is another topic: the total is kept.
    from crm.visits.models import Visit, VisitKind, VisitStatus

    db.session.add(
        Visit(
            enterprise_id=enterprise.id,
            officer_id=manager.id,
            status=VisitStatus.DONE,
            kind=VisitKind.ONSITE,
            starts_at=enterprise.created_at,
        )
    )
    db.session.commit()
    statements.clear()
    client.get("/plans/tasks?status=")
    assert not counted()
    # A task added through the application counts again (the task alone: its plan row is not written).
    db.session.add(
        CultivationTask(plan_id=plan.id, enterprise_id=enterprise.id, title="新增任务", due_on=date(2026, 1, 5))
    )
    db.session.commit()
    statements.clear()
    assert "新增任务" in client.get("/plans/tasks?status=").get_data(as_text=True)
    assert counted()
    assert paginate(queries.task_list({}, user=manager), 1, 50, topics=("plans", "enterprises")).total == 4
