"""Training event reminders (rules ``event_3d`` and ``event_tomorrow``): the right local day, attendees by email,
organisers in the CRM, once."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import select

from crm.events.models import EventStatus, RegistrationStatus
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, ReminderStatus
from tests.notifications.conftest import (
    at,
    make_event,
    notifications_of,
    outbox_of,
    register,
    reminders_of,
    sweep,
)


def emails_to(address: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))


@pytest.fixture
def people(make_user, make_enterprise):
    """An event's creator, a Quanzhou organiser, an outsider, and an enterprise with two attendees."""
    creator = make_user("customs", offices=["xm-quanzhou"])
    organiser = make_user("bureau", areas=["350500"])
    outsider = make_user("bureau", areas=["350100"])
    admin = make_user("admin")
    enterprise = make_enterprise(area="350500", office="xm-quanzhou")
    return {"creator": creator, "organiser": organiser, "outsider": outsider, "admin": admin, "enterprise": enterprise}


@pytest.mark.parametrize(
    ("rule", "fire_day"),
    [("event_3d", date(2026, 3, 10)), ("event_tomorrow", date(2026, 3, 12))],
)
def test_event_rules_fire_at_local_midnight_of_their_day(people, rule, fire_day):
    # Starts at 00:30 on 13 March in Shanghai, which is still 12 March in UTC: the local date is the watched one.
    starts_at = at(2026, 3, 13, 0, 30)
    assert starts_at.astimezone(UTC).date() == date(2026, 3, 12)
    event = make_event(starts_at, created_by=people["creator"])
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"), ("陈经理", "chen@enterprise.test"))
    day_before = fire_day - timedelta(days=1)

    sweep(at(day_before.year, day_before.month, day_before.day, 23, 59), rule)
    assert reminders_of(rule) == []

    sweep(at(fire_day.year, fire_day.month, fire_day.day, 0, 1), rule)
    reminders = reminders_of(rule)
    assert {r.due_on for r in reminders} == {date(2026, 3, 13)} and {r.fires_on for r in reminders} == {fire_day}
    assert {r.status for r in reminders} == {ReminderStatus.SENT}
    assert {r.record_type for r in reminders} == {"events"} and {r.record_id for r in reminders} == {event.id}


def test_attendees_are_emailed_and_organisers_notified_in_the_crm(people, make_enterprise):
    event = make_event(at(2026, 3, 13, 14, 30), created_by=people["creator"])
    other = make_enterprise(area="350100")
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"), ("无邮箱", ""))
    register(event, other, ("王主管", "wang@other.test"))
    register(event, other, ("候补者", "waiting@other.test"), status=RegistrationStatus.WAITLISTED)
    register(event, other, ("已取消", "gone@other.test"), status=RegistrationStatus.CANCELLED)

    report = sweep(at(2026, 3, 12, 7), "event_tomorrow")
    assert report["rules"]["event_tomorrow"]["status"] == "ok"

    # Registered attendees with an address: one email each, nothing in-app, each reminder with its enterprise.
    for address, enterprise in (("lin@enterprise.test", people["enterprise"]), ("wang@other.test", other)):
        [message] = emails_to(address)
        assert message.channel == Channel.EMAIL and message.user_id is None
        assert "高级认证标准解读会" in message.subject and "明日" in message.subject
        assert "泉州市商务局多功能厅" in message.body_text and "14:30" in message.body_text
        [reminder] = [r for r in reminders_of("event_tomorrow") if r.to_address == address]
        assert reminder.enterprise_id == enterprise.id and reminder.user_id is None
    assert emails_to("waiting@other.test") == [] and emails_to("gone@other.test") == []

    # Organisers (the creator and the staff of the organising unit's area): in-app only, linking to the event.
    for user in (people["creator"], people["organiser"]):
        assert [m.channel for m in outbox_of(user)] == [Channel.IN_APP]
        [notification] = notifications_of(user)
        assert notification.url == f"/events/{event.id}"
    for user in (people["outsider"], people["admin"]):
        assert outbox_of(user) == []
    recipients = {r.user_id or r.to_address for r in reminders_of("event_tomorrow")}
    assert recipients == {people["creator"].id, people["organiser"].id, "lin@enterprise.test", "wang@other.test"}


def test_the_same_event_sweep_twice_sends_once(people):
    event = make_event(at(2026, 3, 13, 9), created_by=people["creator"])
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"))
    first = sweep(at(2026, 3, 10, 7), "event_3d")
    second = sweep(at(2026, 3, 10, 7), "event_3d")
    third = sweep(at(2026, 3, 11, 7), "event_3d")
    assert (first["sent"], second["sent"], third["sent"]) == (3, 0, 0)
    assert len(reminders_of("event_3d")) == 3
    assert len(emails_to("lin@enterprise.test")) == 1
    assert len(notifications_of(people["creator"])) == 1 and len(notifications_of(people["organiser"])) == 1


def test_a_moved_event_is_reminded_again_for_its_new_date(people):
    event = make_event(at(2026, 3, 13, 9), created_by=people["creator"])
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"))
    sweep(at(2026, 3, 12, 7), "event_tomorrow")
    event.starts_at, event.ends_at = at(2026, 3, 20, 9), at(2026, 3, 20, 12)
    db.session.commit()
    sweep(at(2026, 3, 19, 7), "event_tomorrow")
    assert len(emails_to("lin@enterprise.test")) == 2


def test_cancelled_events_are_not_reminded(people):
    event = make_event(at(2026, 3, 13, 9), created_by=people["creator"], status=EventStatus.CANCELLED)
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"))
    report = sweep(at(2026, 3, 12, 7), "event_tomorrow")
    assert report["rules"]["event_tomorrow"]["found"] == 0 and reminders_of("event_tomorrow") == []


def test_english_speaking_organisers_read_english(people, make_user):
    english = make_user("bureau", areas=["350500"], language="en")
    make_event(at(2026, 3, 13, 9), created_by=people["creator"])
    sweep(at(2026, 3, 12, 7), "event_tomorrow")
    [notification] = notifications_of(english)
    assert notification.title.startswith("[Event]") and "tomorrow" in notification.title


def test_a_missed_day_catches_up_the_day_before_reminder_but_not_the_3_day_one(people):
    event = make_event(at(2026, 3, 13, 9), created_by=people["creator"])
    register(event, people["enterprise"], ("林关务", "lin@enterprise.test"))
    # No sweep ran from 9 March on: on the morning of the event, "tomorrow" (31 hours ago) is still sent, and
    # "in 3 days" (79 hours ago) is recorded as skipped.
    sweep(at(2026, 3, 13, 7), "event_3d", "event_tomorrow")
    assert {r.status for r in reminders_of("event_tomorrow")} == {ReminderStatus.SENT}
    assert {r.status for r in reminders_of("event_3d")} == {ReminderStatus.SKIPPED}
    [message] = emails_to("lin@enterprise.test")
    assert "明日" in message.subject
