"""Demo data: past events with attendance and feedback, upcoming ones with registrations and a waiting list."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.core.models import utcnow
from crm.demo.services import seed_demo
from crm.events.models import Event, EventStatus, Feedback, Invitation, Registration, RegistrationStatus
from crm.events.queries import statistics
from crm.extensions import db


def test_demo_seeds_past_and_upcoming_events(make_user, standard_items):
    seed_demo(enterprises=300, seed=9)
    events = db.session.scalars(select(Event)).all()
    now = utcnow()
    assert any(e.ends_at < now and e.status == EventStatus.FINISHED for e in events)
    assert any(e.starts_at > now and e.status == EventStatus.PUBLISHED for e in events)
    assert {EventStatus.DRAFT, EventStatus.CANCELLED} <= {e.status for e in events}
    assert any(e.topics for e in events)
    assert db.session.scalar(select(func.count(Invitation.id))) > 50
    checked_in = db.session.scalar(select(func.count(Registration.id)).where(Registration.checked_in_at.isnot(None)))
    assert checked_in > 20
    assert db.session.scalar(
        select(func.count(Registration.id)).where(Registration.status == RegistrationStatus.WAITLISTED)
    )
    assert db.session.scalar(select(func.count(Feedback.id))) > 0
    # Checked-in attendees only at events that have started; every registration belongs to its invitation's enterprise.
    for registration in db.session.scalars(select(Registration).where(Registration.checked_in_at.isnot(None))):
        assert registration.event.starts_at <= now
        assert registration.invitation.enterprise_id == registration.enterprise_id
    stats = statistics(make_user("admin"))
    assert stats.events_held >= 5 and stats.totals.attended > 0
    # New rows after the bulk inserts get fresh ids (sequences moved on PostgreSQL).
    db.session.add(Event(title="x", kind=events[0].kind, starts_at=now, ends_at=now))
    db.session.flush()


def test_events_volume_adds_a_series_after_the_catalogue_each_with_its_attendance():
    from crm.events.demo import CATALOGUE

    ctx = seed_demo(enterprises=200, seed=9, volumes={"events": 40})
    events = db.session.scalars(select(Event).order_by(Event.id)).all()
    assert len(events) == 40
    assert [e.title for e in events[: len(CATALOGUE)]] == [spec[0] for spec in CATALOGUE]
    series = events[len(CATALOGUE) :]
    assert len({e.title for e in series}) == len(series)
    now = utcnow()
    assert all(e.organisers for e in series)
    past = [e for e in series if e.ends_at < now]
    assert past and all(e.status == EventStatus.FINISHED for e in past)
    invited = db.session.scalars(select(Invitation).where(Invitation.event_id.in_([e.id for e in past]))).all()
    assert len(invited) >= 15 * len(past)
    assert all(ctx.first_enterprise_id <= i.enterprise_id <= ctx.last_enterprise_id for i in invited)
    attended = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id.in_([e.id for e in past]), Registration.checked_in_at.isnot(None)
        )
    )
    assert attended > 5 * len(past)


def test_an_events_volume_below_the_catalogue_takes_its_first_events():
    seed_demo(enterprises=100, seed=9, volumes={"events": 4})
    assert db.session.scalar(select(func.count(Event.id))) == 4
