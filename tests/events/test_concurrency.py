"""Capacity under concurrency (PostgreSQL): the event row is locked, so racing registrations never overbook."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text

from crm.events.models import Invitation, Registration, RegistrationStatus
from crm.events.services import Attendee, cancel_registration, register_attendee
from crm.extensions import db


def _statuses(event_id: int) -> list[RegistrationStatus]:
    db.session.expire_all()
    return list(db.session.scalars(select(Registration.status).where(Registration.event_id == event_id)))


def _waiting_on_a_lock() -> int:
    # A fresh transaction each time: PostgreSQL keeps a transaction's first view of pg_stat_activity, so polling
    # inside one transaction would never see a backend that started waiting after the first poll.
    with db.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )


def test_two_registrations_race_for_the_last_seat(app, postgres, real_db, make_event, make_enterprise, invite):
    event = make_event(capacity=1)
    first, _ = invite(event, make_enterprise(area="350500"))
    second, _ = invite(event, make_enterprise(area="350500"))
    first_holds_the_seat = threading.Event()
    second_is_waiting = threading.Event()
    outcome: dict[str, RegistrationStatus] = {}
    errors: list[BaseException] = []

    def register(invitation_id: int, mobile: str, name: str, hold: bool) -> None:
        try:
            with app.app_context():
                invitation = db.session.get(Invitation, invitation_id)
                registration = register_attendee(invitation, Attendee(name, "关务经理", mobile))
                outcome[name] = registration.status
                if hold:
                    # Keep the transaction (and the lock) open until the other registration is blocked on it.
                    first_holds_the_seat.set()
                    second_is_waiting.wait(10)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    a = threading.Thread(target=register, args=(first.id, "13800000001", "first", True))
    a.start()
    assert first_holds_the_seat.wait(10)
    b = threading.Thread(target=register, args=(second.id, "13800000002", "second", False))
    b.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _waiting_on_a_lock():
        time.sleep(0.05)
    blocked = bool(_waiting_on_a_lock())
    second_is_waiting.set()
    a.join(15)
    b.join(15)
    assert not errors, errors
    assert blocked, "the second registration should wait for the first one's lock on the event"
    assert outcome == {"first": RegistrationStatus.REGISTERED, "second": RegistrationStatus.WAITLISTED}
    assert sorted(_statuses(event.id)) == sorted([RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED])


def test_many_simultaneous_registrations_fill_exactly_the_seats(
    app, postgres, real_db, make_event, make_enterprise, invite
):
    event = make_event(capacity=2)
    invitations = [invite(event, make_enterprise(area="350500"))[0].id for _ in range(6)]
    start = threading.Barrier(len(invitations))
    errors: list[BaseException] = []

    def register(index: int, invitation_id: int) -> None:
        try:
            with app.app_context():
                invitation = db.session.get(Invitation, invitation_id)
                start.wait(10)
                register_attendee(invitation, Attendee(f"参会人{index}", "关务专员", f"1380000{index:04d}"))
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i, inv)) for i, inv in enumerate(invitations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    statuses = _statuses(event.id)
    assert statuses.count(RegistrationStatus.REGISTERED) == 2
    assert statuses.count(RegistrationStatus.WAITLISTED) == 4


def test_a_cancellation_racing_a_registration_gives_the_seat_once(
    app, postgres, real_db, make_event, make_enterprise, invite
):
    event = make_event(capacity=1)
    holder_invitation, _ = invite(event, make_enterprise(area="350500"))
    waiting_invitation, _ = invite(event, make_enterprise(area="350500"))
    newcomer_invitation, _ = invite(event, make_enterprise(area="350500"))
    holder = register_attendee(holder_invitation, Attendee("甲", "关务经理", "13800000011"))
    waiting = register_attendee(waiting_invitation, Attendee("乙", "关务经理", "13800000012"))
    db.session.commit()
    assert waiting.status == RegistrationStatus.WAITLISTED
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def cancel() -> None:
        try:
            with app.app_context():
                registration = db.session.get(Registration, holder.id)
                start.wait(10)
                cancel_registration(registration)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    def newcomer() -> None:
        try:
            with app.app_context():
                invitation = db.session.get(Invitation, newcomer_invitation.id)
                start.wait(10)
                register_attendee(invitation, Attendee("丙", "关务经理", "13800000013"))
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cancel), threading.Thread(target=newcomer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    db.session.expire_all()
    registered = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == event.id, Registration.status == RegistrationStatus.REGISTERED
        )
    )
    assert registered == 1
    # The first in the waiting list got the freed seat, whichever thread ran first.
    assert db.session.get(Registration, waiting.id).status == RegistrationStatus.REGISTERED
