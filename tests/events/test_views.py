"""Staff pages: who sees and manages which event, and the everyday flows (create, publish, invite, register)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.core.models import utcnow
from crm.core.timeutil import to_local
from crm.enterprises.models import Contact, ContactRole
from crm.events.models import Event, EventStatus, Invitation, InvitationSource, Registration, RegistrationStatus
from crm.events.services import Attendee, register_attendee
from crm.extensions import db
from crm.notifications.models import OutboxMessage


class _Staff:
    id = None


@pytest.fixture
def joint_event(make_event):
    """Organised by 泉州市商务局 and 厦门海关."""
    return make_event(title="泉州鞋服企业专题培训", organisers=("commerce-350500", "customs-xiamen"))


USERS = {
    "admin": ("admin", {}),
    "manager": ("manager", {}),
    "quanzhou_bureau": ("bureau", {"areas": ["350500"]}),
    "xiamen_bureau": ("bureau", {"areas": ["350200"]}),
    "quanzhou_customs": ("customs", {"offices": ["xm-quanzhou"]}),
    "fuzhou_customs": ("customs", {"offices": ["fuzhou"]}),
    "quanzhou_viewer": ("viewer", {"areas": ["350500"]}),
    "fuzhou_viewer": ("viewer", {"areas": ["350100"]}),
}


@pytest.mark.parametrize(
    ("who", "detail", "edit"),
    [
        ("admin", 200, 200),
        ("manager", 200, 403),
        ("quanzhou_bureau", 200, 200),
        ("xiamen_bureau", 404, 404),
        ("quanzhou_customs", 200, 200),
        ("fuzhou_customs", 404, 404),
        ("quanzhou_viewer", 200, 403),
        ("fuzhou_viewer", 404, 403),  # no edit permission at all: 403 whatever the event
    ],
)
def test_access_to_an_event_follows_the_organisers_jurisdiction(client, make_user, joint_event, who, detail, edit):
    role, scope = USERS[who]
    client.login(make_user(role, **scope))
    assert client.get(f"/events/{joint_event.id}").status_code == detail
    assert client.get(f"/events/{joint_event.id}/edit").status_code == edit
    assert client.get(f"/events/{joint_event.id}/checkin").status_code == edit
    listed = joint_event.title in client.get("/events/").get_data(as_text=True)
    assert listed == (detail == 200)


def test_a_city_sees_a_published_event_that_invited_its_enterprises_but_only_its_own(
    client, make_user, joint_event, make_enterprise, invite
):
    quanzhou = make_enterprise(area="350500", office="xm-quanzhou", name="泉州甲公司")
    xiamen = make_enterprise(area="350200", office="xm-dongdu", name="厦门乙公司")
    for enterprise, name, mobile in ((quanzhou, "泉州人", "13800000001"), (xiamen, "厦门人", "13800000002")):
        invitation, _ = invite(joint_event, enterprise)
        register_attendee(invitation, Attendee(name, "关务经理", mobile))
    db.session.commit()

    client.login(make_user("bureau", areas=["350200"]))
    assert client.get(f"/events/{joint_event.id}").status_code == 200
    assert client.get(f"/events/{joint_event.id}/edit").status_code == 403  # sees it, does not organise it
    for tab in ("invitations", "registrations", "attendance"):
        body = client.get(f"/events/{joint_event.id}?tab={tab}").get_data(as_text=True)
        assert "泉州甲公司" not in body and "泉州人" not in body
    assert "厦门人" in client.get(f"/events/{joint_event.id}?tab=registrations").get_data(as_text=True)
    quanzhou_registration = db.session.scalars(
        select(Registration).where(Registration.enterprise_id == quanzhou.id)
    ).one()
    url = f"/events/{joint_event.id}/registrations/{quanzhou_registration.id}/certificate.pdf"
    assert client.get(url).status_code == 404
    invitation_id = quanzhou_registration.invitation_id
    assert client.get(f"/events/{joint_event.id}/invitations/{invitation_id}").status_code == 404


def test_drafts_are_seen_by_their_organisers_only(client, make_user, make_event):
    draft = make_event(organisers=("fj-commerce",), status=EventStatus.DRAFT)
    published = make_event(organisers=("fj-commerce",), title="全省宣讲会")
    client.login(make_user("bureau", areas=["350200"]))
    assert client.get(f"/events/{draft.id}").status_code == 404
    assert client.get(f"/events/{published.id}").status_code == 200  # provincial: the whole province sees it
    assert client.get(f"/events/{published.id}/edit").status_code == 403  # but only its creator or admins manage it
    creator = make_user("bureau", areas=["350200"])
    draft.created_by_id = creator.id
    db.session.commit()
    client.login(creator)
    assert client.get(f"/events/{draft.id}/edit").status_code == 200


def test_staff_pages_render(client, make_user, joint_event, make_enterprise, invite, standard_items):
    admin = make_user("admin")
    enterprise = make_enterprise(area="350500")
    invitation, _ = invite(joint_event, enterprise)
    register_attendee(invitation, Attendee("王小明", "关务经理", "13800138000"))
    db.session.commit()
    client.login(admin)
    for url in [
        "/events/",
        "/events/?period=upcoming&status=published&kind=workshop",
        "/events/new",
        f"/events/{joint_event.id}",
        f"/events/{joint_event.id}?tab=invitations",
        f"/events/{joint_event.id}?tab=registrations",
        f"/events/{joint_event.id}?tab=attendance",
        f"/events/{joint_event.id}?tab=feedback",
        f"/events/{joint_event.id}/edit",
        f"/events/{joint_event.id}/invite",
        f"/events/{joint_event.id}/invite?areas=350500&stages=candidate",
        f"/events/{joint_event.id}/invitations/{invitation.id}",
        f"/events/{joint_event.id}/checkin",
        f"/events/{joint_event.id}/cancel",
        "/events/statistics",
        "/events/statistics?from=2026-01-01&to=2026-12-31",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "style=" not in response.get_data(as_text=True), url


def _form_time(delta: timedelta) -> str:
    return to_local(utcnow() + delta).strftime("%Y-%m-%dT%H:%M")


def test_create_publish_invite_and_register(client, make_user, make_enterprise, standard_items):
    staff = make_user("bureau", areas=["350500"])
    client.login(staff)
    form = client.get("/events/new").get_data(as_text=True)
    assert "泉州市商务局" in form  # the staff member's unit is offered and chosen by default

    from tests.events.conftest import unit

    data = {
        "title": "单证控制专题培训",
        "kind": "workshop",
        "organisers": [unit("commerce-350500").id],
        "starts_at": _form_time(timedelta(days=10)),
        "ends_at": _form_time(timedelta(days=9)),
        "venue": "泉州市商务局",
        "capacity": "30",
        "topics": [standard_items[1].id],
    }
    response = client.post_form("/events/new", data)
    assert response.status_code == 422  # ends before it starts
    assert db.session.scalar(select(func.count(Event.id))) == 0
    response = client.post_form("/events/new", data | {"ends_at": _form_time(timedelta(days=10, hours=3))})
    assert response.status_code == 302
    event = db.session.scalars(select(Event)).one()
    assert event.status == EventStatus.DRAFT and event.created_by_id == staff.id
    assert [t.id for t in event.topics] == [standard_items[1].id] and event.capacity == 30

    mine = make_enterprise(area="350500", office="xm-quanzhou", stage="pooled", name="泉州丙公司")
    db.session.add(Contact(enterprise_id=mine.id, name="赵关务", role=ContactRole.CUSTOMS_LEAD, email="zhao@bing.cn"))
    make_enterprise(area="350500", office="xm-quanzhou", stage="candidate")
    make_enterprise(area="350200", office="xm-dongdu", stage="pooled", name="厦门丁公司")
    db.session.commit()

    assert client.post_form(f"/events/{event.id}/invite/filter", {"stages": ["pooled"]}).status_code == 302
    assert db.session.scalar(select(func.count(Invitation.id))) == 0  # drafts take no invitations
    client.post_form(f"/events/{event.id}/publish")
    assert event.status == EventStatus.PUBLISHED

    preview = client.get(f"/events/{event.id}/invite?stages=pooled").get_data(as_text=True)
    assert "泉州丙公司" in preview and "厦门丁公司" not in preview
    client.post_form(f"/events/{event.id}/invite/filter", {"stages": ["pooled"]})
    invitation = db.session.scalars(select(Invitation)).one()
    assert invitation.enterprise_id == mine.id and invitation.source == InvitationSource.FILTER
    assert invitation.email == "zhao@bing.cn" and len(invitation.token_hash) == 64
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "zhao@bing.cn")).one()
    link = next(word for word in mail.body_text.split() if "/e/" in word)
    token = link.rsplit("/", 1)[-1]
    assert token not in invitation.token_hash and client.get(f"/e/{token}").status_code == 200

    response = client.post_form(
        f"/events/{event.id}/invitations/{invitation.id}/register",
        {"attendee-name": "赵关务", "attendee-role": "关务经理", "attendee-mobile": "+86 139 0000 1111"},
    )
    assert response.status_code == 302
    registration = db.session.scalars(select(Registration)).one()
    assert registration.mobile == "13900001111" and registration.registered_by_id == staff.id


def test_invite_one_shows_the_link_once(client, make_user, joint_event, make_enterprise):
    client.login(make_user("bureau", areas=["350500"]))
    enterprise = make_enterprise(area="350500", office="xm-quanzhou")
    response = client.post_form(f"/events/{joint_event.id}/invite/one", {"enterprise_id": enterprise.id})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    invitation = db.session.scalars(select(Invitation)).one()
    token = body.split("/e/", 1)[1].split('"', 1)[0]
    assert client.get(f"/e/{token}").status_code == 200
    # The invitation page never shows it again.
    assert token not in client.get(f"/events/{joint_event.id}/invitations/{invitation.id}").get_data(as_text=True)
    # An enterprise outside the staff member's scope cannot be invited.
    outside = make_enterprise(area="350100")
    assert client.post_form(f"/events/{joint_event.id}/invite/one", {"enterprise_id": outside.id}).status_code == 404


def test_cancelling_an_event_tells_the_attendees(client, make_user, joint_event, make_enterprise, invite):
    invitation, token = invite(joint_event, make_enterprise(area="350500"), email="boss@jia.cn")
    registration = register_attendee(invitation, Attendee("王小明", "关务经理", "13800138000", "wxm@jia.cn"))
    db.session.commit()
    client.login(make_user("bureau", areas=["350500"]))
    assert client.post_form(f"/events/{joint_event.id}/cancel", {"reason": ""}).status_code == 422
    response = client.post_form(f"/events/{joint_event.id}/cancel", {"reason": "因台风延期"})
    assert response.status_code == 302
    assert joint_event.status == EventStatus.CANCELLED and joint_event.cancel_reason == "因台风延期"
    subjects = db.session.scalars(
        select(OutboxMessage.subject).where(OutboxMessage.to_address.in_(["boss@jia.cn", "wxm@jia.cn"]))
    ).all()
    assert sum("因台风延期" in s or joint_event.title in s for s in subjects) >= 2
    assert registration.status == RegistrationStatus.REGISTERED  # kept for the record; the link says cancelled
    assert client.get(f"/e/{token}").status_code == 410


def test_a_larger_capacity_moves_the_waiting_list_up(client, make_user, make_event, make_enterprise, invite):
    event = make_event(capacity=1)
    first, _ = invite(event, make_enterprise(area="350500"))
    second, _ = invite(event, make_enterprise(area="350500"))
    register_attendee(first, Attendee("甲", "关务经理", "13800000001"))
    waiting = register_attendee(second, Attendee("乙", "关务经理", "13800000002"))
    db.session.commit()
    assert waiting.status == RegistrationStatus.WAITLISTED
    client.login(make_user("admin"))
    page = client.get(f"/events/{event.id}/edit").get_data(as_text=True)
    assert 'name="capacity"' in page
    from tests.events.conftest import unit

    data = {
        "title": event.title,
        "kind": event.kind.value,
        "organisers": [unit("commerce-350500").id],
        "starts_at": to_local(event.starts_at).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": to_local(event.ends_at).strftime("%Y-%m-%dT%H:%M"),
        "venue": event.venue,
        "capacity": "2",
    }
    assert client.post_form(f"/events/{event.id}/edit", data).status_code == 302
    assert waiting.status == RegistrationStatus.REGISTERED


def test_staff_register_walk_ins_after_registration_closed(client, make_user, make_event, make_enterprise, invite):
    event = make_event(starts_in=-timedelta(hours=1))
    invitation, _ = invite(event, make_enterprise(area="350500"))
    client.login(make_user("bureau", areas=["350500"]))
    response = client.post_form(
        f"/events/{event.id}/invitations/{invitation.id}/register",
        {"attendee-name": "临时参会", "attendee-role": "关务专员", "attendee-mobile": "13800000003"},
    )
    assert response.status_code == 302
    assert invitation.registrations[0].registered_by is not None


def test_withdrawing_an_invitation_frees_its_seats(client, make_user, make_event, make_enterprise, invite):
    event = make_event(capacity=1)
    first, token = invite(event, make_enterprise(area="350500"))
    second, _ = invite(event, make_enterprise(area="350500"))
    held = register_attendee(first, Attendee("甲", "关务经理", "13800000001"), by=_Staff())
    waiting = register_attendee(second, Attendee("乙", "关务经理", "13800000002"), by=_Staff())
    db.session.commit()
    client.login(make_user("bureau", areas=["350500"]))
    client.post_form(f"/events/{event.id}/invitations/{first.id}/revoke")
    assert first.is_revoked and held.status == RegistrationStatus.CANCELLED
    assert waiting.status == RegistrationStatus.REGISTERED
    assert client.get(f"/e/{token}").status_code == 410
