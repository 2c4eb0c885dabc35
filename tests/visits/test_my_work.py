"""My work: today's and this week's planned visits, planned visits not logged, overdue follow-ups, and the
enterprises assigned to me without a visit in N days (a setting)."""

from __future__ import annotations

import re
from datetime import time, timedelta

from crm.core.settings import set_setting
from crm.core.timeutil import local_today
from crm.extensions import db
from crm.plans.models import TaskStatus
from crm.plans.services import create_task
from crm.visits.models import VisitStatus
from crm.visits.queries import assigned_enterprises, count_unvisited, overdue_tasks, week_bounds


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<section", start)
    return page[start : end if end != -1 else len(page)]


def test_my_work_is_in_the_navigation(client, officer):
    client.login(officer)
    page = client.get("/my-work/").get_data(as_text=True)
    assert 'href="/my-work/"' in page and 'aria-current="page"' in page
    assert "我的工作" in page


def test_planned_visits_of_today_and_later_this_week(client, officer, make_user, make_enterprise, make_visit):
    today = local_today()
    monday, sunday = week_bounds(today)
    enterprise = make_enterprise(name="今日企业")
    other_officer = make_user("customs", offices=["fz-mawei"])
    today_visit = make_visit(enterprise, officer, day=today, at=time(23, 0), status=VisitStatus.PLANNED)
    make_visit(enterprise, other_officer, day=today, status=VisitStatus.PLANNED)  # not mine
    later = [
        make_visit(make_enterprise(name=f"本周企业{n}"), officer, day=day, status=VisitStatus.PLANNED)
        for n, day in enumerate(today + timedelta(days=d) for d in range(1, 7))
        if day <= sunday
    ]
    next_week = make_visit(
        make_enterprise(name="下周企业"), officer, day=sunday + timedelta(days=1), status=VisitStatus.PLANNED
    )
    client.login(officer)
    page = client.get("/my-work/").get_data(as_text=True)
    today_section = _section(page, "today")
    assert f'/visits/{today_visit.id}"' in today_section and f"/visits/{today_visit.id}/log" in today_section
    assert len(re.findall(r'href="/visits/\d+"', today_section)) == 1
    week_section = _section(page, "this-week")
    for visit in later:
        assert f'/visits/{visit.id}"' in week_section
    assert f'/visits/{next_week.id}"' not in page
    assert monday <= today <= sunday


