"""The registration link: no login, one invitation per token, every field validated, nothing about others."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from limits import parse_many
from sqlalchemy import func, select

from crm.core.models import utcnow
from crm.core.permissions import public_link_limit
from crm.events.models import EventStatus, Registration, RegistrationStatus
from crm.extensions import db
from crm.notifications.models import OutboxMessage

ATTENDEE = {"attendee-name": "王小明", "attendee-role": "关务经理", "attendee-mobile": "138 0013 8000"}


def registrations(event) -> list[Registration]:
    return list(db.session.scalars(select(Registration).where(Registration.event_id == event.id)))


def emails_to(address: str) -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.to_address == address))


def test_a_valid_token_shows_the_event_and_registers_an_attendee(client, make_event, make_enterprise, invite):
    event = make_event(title="贸易安全专题培训")
    enterprise = make_enterprise(area="350500", office="xm-quanzhou", name="泉州甲进出口有限公司")
    invitation, token = invite(event, enterprise, email="guanwu@jia.example.cn")

    page = client.get(f"/e/{token}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "贸易安全专题培训" in body and "泉州甲进出口有限公司" in body
    assert page.headers["Cache-Control"] == "no-store"
    assert invitation.last_opened_at is not None

    response = client.post_form(f"/e/{token}/register", ATTENDEE | {"attendee-email": "wxm@jia.example.cn"})
    assert response.status_code == 302
    (registration,) = registrations(event)
    assert registration.status == RegistrationStatus.REGISTERED
    assert registration.mobile == "13800138000"
    assert registration.invitation_id == invitation.id and registration.registered_by_id is None
    assert response.headers["Location"].endswith(f"/e/{token}/registrations/{registration.id}")
    # The confirmation and its QR code go to the attendee and to the address the invitation went to.
    assert emails_to("wxm@jia.example.cn") == 1 and emails_to("guanwu@jia.example.cn") == 1

    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<svg" in confirmation and "王小明" in confirmation


def test_a_wrong_token_answers_a_clear_page_and_changes_nothing(client, make_event, make_enterprise, invite):
    event = make_event()
    invite(event, make_enterprise(area="350500"))
    for token in (secrets.token_urlsafe(32), "short", "x" * 43 + "'--"):
        response = client.get(f"/e/{token}")
        assert response.status_code == 404
        assert 'data-link-state="invalid"' in response.get_data(as_text=True)
    assert client.post_form(f"/e/{secrets.token_urlsafe(32)}/register", ATTENDEE).status_code == 404
    assert registrations(event) == []


def test_an_expired_token_answers_410(client, make_event, make_enterprise, invite):
    event = make_event(starts_in=-timedelta(days=45), status=EventStatus.FINISHED)
    _invitation, token = invite(event, make_enterprise(area="350500"))
    response = client.get(f"/e/{token}")
    assert response.status_code == 410
    assert 'data-link-state="expired"' in response.get_data(as_text=True)
    assert client.post_form(f"/e/{token}/register", ATTENDEE).status_code == 410
    assert registrations(event) == []


def test_the_link_keeps_working_after_the_event_for_feedback(client, make_event, make_enterprise, invite):
    event = make_event(starts_in=-timedelta(days=10), status=EventStatus.FINISHED)
    _invitation, token = invite(event, make_enterprise(area="350500"))
    assert client.get(f"/e/{token}").status_code == 200


def test_a_token_of_a_cancelled_event_says_so(client, make_event, make_enterprise, invite):
    event = make_event(title="泉州鞋服企业专题培训")
    _invitation, token = invite(event, make_enterprise(area="350500"))
    event.status = EventStatus.CANCELLED
    event.cancel_reason = "因台风延期"
    db.session.commit()
    response = client.get(f"/e/{token}")
    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert 'data-link-state="cancelled"' in body and "泉州鞋服企业专题培训" in body and "因台风延期" in body
    assert client.post_form(f"/e/{token}/register", ATTENDEE).status_code == 410
    assert registrations(event) == []


def test_a_withdrawn_invitation_or_a_replaced_link_no_longer_opens(client, make_event, make_enterprise, invite):
    from crm.events.services import reissue_link, revoke_invitation

    event = make_event()
    invitation, old_token = invite(event, make_enterprise(area="350500"))
    new_token = reissue_link(invitation, send_email=False)
    db.session.commit()
    assert client.get(f"/e/{old_token}").status_code == 404
    assert client.get(f"/e/{new_token}").status_code == 200
    revoke_invitation(invitation)
    db.session.commit()
    response = client.get(f"/e/{new_token}")
    assert response.status_code == 410 and 'data-link-state="revoked"' in response.get_data(as_text=True)


def test_every_field_is_validated(client, make_event, make_enterprise, invite):
    event = make_event()
    _invitation, token = invite(event, make_enterprise(area="350500"))
    bad = {"attendee-name": "", "attendee-role": "x" * 61, "attendee-mobile": "12345", "attendee-email": "not-an-email"}
    response = client.post_form(f"/e/{token}/register", bad)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.count("invalid-feedback") == 4
    assert registrations(event) == []
    # No CSRF token: refused.
    assert client.post(f"/e/{token}/register", data=ATTENDEE).status_code == 400
    assert registrations(event) == []


def test_registration_closes_at_its_deadline(client, make_event, make_enterprise, invite):
    event = make_event()
    event.registration_closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    _invitation, token = invite(event, make_enterprise(area="350500"))
    response = client.post_form(f"/e/{token}/register", ATTENDEE)
    assert response.status_code == 422
    assert registrations(event) == []


def test_the_page_reveals_nothing_about_other_enterprises(app, client, make_event, make_enterprise, invite):
    event = make_event(capacity=5)
    mine = make_enterprise(area="350500", name="泉州甲进出口有限公司")
    other = make_enterprise(area="350500", name="泉州乙贸易有限公司")
    _mine_invitation, my_token = invite(event, mine, email="a@jia.example.cn")
    _other_invitation, other_token = invite(event, other, email="b@yi.example.cn")
    other_browser = app.test_client()
    other_browser.post_form(
        f"/e/{other_token}/register",
        {"attendee-name": "李秘密", "attendee-role": "财务负责人", "attendee-mobile": "13912345678"},
    )
    (theirs,) = registrations(event)

    body = client.get(f"/e/{my_token}").get_data(as_text=True)
    for secret in ("泉州乙贸易有限公司", "李秘密", "13912345678", "1391", "b@yi.example.cn", other_token):
        assert secret not in body
    # Another enterprise's registration cannot be reached or cancelled through my link.
    assert client.get(f"/e/{my_token}/registrations/{theirs.id}").status_code == 404
    assert client.post_form(f"/e/{my_token}/registrations/{theirs.id}/cancel").status_code == 404
    assert client.get(f"/e/{my_token}/registrations/{theirs.id}/certificate.pdf").status_code == 404
    assert theirs.status == RegistrationStatus.REGISTERED
    # My own attendee list shows the mobile masked only.
    client.post_form(f"/e/{my_token}/register", ATTENDEE)
    body = client.get(f"/e/{my_token}").get_data(as_text=True)
    assert "138****8000" in body and "13800138000" not in body


def test_the_public_pages_are_rate_limited(client, make_event, make_enterprise, invite):
    event = make_event()
    _invitation, token = invite(event, make_enterprise(area="350500"))
    allowed = min(item.amount for item in parse_many(public_link_limit()))
    statuses = [client.get(f"/e/{token}").status_code for _ in range(allowed - 1)]
    statuses.append(client.get(f"/e/{secrets.token_urlsafe(32)}").status_code)  # wrong tokens spend the budget too
    assert statuses.count(200) == allowed - 1
    response = client.get(f"/e/{token}")
    assert response.status_code == 429
    assert client.post_form(f"/e/{token}/register", ATTENDEE).status_code == 429
    assert registrations(event) == []


def test_cancelling_through_the_link_moves_the_waiting_list_up(client, make_event, make_enterprise, invite):
    event = make_event(capacity=1)
    _a, token_a = invite(event, make_enterprise(area="350500"))
    _b, token_b = invite(event, make_enterprise(area="350500"))
    client.post_form(f"/e/{token_a}/register", ATTENDEE)
    client.post_form(
        f"/e/{token_b}/register",
        {
            "attendee-name": "陈候补",
            "attendee-role": "单证主管",
            "attendee-mobile": "13900001111",
            "attendee-email": "c@b.cn",
        },
    )
    first, second = sorted(registrations(event), key=lambda r: r.id)
    assert (first.status, second.status) == (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED)
    page = client.get(f"/e/{token_b}/registrations/{second.id}").get_data(as_text=True)
    assert "<svg" not in page  # no check-in code while waiting

    assert client.post_form(f"/e/{token_a}/registrations/{first.id}/cancel").status_code == 302
    assert first.status == RegistrationStatus.CANCELLED
    assert second.status == RegistrationStatus.REGISTERED and second.promoted_at is not None
    assert emails_to("c@b.cn") == 2  # waiting-list notice, then the seat with its QR code


def test_feedback_through_the_link_after_the_event_started(client, make_event, make_enterprise, invite):
    from crm.events.services import Attendee, register_attendee

    event = make_event(starts_in=timedelta(days=2))
    invitation, token = invite(event, make_enterprise(area="350500"))
    register_attendee(invitation, Attendee("王小明", "关务经理", "13800138000"))
    db.session.commit()
    form = {"feedback-rating_overall": "5", "feedback-rating_content": "4", "feedback-rating_organisation": "3"}
    assert client.post_form(f"/e/{token}/feedback", form).status_code == 422  # not started yet
    assert invitation.feedback is None

    event.starts_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert client.post_form(f"/e/{token}/feedback", form | {"feedback-rating_overall": "9"}).status_code == 422
    response = client.post_form(f"/e/{token}/feedback", form | {"feedback-comment": "讲解清晰"})
    assert response.status_code == 302
    feedback = invitation.feedback
    assert (feedback.rating_overall, feedback.rating_content, feedback.rating_organisation) == (5, 4, 3)
    assert feedback.comment == "讲解清晰"
    # Sending again updates the same answer.
    client.post_form(f"/e/{token}/feedback", form | {"feedback-rating_overall": "4"})
    assert invitation.feedback.rating_overall == 4


def test_materials_download_through_the_link(client, make_event, make_enterprise, invite):
    import io

    from werkzeug.datastructures import FileStorage

    from crm.events.services import add_material

    event = make_event()
    _invitation, token = invite(event, make_enterprise(area="350500"))
    stored = add_material(event, FileStorage(io.BytesIO(b"%PDF-1.4 test"), filename="课件.pdf"))
    db.session.commit()
    page = client.get(f"/e/{token}").get_data(as_text=True)
    assert re.search(rf"/e/{token}/materials/{stored.id}", page)
    response = client.get(f"/e/{token}/materials/{stored.id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    response.close()
