"""Each dashboard figure against hand-built data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm.core.timeutil import local_midnight
from crm.dashboard import queries
from crm.dashboard.charts import build_dashboard
from crm.dashboard.models import CertificationTarget
from crm.events.models import Event, EventKind, EventStatus, Invitation, Registration
from crm.extensions import db
from crm.plans.models import CultivationTask, Plan, TaskStatus
from crm.visits.models import Visit, VisitStatus
from tests.dashboard.conftest import YEAR, area_id, office_id, utc


@pytest.fixture
def manager(make_user):
    return make_user("manager")


def test_counts_by_stage_area_and_office(make_enterprise, manager, year_filter):
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    make_enterprise(area="350100", office="fz-fuqing", stage="cultivating")
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    make_enterprise(area="350500", office=None, stage="certified")

    counts = queries.enterprise_counts(year_filter(manager))

    assert counts.by_stage == {"pooled": 3, "cultivating": 1, "certified": 1}
    fuzhou, quanzhou = area_id("350100"), area_id("350500")
    assert counts.by_area_stage == {
        (fuzhou, "pooled"): 2,
        (fuzhou, "cultivating"): 1,
        (quanzhou, "pooled"): 1,
        (quanzhou, "certified"): 1,
    }
    assert counts.by_office_stage[(office_id("fz-mawei"), "pooled")] == 2
    assert counts.by_office_stage[(office_id("fz-fuqing"), "cultivating")] == 1
    assert counts.by_office_stage[(None, "certified")] == 1
    assert counts.total == 5


def test_narrowing_to_an_area_or_an_office(make_enterprise, manager, year_filter):
    make_enterprise(area="350100", office="fz-mawei", stage="pooled")
    make_enterprise(area="350100", office="fz-fuqing", stage="pooled")
    make_enterprise(area="350500", office="xm-quanzhou", stage="pooled")
    assert queries.enterprise_counts(year_filter(manager, area="350100")).total == 2
    assert queries.enterprise_counts(year_filter(manager, office="fz-fuqing")).total == 1


def test_monthly_entries_applications_and_certifications(make_enterprise, manager, year_filter, history):
    one, two = make_enterprise(), make_enterprise()
    history(one, None, "candidate", utc(YEAR, 1, 10))
    # 16:30 UTC on 31 January is 00:30 on 1 February in Shanghai: a February entry.
    history(two, None, "candidate", utc(YEAR, 1, 31, 16))
    history(one, "ready", "applied", utc(YEAR, 3, 5))
    history(one, "in_certification", "certified", utc(YEAR, 3, 20))
    history(two, "candidate", "pooled", utc(YEAR, 3, 21))  # neither an entry, an application nor a certification
    history(two, None, "candidate", utc(YEAR - 1, 12, 30))  # before the range

    series = queries.monthly_pipeline(year_filter(manager, end=date(YEAR, 4, 30)))

    assert series == {"entries": [1, 1, 0, 0], "applications": [0, 0, 1, 0], "certifications": [0, 0, 1, 0]}


def test_month_buckets_follow_local_months():
    assert queries.month_starts(date(2025, 11, 15), date(2026, 2, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


def test_certified_in_the_year_against_the_target(make_enterprise, manager, year_filter, history):
    fuzhou = area_id("350100")
    twice, once, last_year = make_enterprise(), make_enterprise(), make_enterprise()
    history(twice, "in_certification", "certified", utc(YEAR, 2, 1))
    history(twice, "certified", "not_passed", utc(YEAR, 5, 1))
    history(twice, "in_certification", "certified", utc(YEAR, 9, 1))
    history(once, "in_certification", "certified", utc(YEAR, 6, 1))
    history(last_year, "in_certification", "certified", utc(YEAR - 1, 6, 1))
    db.session.add(CertificationTarget(area_id=fuzhou, year=YEAR, target=5))
    db.session.add(CertificationTarget(area_id=fuzhou, year=YEAR - 1, target=9))
    db.session.commit()

    flt = year_filter(manager)
    assert queries.certified_by_area(flt) == {fuzhou: 2}
    chart = next(chart for chart in build_dashboard(flt).charts if chart.key == "targets")
    assert ["福州", 2, 5, "40%"] in chart.rows


def _stays(make_enterprise, history, stage: str, days: list[float]) -> None:
    """One enterprise per value: entered ``stage`` on 1 March and left it ``days`` later."""
    start = utc(YEAR, 3, 1)
    for value in days:
        enterprise = make_enterprise()
        history(enterprise, None, "candidate", start - timedelta(days=30))
        history(enterprise, "candidate", stage, start)
        history(enterprise, stage, "cultivating", start + timedelta(days=value))


def test_median_and_90th_percentile_on_a_known_distribution(make_enterprise, manager, year_filter, history):
    _stays(make_enterprise, history, "pooled", [7, 1, 10, 3, 5, 2, 9, 4, 8, 6])  # 1..10: 5.5 and 9.1
    _stays(make_enterprise, history, "ready", [10, 20, 30, 40, 50])  # odd: 30 and 46

    durations = {d.stage: d for d in queries.stage_durations(year_filter(manager))}

    assert (durations["pooled"].stays, durations["pooled"].median_days, durations["pooled"].p90_days) == (10, 5.5, 9.1)
    assert (durations["ready"].stays, durations["ready"].median_days, durations["ready"].p90_days) == (5, 30.0, 46.0)
    # The candidate stays (30 days each) ended on 1 March as well.
    assert durations["candidate"].median_days == 30.0 and durations["candidate"].stays == 15


def test_one_stay_is_its_own_median_and_percentile(make_enterprise, manager, year_filter, history):
    _stays(make_enterprise, history, "applied", [12])
    durations = {d.stage: d for d in queries.stage_durations(year_filter(manager))}
    assert (durations["applied"].median_days, durations["applied"].p90_days) == (12.0, 12.0)


def test_durations_cover_only_stays_ending_in_the_range(make_enterprise, manager, year_filter, history):
    _stays(make_enterprise, history, "pooled", [5])
    durations = queries.stage_durations(year_filter(manager, start=date(YEAR, 4, 1), end=date(YEAR, 12, 31)))
    assert durations == []


def test_stale_means_past_the_sla_without_a_stage_change_or_a_visit(make_enterprise, make_user, manager, year_filter):
    today = date(YEAR, 6, 30)
    long_ago = local_midnight(today - timedelta(days=40))  # pooled has a 30-day SLA
    stale = make_enterprise(stage="pooled", stage_entered_at=long_ago)
    visited = make_enterprise(stage="pooled", stage_entered_at=long_ago)
    make_enterprise(stage="pooled", stage_entered_at=local_midnight(today - timedelta(days=10)))
    make_enterprise(stage="certified", stage_entered_at=local_midnight(date(YEAR - 5, 1, 1)))  # no SLA
    officer = make_user("bureau", areas=["350100"])
    db.session.add(
        Visit(
            enterprise_id=visited.id,
            status=VisitStatus.DONE,
            starts_at=local_midnight(today - timedelta(days=5)),
            officer_id=officer.id,
        )
    )
    # A planned visit is no contact.
    db.session.add(
        Visit(
            enterprise_id=stale.id,
            status=VisitStatus.PLANNED,
            starts_at=local_midnight(today - timedelta(days=2)),
            officer_id=officer.id,
        )
    )
    db.session.commit()

    counts = queries.enterprise_counts(year_filter(manager), today=today)

    assert counts.stale_by_stage == {"pooled": 1, "certified": 0}


def test_overdue_tasks_per_area(make_enterprise, manager, year_filter):
    today = date(YEAR, 6, 30)
    fuzhou, quanzhou = make_enterprise(area="350100"), make_enterprise(area="350500", office="xm-quanzhou")
    for enterprise, due, status in [
        (fuzhou, today - timedelta(days=1), TaskStatus.TODO),
        (fuzhou, today - timedelta(days=9), TaskStatus.BLOCKED),
        (fuzhou, today - timedelta(days=9), TaskStatus.DONE),  # done: not overdue
        (fuzhou, today, TaskStatus.TODO),  # due today: not yet overdue
        (quanzhou, today - timedelta(days=3), TaskStatus.DOING),
        (quanzhou, None, TaskStatus.TODO),  # no due date
    ]:
        plan = Plan(enterprise_id=enterprise.id)
        db.session.add(plan)
        db.session.flush()
        db.session.add(
            CultivationTask(plan_id=plan.id, enterprise_id=enterprise.id, title="整改", due_on=due, status=status)
        )
    db.session.commit()

    overdue = queries.overdue_tasks_by_area(year_filter(manager), today=today)

    assert overdue == {area_id("350100"): 2, area_id("350500"): 1}


def test_visits_and_trainings_per_month(make_enterprise, make_user, manager, year_filter):
    enterprise = make_enterprise()
    officer = make_user("bureau", areas=["350100"])
    for status, at in [
        (VisitStatus.DONE, utc(YEAR, 1, 5)),
        (VisitStatus.DONE, utc(YEAR, 1, 25)),
        (VisitStatus.DONE, utc(YEAR, 3, 2)),
        (VisitStatus.PLANNED, utc(YEAR, 3, 9)),
        (VisitStatus.CANCELLED, utc(YEAR, 2, 9)),
    ]:
        db.session.add(Visit(enterprise_id=enterprise.id, status=status, starts_at=at, officer_id=officer.id))
    for number, (day, attendees) in enumerate([(utc(YEAR, 2, 10), 2), (utc(YEAR, 2, 20), 1), (utc(YEAR, 3, 1), 0)]):
        event = Event(
            title=f"培训{number}",
            kind=EventKind.WORKSHOP,
            status=EventStatus.FINISHED,
            starts_at=day,
            ends_at=day + timedelta(hours=2),
        )
        db.session.add(event)
        db.session.flush()
        invitation = Invitation(event_id=event.id, enterprise_id=enterprise.id, token_hash=f"{number:064d}")
        db.session.add(invitation)
        db.session.flush()
        for seat in range(2):
            db.session.add(
                Registration(
                    event_id=event.id,
                    invitation_id=invitation.id,
                    enterprise_id=enterprise.id,
                    name=f"学员{seat}",
                    mobile="13800000000",
                    checked_in_at=day if seat < attendees else None,
                )
            )
    db.session.commit()

    contacts = queries.monthly_contacts(year_filter(manager, end=date(YEAR, 3, 31)))

    assert contacts == {"visits": [2, 0, 1], "trainings": [0, 2, 0], "attendees": [0, 3, 0]}


def test_incentives_suspended_per_area(make_enterprise, manager, year_filter):
    make_enterprise(area="350100", stage="certified", incentives_suspended=True)
    make_enterprise(area="350100", stage="certified", incentives_suspended=False)
    make_enterprise(area="350500", office="xm-quanzhou", stage="certified", incentives_suspended=True)
    counts = queries.enterprise_counts(year_filter(manager))
    assert counts.suspended_by_area == {area_id("350100"): 1, area_id("350500"): 1}


def test_every_chart_has_a_table_matching_its_series(make_enterprise, manager, year_filter, history):
    enterprise = make_enterprise(stage="pooled")
    history(enterprise, None, "candidate", utc(YEAR, 2, 1))
    history(enterprise, "candidate", "pooled", utc(YEAR, 2, 11))
    dashboard = build_dashboard(year_filter(manager))
    keys = [chart.key for chart in dashboard.charts]
    assert keys == [
        "funnel",
        "areas",
        "offices",
        "targets",
        "trend",
        "durations",
        "stale",
        "overdue",
        "contacts",
        "suspended",
    ]
    charts = {chart.key: chart for chart in dashboard.charts}
    assert [row[1] for row in charts["funnel"].rows] == charts["funnel"].series[0][1]
    areas = charts["areas"]
    assert areas.rows[0][0] == "福州" and areas.rows[0][-1] == 1  # the total column
    assert [row[2:4] for row in charts["durations"].rows] == [[10.0, 10.0]]
    funnel = dashboard.charts_json()["funnel"]
    assert funnel["series"][0]["data"][funnel["categories"].index("入库培育")] == 1