def test_planned_visits_whose_day_passed_are_listed_to_log(client, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    missed = make_visit(enterprise, officer, day=local_today() - timedelta(days=2), status=VisitStatus.PLANNED)
    client.login(officer)
    section = _section(client.get("/my-work/").get_data(as_text=True), "not-logged")
    assert f"/visits/{missed.id}/log" in section


def test_overdue_follow_ups_are_my_open_tasks_past_due(client, officer, make_user, make_enterprise, make_plan):
    today = local_today()
    enterprise = make_enterprise(name="整改企业")
    plan = make_plan(enterprise)
    overdue = create_task(plan, title="修订内控制度", owner=officer, due_on=today - timedelta(days=3))
    create_task(plan, title="今天到期", owner=officer, due_on=today)
    done = create_task(plan, title="已完成的任务", owner=officer, due_on=today - timedelta(days=5))
    done.status = TaskStatus.DONE
    create_task(
        plan, title="别人的任务", owner=make_user("customs", offices=["fz-mawei"]), due_on=today - timedelta(days=9)
    )
    quanzhou_plan = make_plan(make_enterprise(area="350500", office="xm-quanzhou"))
    create_task(quanzhou_plan, title="管辖范围外", owner=officer, due_on=today - timedelta(days=9))
    db.session.commit()
    assert db.session.scalars(overdue_tasks(officer, today)).all() == [overdue]
    client.login(officer)
    section = _section(client.get("/my-work/").get_data(as_text=True), "overdue-follow-ups")
    assert "修订内控制度" in section and "整改企业" in section
    for title in ("今天到期", "已完成的任务", "别人的任务", "管辖范围外"):
        assert title not in section


def test_assigned_enterprises_without_a_visit_in_n_days(client, officer, make_user, make_enterprise, make_visit):
    today = local_today()
    never = make_enterprise(name="从未走访", stage="pooled", customs_officer_id=officer.id)
    stale = make_enterprise(name="很久未走访", stage="cultivating", customs_officer_id=officer.id)
    recent = make_enterprise(name="近期走访", stage="cultivating", commerce_officer_id=officer.id)
    planned_only = make_enterprise(name="只有计划", stage="ready", customs_officer_id=officer.id)
    make_enterprise(name="已退出", stage="withdrawn", customs_officer_id=officer.id)
    make_enterprise(
        name="别人的企业", stage="cultivating", customs_officer_id=make_user("customs", offices=["fz-mawei"]).id
    )
    make_visit(stale, officer, day=today - timedelta(days=61))
    make_visit(recent, officer, day=today - timedelta(days=59))
    make_visit(planned_only, officer, day=today + timedelta(days=2), status=VisitStatus.PLANNED)

    rows = db.session.execute(assigned_enterprises(officer)).all()
    # Never visited first, then the longest unvisited.
    assert [row[0].name for row in rows] == ["从未走访", "只有计划", "很久未走访", "近期走访"]
    by_name = {row[0].name: row for row in rows}
    assert by_name["只有计划"].next_visit_at is not None and by_name["只有计划"].last_visit_at is None
    assert by_name["很久未走访"].last_visit_at < by_name["近期走访"].last_visit_at
    unvisited = [row[0] for row in db.session.execute(assigned_enterprises(officer, unvisited_days=60))]
    assert {e.id for e in unvisited} == {never.id, stale.id, planned_only.id}
    assert count_unvisited(officer, 60) == 3
    assert count_unvisited(officer, 62) == 2  # the setting decides what "long" means

    client.login(officer)
    page = client.get("/my-work/").get_data(as_text=True)
    assert "超过 60 天未走访：3" in page
    section = _section(page, "my-enterprises")
    for enterprise in (never, stale, recent, planned_only):
        assert f'href="/enterprises/{enterprise.id}/visits/new"' in section
    assert "已退出" not in section and "别人的企业" not in section
    filtered = _section(client.get("/my-work/?unvisited=1").get_data(as_text=True), "my-enterprises")
    assert "近期走访" not in filtered and "很久未走访" in filtered

    set_setting("unvisited_days", 30)
    db.session.commit()
    page = client.get("/my-work/?unvisited=1").get_data(as_text=True)
    assert "超过 30 天未走访：4" in page and "近期走访" in _section(page, "my-enterprises")


def test_my_work_without_anything(client, make_user):
    viewer = make_user("viewer", areas=["350100"])
    client.login(viewer)
    page = client.get("/my-work/").get_data(as_text=True)
    assert "今天没有计划走访" in page and "暂无分配给您的企业" in page
    assert "/visits/new" not in page


def test_my_work_reads_a_fixed_number_of_statements(client, officer, make_enterprise, make_plan, statements):
    """No statement per row: the follow-ups' enterprises, the visits' people and the enterprises' areas and stages
    come with their lists, however many rows they hold."""
    today = local_today()

    def add_rows(n: int) -> None:
        for i in range(n):
            enterprise = make_enterprise()  # not assigned to the officer: not on their enterprise list
            create_task(make_plan(enterprise), title=f"任务{i}", owner=officer, due_on=today - timedelta(days=i + 1))
        db.session.commit()
        for row in list(db.session):  # the page loads its rows itself, as in a fresh request
            if row is not officer:
                db.session.expunge(row)

    client.login(officer)
    add_rows(1)
    statements.clear()
    assert client.get("/my-work/").status_code == 200
    few = len(statements)
    add_rows(6)
    statements.clear()
    page = client.get("/my-work/").get_data(as_text=True)
    assert len(statements) == few
    assert all(f"任务{i}" in _section(page, "overdue-follow-ups") for i in range(6))


def test_each_list_shows_its_first_rows_and_links_to_the_rest(
    monkeypatch, client, officer, make_enterprise, make_plan, make_visit
):
    from crm.visits import views

    monkeypatch.setattr(views, "MY_WORK_ROWS", 2)
    today = local_today()
    enterprise = make_enterprise(customs_officer_id=officer.id)
    missed = [
        make_visit(enterprise, officer, day=today - timedelta(days=d), status=VisitStatus.PLANNED) for d in (5, 4, 3)
    ]
    plan = make_plan(enterprise)
    for d in (2, 3):
        create_task(plan, title=f"逾期{d}", owner=officer, due_on=today - timedelta(days=d))
    db.session.commit()
    client.login(officer)
    page = client.get("/my-work/").get_data(as_text=True)
    not_logged = _section(page, "not-logged")
    assert f"/visits/{missed[0].id}/log" in not_logged and f"/visits/{missed[1].id}/log" in not_logged
    assert f"/visits/{missed[2].id}/log" not in not_logged
    assert "仅显示前 2 项" in not_logged
    link = re.search(r'href="(/visits/\?[^"]+)"[^>]*>仅显示前 2 项', not_logged).group(1).replace("&amp;", "&")
    listed = client.get(link).get_data(as_text=True)
    assert all(f"/visits/{v.id}" in listed for v in missed)
    # Two overdue follow-ups: the whole list fits, no link.
    assert "仅显示前" not in _section(page, "overdue-follow-ups")


def test_the_latest_visit_is_kept_on_the_enterprise(officer, make_user, make_enterprise, make_visit):
    from crm.enterprises.related import merge_enterprises
    from crm.visits.services import VisitData, cancel_visit, log_visit, update_visit

    def visit_data(visit, *, starts_at):
        return VisitData(
            status=visit.status, kind=visit.kind, starts_at=starts_at, officer=officer, participants=[officer]
        )

    today = local_today()
    enterprise = make_enterprise()
    assert enterprise.last_visit_at is None
    planned = make_visit(enterprise, officer, day=today + timedelta(days=3), status=VisitStatus.PLANNED)
    assert enterprise.last_visit_at is None  # a planned visit has not taken place
    old = make_visit(enterprise, officer, day=today - timedelta(days=40))
    assert enterprise.last_visit_at == old.starts_at
    newer = make_visit(enterprise, officer, day=today - timedelta(days=10), at=time(15, 0))
    assert enterprise.last_visit_at == newer.starts_at
    update_visit(newer, visit_data(newer, starts_at=old.starts_at - timedelta(days=1)), by=officer)
    db.session.commit()
    assert enterprise.last_visit_at == old.starts_at  # moved earlier: the other one is the latest now
    log_visit(planned, visit_data(planned, starts_at=newer.starts_at + timedelta(days=20)), by=officer)
    db.session.commit()
    assert enterprise.last_visit_at == planned.starts_at
    other = make_visit(enterprise, officer, day=today + timedelta(days=9), status=VisitStatus.PLANNED)
    cancel_visit(other, reason="改期")
    assert enterprise.last_visit_at == planned.starts_at

    absorbed = make_enterprise(name="重复记录")
    latest = make_visit(absorbed, officer, day=today)
    survivor_id = enterprise.id
    merge_enterprises(enterprise, absorbed, {}, by=make_user("admin"))
    db.session.commit()
    from crm.enterprises.models import Enterprise

    assert db.session.get(Enterprise, survivor_id).last_visit_at == latest.starts_at
