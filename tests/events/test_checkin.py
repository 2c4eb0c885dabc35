"""Check-in: by QR payload, by name, in bulk; undo; attendance rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.events import services
from crm.events.models import CheckInMethod, EventStatus, RegistrationStatus
from crm.events.services import Attendee, EventError, check_in, check_in_by_payload, register_attendee, undo_check_in
from crm.events.tokens import checkin_payload, parse_checkin_payload
from crm.extensions import db


@pytest.fixture
def today_event(make_event, make_user):
    """A published event that started an hour ago, organised by 泉州市商务局."""
    return make_event(starts_in=-timedelta(hours=1), hours=4)


@pytest.fixture
def quanzhou_staff(make_user):
    return make_user("bureau", areas=["350500"])


class _Staff:
    """Registration by staff (allowed while the event runs); no user row is needed for it."""

    id = None


def _registered(event, invite, make_enterprise, name="王小明", mobile="13800138000", area="350500"):
    invitation, _token = invite(event, make_enterprise(area=area, office="xm-quanzhou" if area == "350500" else None))
    registration = register_attendee(invitation, Attendee(name, "关务经理", mobile), by=_Staff())
    db.session.commit()
    return registration


def test_the_qr_payload_is_signed_and_names_the_registration(today_event, invite, make_enterprise):
    registration = _registered(today_event, invite, make_enterprise)
    payload = checkin_payload(registration)
    assert payload.startswith("AEOEV1.")
    assert parse_checkin_payload(payload) == (today_event.id, registration.id)
    forged = payload.replace(f".{registration.id}.", f".{registration.id + 1}.")
    assert parse_checkin_payload(forged) is None
    assert parse_checkin_payload(payload[:-1] + ("A" if payload[-1] != "A" else "B")) is None
    assert parse_checkin_payload("https://example.com") is None


def test_check_in_by_qr_payload(today_event, invite, make_enterprise, quanzhou_staff):
    registration = _registered(today_event, invite, make_enterprise)
    outcome = check_in_by_payload(today_event, checkin_payload(registration), by=quanzhou_staff)
    assert outcome.status == "checked_in"
    assert registration.checked_in_at is not None
    assert registration.check_in_method == CheckInMethod.QR
    assert registration.checked_in_by_id == quanzhou_staff.id
    # Scanning the same code again is harmless.
    first_time = registration.checked_in_at
    again = check_in_by_payload(today_event, checkin_payload(registration), by=quanzhou_staff)
    assert again.status == "already" and registration.checked_in_at == first_time


def test_a_code_of_another_event_or_outside_the_scope_is_refused(
    today_event, make_event, invite, make_enterprise, quanzhou_staff, make_user
):
    other_event = make_event(starts_in=-timedelta(hours=1))
    elsewhere = _registered(other_event, invite, make_enterprise)
    with pytest.raises(EventError):
        check_in_by_payload(today_event, checkin_payload(elsewhere), by=quanzhou_staff)
    fuzhou_enterprise = _registered(today_event, invite, make_enterprise, mobile="13900000000", area="350100")
    with pytest.raises(EventError):
        check_in_by_payload(today_event, checkin_payload(fuzhou_enterprise), by=quanzhou_staff)
    with pytest.raises(EventError):
        check_in_by_payload(today_event, "AEOEV1.1.1.AAAAAAAAAAAAAAAAAAAAAAAAAA", by=quanzhou_staff)
    assert elsewhere.checked_in_at is None and fuzhou_enterprise.checked_in_at is None


def test_check_in_opens_on_the_day_of_the_event(make_event, invite, make_enterprise, quanzhou_staff):
    event = make_event(starts_in=timedelta(days=3))
    registration = _registered(event, invite, make_enterprise)
    with pytest.raises(EventError):
        check_in(registration, by=quanzhou_staff)
    assert registration.checked_in_at is None


def test_cancelled_registrations_and_cancelled_events_cannot_check_in(
    today_event, invite, make_enterprise, quanzhou_staff
):
    registration = _registered(today_event, invite, make_enterprise)
    services.cancel_registration(registration, by=quanzhou_staff)
    with pytest.raises(EventError):
        check_in(registration, by=quanzhou_staff)
    other = _registered(today_event, invite, make_enterprise, mobile="13900000000")
    today_event.status = EventStatus.CANCELLED
    with pytest.raises(EventError):
        check_in(other, by=quanzhou_staff)


def test_a_waitlisted_attendee_who_comes_is_admitted(make_event, invite, make_enterprise, quanzhou_staff):
    event = make_event(starts_in=timedelta(hours=2), capacity=1)
    _registered(event, invite, make_enterprise)
    waiting = _registered(event, invite, make_enterprise, mobile="13900000000")
    assert waiting.status == RegistrationStatus.WAITLISTED
    event.starts_at = event.starts_at - timedelta(hours=3)
    outcome = check_in(waiting, by=quanzhou_staff)
    assert outcome.admitted_from_waitlist and waiting.status == RegistrationStatus.REGISTERED


def test_undo_clears_the_check_in(today_event, invite, make_enterprise, quanzhou_staff):
    registration = _registered(today_event, invite, make_enterprise)
    check_in(registration, by=quanzhou_staff)
    undo_check_in(registration, by=quanzhou_staff)
    assert registration.checked_in_at is None and registration.check_in_method is None
    assert registration.status == RegistrationStatus.REGISTERED
    # It can be checked in again afterwards.
    assert check_in(registration, by=quanzhou_staff).status == "checked_in"


def test_the_scan_endpoint_answers_json(client, today_event, invite, make_enterprise, quanzhou_staff):
    registration = _registered(today_event, invite, make_enterprise)
    client.login(quanzhou_staff)
    url = f"/events/{today_event.id}/checkin/scan"
    headers = {"X-CSRFToken": client.csrf_token()}
    response = client.post(url, json={"payload": checkin_payload(registration)}, headers=headers)
    assert response.status_code == 200
    assert response.json["status"] == "checked_in" and response.json["registration"]["id"] == registration.id
    assert (
        client.post(url, json={"payload": checkin_payload(registration)}, headers=headers).json["status"] == "already"
    )
    bad = client.post(url, json={"payload": "nonsense"}, headers=headers)
    assert bad.status_code == 422 and bad.json["status"] == "error"
    # Without the CSRF header the request is refused.
    assert client.post(url, json={"payload": checkin_payload(registration)}).status_code == 400


def test_bulk_check_in_and_undo_from_the_list(client, today_event, invite, make_enterprise, quanzhou_staff):
    first = _registered(today_event, invite, make_enterprise)
    second = _registered(today_event, invite, make_enterprise, name="李四", mobile="13900000000")
    outside = _registered(today_event, invite, make_enterprise, mobile="13700000000", area="350100")
    client.login(quanzhou_staff)
    page = client.get(f"/events/{today_event.id}/checkin")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "王小明" in body and "李四" in body and outside.enterprise.name not in body

    response = client.post_form(
        f"/events/{today_event.id}/checkin", {"registration_ids": [first.id, second.id, outside.id]}
    )
    assert response.status_code == 302
    assert first.checked_in_at and second.checked_in_at
    assert first.check_in_method == CheckInMethod.BULK
    assert outside.checked_in_at is None  # outside the staff member's scope: ignored

    response = client.post_form(f"/events/{today_event.id}/registrations/{first.id}/undo-checkin")
    assert response.status_code == 302 and first.checked_in_at is None
    # Undo of a registration outside the scope answers 404.
    assert client.post_form(f"/events/{today_event.id}/registrations/{outside.id}/undo-checkin").status_code == 404


def test_check_in_by_name_search(client, today_event, invite, make_enterprise, quanzhou_staff):
    registration = _registered(today_event, invite, make_enterprise, name="欧阳娜")
    _registered(today_event, invite, make_enterprise, name="李四", mobile="13900000000")
    client.login(quanzhou_staff)
    body = client.get(f"/events/{today_event.id}/checkin?q=欧阳").get_data(as_text=True)
    assert "欧阳娜" in body and "李四" not in body
    client.post_form(f"/events/{today_event.id}/checkin", {"only": registration.id})
    assert registration.check_in_method == CheckInMethod.SEARCH
