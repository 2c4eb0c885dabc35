"""Event rules as plain functions: validation, invitations, seats and the waiting list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.auth.models import hash_token
from crm.core.models import utcnow
from crm.enterprises.models import Contact, ContactRole
from crm.events import services
from crm.events.models import EventKind, EventStatus, InvitationSource, RegistrationStatus
from crm.events.services import (
    Attendee,
    EventError,
    EventValidationError,
    EventValues,
    attendee_errors,
    normalise_mobile,
    register_attendee,
)
from crm.events.tokens import find_invitation, qr_svg
from crm.extensions import db
from crm.notifications.models import OutboxMessage
from tests.events.conftest import unit


def _values(**changes) -> EventValues:
    start = utcnow() + timedelta(days=3)
    values = {
        "title": "标准解读会",
        "kind": EventKind.STANDARD_INTERPRETATION,
        "starts_at": start,
        "ends_at": start + timedelta(hours=2),
        "organisers": [unit("commerce-350500")],
        "venue": "泉州",
    }
    return EventValues(**(values | changes))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"ends_at": "now"}, "ends_at"),
        ({"venue": "", "online_url": ""}, "venue"),
        ({"kind": EventKind.ONLINE_COURSE}, "online_url"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 5, "seats_per_enterprise": 6}, "seats_per_enterprise"),
        ({"registration_closes_at": "in ten days"}, "registration_closes_at"),
        ({"organisers": []}, "organisers"),
        ({"organisers": ["commerce-350100"]}, "organisers"),
    ],
)
def test_invalid_event_values_are_refused(make_user, changes, field):
    quanzhou = make_user("bureau", areas=["350500"])
    moments = {"now": utcnow(), "in ten days": utcnow() + timedelta(days=10)}
    changes = {key: moments.get(value, value) if isinstance(value, str) else value for key, value in changes.items()}
    if "organisers" in changes:
        changes["organisers"] = [unit(code) for code in changes["organisers"]]
    with pytest.raises(EventValidationError) as error:
        services.create_event(_values(**changes), by=quanzhou)
    assert field in error.value.fields


def test_a_provincial_unit_or_an_admin_may_organise_anywhere(make_user):
    quanzhou = make_user("bureau", areas=["350500"])
    assert services.create_event(_values(organisers=[unit("fj-commerce")]), by=quanzhou).status == EventStatus.DRAFT
    admin = make_user("admin")
    assert services.create_event(_values(organisers=[unit("commerce-350100")]), by=admin)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("138 0013 8000", "13800138000"), ("+86-13800138000", "13800138000"), ("１３８００１３８０００", "13800138000")],
)
def test_mobiles_are_normalised(raw, normalised):
    assert normalise_mobile(raw) == normalised
    assert attendee_errors(Attendee("王", "关务", raw)) == {}


@pytest.mark.parametrize("mobile", ["12800138000", "1380013800", "138001380001", "abc", ""])
def test_bad_mobiles_are_refused(mobile):
    assert "mobile" in attendee_errors(Attendee("王", "关务", mobile))


def test_invitations_stay_in_scope_and_email_the_customs_contact(make_user, make_event, make_enterprise):
    staff = make_user("bureau", areas=["350500"])
    event = make_event()
    mine = make_enterprise(area="350500")
    db.session.add_all(
        [
            Contact(
                enterprise_id=mine.id,
                name="张总",
                role=ContactRole.LEGAL_REPRESENTATIVE,
                email="boss@a.cn",
                is_primary=True,
            ),
            Contact(enterprise_id=mine.id, name="李关务", role=ContactRole.CUSTOMS_LEAD, email="customs@a.cn"),
        ]
    )
    no_email = make_enterprise(area="350500")
    outside = make_enterprise(area="350100")
    db.session.commit()
    # A cohort (or any list of ids) feeds the same service.
    result = services.invite_enterprises(
        event, [mine.id, no_email.id, outside.id, mine.id], by=staff, source=InvitationSource.COHORT
    )
    assert (result.created, result.emailed, result.without_email, result.out_of_scope) == (2, 1, 1, 1)
    invitation = result.issued[0].invitation
    assert invitation.email == "customs@a.cn" and invitation.source == InvitationSource.COHORT
    assert invitation.token_hash == hash_token(result.issued[0].token)
    assert find_invitation(result.issued[0].token) is invitation
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "customs@a.cn")).one()
    assert result.issued[0].token in mail.body_text and result.issued[0].token in (mail.body_html or "")
    again = services.invite_enterprises(event, [mine.id], by=staff)
    assert (again.created, again.already_invited) == (0, 1)


def test_only_published_future_events_take_invitations(make_user, make_event, make_enterprise):
    staff = make_user("bureau", areas=["350500"])
    enterprise = make_enterprise(area="350500")
    with pytest.raises(EventError):
        services.invite_enterprises(make_event(status=EventStatus.DRAFT), [enterprise.id], by=staff)
    with pytest.raises(EventError):
        services.invite_enterprises(
            make_event(starts_in=-timedelta(days=2), status=EventStatus.FINISHED), [enterprise.id], by=staff
        )


def test_seats_per_enterprise_and_duplicate_mobiles(make_event, make_enterprise, invite):
    event = make_event(seats_per_enterprise=1)
    invitation, _ = invite(event, make_enterprise(area="350500"))
    other, _ = invite(event, make_enterprise(area="350500"))
    register_attendee(invitation, Attendee("甲", "关务经理", "13800000001"))
    with pytest.raises(EventError):
        register_attendee(invitation, Attendee("乙", "关务经理", "13800000002"))
    with pytest.raises(EventValidationError) as error:
        register_attendee(other, Attendee("丙", "关务经理", "138 0000 0001"))
    assert "mobile" in error.value.fields


def test_the_waiting_list_is_first_come_first_served(make_event, make_enterprise, invite):
    event = make_event(capacity=2)
    invitation, _ = invite(event, make_enterprise(area="350500"))
    a, b, c, d = (
        register_attendee(invitation, Attendee(name, "关务经理", f"1380000000{n}"))
        for n, name in enumerate("甲乙丙丁", start=1)
    )
    assert [r.status for r in (a, b, c, d)] == [RegistrationStatus.REGISTERED] * 2 + [RegistrationStatus.WAITLISTED] * 2
    assert services.cancel_registration(b) == [c]
    assert c.status == RegistrationStatus.REGISTERED and d.status == RegistrationStatus.WAITLISTED
    # Cancelling a waiting attendee frees no seat.
    assert services.cancel_registration(d) == []


def test_an_enterprise_cannot_cancel_once_the_event_started(make_event, make_enterprise, invite):
    event = make_event(starts_in=timedelta(hours=1))
    invitation, _ = invite(event, make_enterprise(area="350500"))
    registration = register_attendee(invitation, Attendee("甲", "关务经理", "13800000001"))
    event.starts_at = utcnow() - timedelta(minutes=5)
    with pytest.raises(EventError):
        services.cancel_registration(registration)
    assert registration.status == RegistrationStatus.REGISTERED


def test_the_qr_code_escapes_the_attendee_name():
    svg = str(qr_svg("AEOEV1.1.1.X", title="<script>alert(1)</script>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "style=" not in svg
