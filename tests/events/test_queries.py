"""Read side: statistics, the idle pool list, and the entry points other features call."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template

from crm.core.models import utcnow
from crm.core.timeline import CalendarEntry, TimelineEntry
from crm.events import queries
from crm.events.models import EventStatus
from crm.events.services import Attendee, check_in, register_attendee
from crm.extensions import db


class _Staff:
    id = None


def _attend(event, invitation, name, mobile, *, checked_in=True):
    registration = register_attendee(invitation, Attendee(name, "关务经理", mobile), by=_Staff())
    if checked_in:
        check_in(registration, by=None)
    db.session.commit()
    return registration


def test_statistics_by_area_and_topic_in_scope(make_user, make_event, make_enterprise, invite, standard_items):
    held = make_event(
        starts_in=-timedelta(days=5),
        status=EventStatus.FINISHED,
        organisers=("fj-commerce",),
        topics=standard_items[:2],
    )
    upcoming = make_event(starts_in=timedelta(days=5), organisers=("fj-commerce",), topics=[standard_items[0]])
    make_event(starts_in=-timedelta(days=2), status=EventStatus.CANCELLED, organisers=("fj-commerce",))
    quanzhou = [make_enterprise(area="350500") for _ in range(3)]
    fuzhou = make_enterprise(area="350100")
    invitations = [invite(held, e)[0] for e in [*quanzhou, fuzhou]]
    _attend(held, invitations[0], "甲", "13800000001")
    _attend(held, invitations[1], "乙", "13800000002", checked_in=False)
    _attend(held, invitations[3], "丁", "13800000004")
    invite(upcoming, quanzhou[2])

    stats = queries.statistics(make_user("admin"))
    assert (stats.events_held, stats.events_upcoming) == (1, 1)
    assert (stats.totals.invited, stats.totals.registered, stats.totals.attended) == (4, 3, 2)
    by_area = {row.key.code: row for row in stats.by_area}
    assert (by_area["350500"].invited, by_area["350500"].registered, by_area["350500"].attended) == (3, 2, 1)
    assert (by_area["350100"].invited, by_area["350100"].attended) == (1, 1)
    by_topic = {row.key.id: row for row in stats.by_topic}
    assert by_topic[standard_items[0].id].events == 2 and by_topic[standard_items[0].id].invited == 3 + 1
    assert by_topic[standard_items[1].id].attended == 2
    assert {row.key.value for row in stats.by_kind} == {held.kind.value}

    # A Quanzhou user counts only Quanzhou enterprises.
    local = queries.statistics(make_user("bureau", areas=["350500"]))
    assert (local.totals.invited, local.totals.registered, local.totals.attended) == (3, 2, 1)
    assert [row.key.code for row in local.by_area] == ["350500"]


def test_pool_enterprises_without_attendance_in_six_months(make_user, make_event, make_enterprise, invite):
    attended_recently = make_enterprise(area="350500", stage="cultivating")
    attended_long_ago = make_enterprise(area="350500", stage="pooled")
    never = make_enterprise(area="350500", stage="ready")
    make_enterprise(area="350500", stage="candidate")  # not in the pool
    make_enterprise(area="350100", stage="pooled")  # outside the user's scope
    recent = make_event(starts_in=-timedelta(days=20), status=EventStatus.FINISHED)
    old = make_event(starts_in=-timedelta(days=250), status=EventStatus.FINISHED)
    _attend(recent, invite(recent, attended_recently)[0], "甲", "13800000001")
    registration = _attend(old, invite(old, attended_long_ago)[0], "乙", "13800000002", checked_in=False)
    registration.checked_in_at = old.starts_at
    db.session.commit()

    user = make_user("bureau", areas=["350500"])
    idle = db.session.scalars(queries.pooled_without_attendance(user)).all()
    assert {e.id for e in idle} == {attended_long_ago.id, never.id}
    last = queries.last_attendance([e.id for e in idle])
    assert last == {attended_long_ago.id: old.starts_at}


def test_timeline_entries_show_attendance_per_event(make_event, make_enterprise, invite):
    enterprise = make_enterprise(area="350500")
    first = make_event(title="第一期培训", starts_in=-timedelta(days=30), status=EventStatus.FINISHED)
    second = make_event(title="第二期培训", starts_in=-timedelta(days=3), status=EventStatus.FINISHED)
    skipped = make_event(title="未参加的培训", starts_in=-timedelta(days=10), status=EventStatus.FINISHED)
    invitation = invite(first, enterprise)[0]
    _attend(first, invitation, "甲", "13800000001")
    _attend(first, invitation, "乙", "13800000002")
    _attend(second, invite(second, enterprise)[0], "丙", "13800000003")
    _attend(skipped, invite(skipped, enterprise)[0], "丁", "13800000004", checked_in=False)

    entries = queries.timeline_entries(enterprise.id)
    assert all(isinstance(e, TimelineEntry) for e in entries)
    assert [e.kind for e in entries] == ["training", "training"]
    assert "第二期培训" in entries[0].title and "第一期培训" in entries[1].title
    assert "甲" in entries[1].body and "乙" in entries[1].body
    assert entries[0].url == f"/events/{second.id}"
    older = queries.timeline_entries(enterprise.id, before=entries[0].at)
    assert [e.title for e in older] == [entries[1].title]
    assert len(queries.timeline_entries(enterprise.id, limit=1)) == 1


def test_calendar_entries_follow_visibility_and_filters(make_user, make_event, make_enterprise, invite):
    now = utcnow()
    quanzhou_event = make_event(title="泉州培训", starts_in=timedelta(days=2))
    fuzhou_event = make_event(title="福州培训", starts_in=timedelta(days=3), organisers=("commerce-350100",))
    make_event(title="草稿", starts_in=timedelta(days=4), status=EventStatus.DRAFT)
    make_event(title="下月培训", starts_in=timedelta(days=60))
    invite(fuzhou_event, make_enterprise(area="350500"))  # a Quanzhou enterprise invited to a Fuzhou event
    user = make_user("bureau", areas=["350500"])

    entries = queries.calendar_entries(user, now, now + timedelta(days=30))
    assert all(isinstance(e, CalendarEntry) for e in entries)
    assert [e.title for e in entries] == ["泉州培训", "福州培训"]
    assert entries[0].uid == f"event-{quanzhou_event.id}" and entries[0].status == "planned"
    assert entries[0].location == quanzhou_event.venue
    xiamen_user = make_user("bureau", areas=["350200"])
    assert queries.calendar_entries(xiamen_user, now, now + timedelta(days=30)) == []
    admin = make_user("admin")
    by_area = queries.calendar_entries(admin, now, now + timedelta(days=30), area_code="350100")
    assert [e.title for e in by_area] == ["福州培训"]
    by_office = queries.calendar_entries(admin, now, now + timedelta(days=30), office_code="xm-quanzhou")
    assert by_office == []
    assert queries.calendar_entries(admin, now, now + timedelta(days=30), person_id=user.id) == []


def test_the_enterprise_section(app, make_user, make_event, make_enterprise, invite):
    enterprise = make_enterprise(area="350500")
    event = make_event(title="泉州培训", starts_in=-timedelta(hours=1))
    _attend(event, invite(event, enterprise)[0], "王小明", "13800000001")
    invite(make_event(title="全省宣讲", organisers=("fj-commerce",)), enterprise)
    context = queries.enterprise_section_context(enterprise, user=make_user("bureau", areas=["350500"]))
    section = context["events_section"]
    assert (section.invited, section.attended) == (2, 1)
    assert [row.event.title for row in section.rows] == ["全省宣讲", "泉州培训"]
    with app.test_request_context():
        html = render_template("events/_enterprise_section.html", **context)
    assert "王小明" in html and "泉州培训" in html


def test_reminder_helpers(make_user, make_event, make_enterprise, invite):
    creator = make_user("bureau", areas=["350500"], email="organiser@example.test")
    colleague = make_user("bureau", areas=["350500"])
    make_user("bureau", areas=["350200"])
    officer = make_user("customs", offices=["xiamen"])
    soon = make_event(starts_in=timedelta(days=3), organisers=("commerce-350500", "customs-xiamen"), created_by=creator)
    make_event(starts_in=timedelta(days=10))
    make_event(starts_in=timedelta(days=3, hours=1), status=EventStatus.CANCELLED)
    invitation, _ = invite(soon, make_enterprise(area="350500"), email="boss@jia.cn")
    seated = register_attendee(invitation, Attendee("甲", "关务经理", "13800000001", "jia@jia.cn"))
    db.session.commit()

    now = utcnow()
    assert db.session.scalars(queries.events_starting_between(now, now + timedelta(days=4))).all() == [soon]
    (batch,) = queries.reminder_batches(now + timedelta(days=2), now + timedelta(days=4))
    assert batch.event == soon and batch.attendees == [seated]
    assert queries.attendee_addresses(seated) == ["jia@jia.cn", "boss@jia.cn"]
    assert {u.id for u in batch.organisers} == {creator.id, colleague.id, officer.id}


def test_attendance_and_feedback_keep_one_order_across_pages(make_user, make_event, make_enterprise, invite):
    from crm.core.pagination import paginate
    from crm.events.models import Feedback

    event = make_event(starts_in=-timedelta(hours=1))
    enterprises = [make_enterprise(area="350500", name="同名培训企业") for _n in range(3)]
    moment = utcnow().replace(microsecond=0)
    feedback = []
    for n, enterprise in enumerate(enterprises):
        invitation = invite(event, enterprise)[0]
        _attend(event, invitation, f"参会人{n}", f"1380000000{n}")
        feedback.append(
            Feedback(
                event_id=event.id,
                invitation_id=invitation.id,
                enterprise_id=enterprise.id,
                rating_overall=5,
                rating_content=5,
                rating_organisation=5,
                updated_at=moment,
            )
        )
    db.session.add_all(feedback)
    db.session.flush()
    user = make_user("admin")
    attendance = queries.attendance_by_enterprise(event, user=user)
    rows = [paginate(attendance, page, 2, scalars=False).items for page in (1, 2)]
    assert [row.enterprise_id for page in rows for row in page] == [e.id for e in enterprises]
    pages = [paginate(queries.feedback_list(event, user=user), page, 2).items for page in (1, 2)]
    assert [f.id for page in pages for f in page] == [f.id for f in reversed(feedback)]


def test_statistics_are_cached_until_an_event_or_an_enterprise_changes(
    counts_cache, real_db, make_user, make_event, make_enterprise, invite, statements
):
    """The participation figures are kept in Redis; a check-in (the events' topic) counts them again, a visit
    (another topic) does not."""
    admin = make_user("admin")
    held = make_event(starts_in=-timedelta(days=5), status=EventStatus.FINISHED, organisers=("fj-commerce",))
    first, second = make_enterprise(), make_enterprise()
    _attend(held, invite(held, first)[0], "甲", "13800000001")
    waiting = _attend(held, invite(held, second)[0], "乙", "13800000002", checked_in=False)
    assert queries.statistics(admin).totals.attended == 1
    # A write the application does not see keeps the cached figures ...
    db.session.execute(db.text("UPDATE event_registrations SET checked_in_at = NULL"))
    db.session.flush()
    assert queries.statistics(admin).totals.attended == 1
    db.session.rollback()
    # ... a write to another topic keeps them too ...
    from crm.plans.models import Plan

    db.session.add(Plan(enterprise_id=first.id, goal="一企一策"))
    db.session.commit()
    statements.clear()
    assert queries.statistics(admin).totals.attended == 1
    assert not any("count(DISTINCT" in statement for statement in statements)
    # ... and a check-in through the application counts again.
    check_in(db.session.get(type(waiting), waiting.id), by=None)
    db.session.commit()
    stats = queries.statistics(admin)
    assert (stats.totals.invited, stats.totals.attended, stats.events_held) == (2, 2, 1)
