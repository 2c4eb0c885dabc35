"""What other features call: the enterprise page's section and timeline, the reminders' "planned visits between
X and Y", and the demo data."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from crm.core.timeline import TimelineEntry
from crm.core.timeutil import local_today
from crm.demo.services import seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.visits.models import Visit, VisitKind, VisitStatus, visit_participants
from crm.visits.queries import (
    enterprise_section_context,
    planned_visits_between,
    planned_visits_for,
    timeline_entries,
)
from crm.visits.services import VisitData, cancel_visit, create_visit, local_datetime


def test_timeline_entries_are_the_visits_that_happened_newest_first(officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    first = make_visit(enterprise, officer, day=date(2026, 3, 1), summary="首次走访")
    second = make_visit(enterprise, officer, day=date(2026, 4, 1), kind=VisitKind.PHONE)
    cancelled = make_visit(enterprise, officer, day=date(2026, 5, 1), status=VisitStatus.PLANNED)
    cancel_visit(cancelled, reason="企业停产")
    make_visit(enterprise, officer, day=local_today() + timedelta(days=3), status=VisitStatus.PLANNED)
    make_visit(make_enterprise(), officer, day=date(2026, 4, 2))  # another enterprise

    entries = timeline_entries(enterprise.id)
    assert all(isinstance(e, TimelineEntry) and e.kind == "visit" for e in entries)
    assert [e.url for e in entries] == [f"/visits/{v.id}" for v in (cancelled, second, first)]
    assert entries[2].body == "首次走访" and entries[2].author == str(officer) and entries[2].icon == "geo-alt"
    assert "林海关" in entries[1].title and entries[1].icon == "telephone"
    assert entries[0].body == "企业停产"
    assert [e.url for e in timeline_entries(enterprise.id, before=second.starts_at)] == [f"/visits/{first.id}"]
    assert len(timeline_entries(enterprise.id, limit=1)) == 1


def test_enterprise_section_context(app, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    done = [make_visit(enterprise, officer, day=local_today() - timedelta(days=n)) for n in range(1, 8)]
    planned = make_visit(enterprise, officer, day=local_today() + timedelta(days=2), status=VisitStatus.PLANNED)
    with app.test_request_context():
        from flask_login import login_user

        login_user(officer)
        context = enterprise_section_context(enterprise)
    section = context["visits_section"]
    assert set(context) == {"visits_section"}
    assert section["enterprise"] is enterprise
    assert section["planned"] == [planned]
    assert section["recent"] == done[:5]
    assert section["done_count"] == 7
    assert section["can_log"] is True
    assert section["log_url"] == f"/enterprises/{enterprise.id}/visits/new"


def test_the_section_picks_visits_of_one_time_as_the_visit_list_orders_them(app, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    yesterday, soon = local_today() - timedelta(days=1), local_today() + timedelta(days=2)
    done = [make_visit(enterprise, officer, day=yesterday) for _n in range(7)]
    planned = [make_visit(enterprise, officer, day=soon, status=VisitStatus.PLANNED) for _n in range(7)]
    with app.test_request_context():
        from flask_login import login_user

        login_user(officer)
        section = enterprise_section_context(enterprise)["visits_section"]
    assert section["recent"] == done[::-1][:5]  # newest first, then the latest recorded (the visit list's order)
    assert section["planned"] == planned[:5]


def test_planned_visits_between_for_reminders(officer, make_user, make_enterprise, make_visit):
    tomorrow = local_today() + timedelta(days=1)
    fuzhou, quanzhou = make_enterprise(), make_enterprise(area="350500", office="xm-quanzhou")
    morning = make_visit(fuzhou, officer, day=tomorrow, at=time(9, 0), status=VisitStatus.PLANNED)
    afternoon = make_visit(quanzhou, make_user("manager"), day=tomorrow, at=time(15, 0), status=VisitStatus.PLANNED)
    make_visit(fuzhou, officer, day=tomorrow + timedelta(days=1), status=VisitStatus.PLANNED)
    start, end = local_datetime(tomorrow, time(0, 0)), local_datetime(tomorrow + timedelta(days=1), time(0, 0))
    assert db.session.scalars(planned_visits_between(start, end)).all() == [morning, afternoon]
    assert db.session.scalars(planned_visits_for(officer, start, end)).all() == [morning]
    assert start.astimezone(UTC) < morning.starts_at < end


def test_the_demo_has_a_year_of_visits_across_officers():
    now = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    ctx = seed_demo(enterprises=150, seed=5, now=now)
    visits = db.session.scalars(select(Visit)).all()
    assert len(visits) > 150
    done = [v for v in visits if v.status == VisitStatus.DONE]
    assert min(v.starts_at for v in done) >= now - timedelta(days=366)
    assert max(v.starts_at for v in done) <= now
    assert any(v.status == VisitStatus.PLANNED and v.starts_at > now for v in visits)
    assert {v.kind for v in visits} == set(VisitKind)
    months = {(v.starts_at.year, v.starts_at.month) for v in done}
    assert len(months) >= 12
    officers = db.session.scalar(select(func.count(func.distinct(visit_participants.c.user_id))))
    assert officers >= 10
    assert all(v.officer_id in {u.id for u in v.participants} for v in visits)
    assert all(ctx.first_enterprise_id <= v.enterprise_id <= ctx.last_enterprise_id for v in visits)
    # New visits get fresh ids after the bulk insert (the PostgreSQL sequence was moved on).
    enterprise = db.session.get(Enterprise, ctx.first_enterprise_id)
    data = VisitData(
        status=VisitStatus.PLANNED,
        kind=VisitKind.PHONE,
        starts_at=now + timedelta(days=3),
        officer=ctx.users["admin"],
    )
    created = create_visit(enterprise, data).visit
    assert created.id > max(v.id for v in visits)
