"""The events API: /api/v1/events with invitations, registrations and attendance, within the caller's scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.core.models import utcnow
from crm.events.models import Event, EventStatus, RegistrationStatus
from crm.events.services import Attendee, register_attendee
from crm.events.tokens import checkin_payload
from crm.extensions import db


def _iso(delta: timedelta) -> str:
    return (utcnow() + delta).replace(microsecond=0).isoformat()


@pytest.fixture
def quanzhou(make_user, api_token):
    user = make_user("bureau", areas=["350500"])
    return user, api_token(user)


def test_create_list_get_and_patch(client, quanzhou, standard_items):
    _user, headers = quanzhou
    body = {
        "title": "单证控制专题培训",
        "kind": "workshop",
        "starts_at": _iso(timedelta(days=5)),
        "ends_at": _iso(timedelta(days=5, hours=3)),
        "venue": "泉州市商务局",
        "capacity": 40,
        "organisers": ["commerce-350500"],
        "topics": [standard_items[0].id],
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.json
    event = response.json
    assert event["status"] == "draft" and event["organisers"] == ["commerce-350500"]
    assert event["topics"][0]["id"] == standard_items[0].id and event["counts"]["invited"] == 0

    listing = client.get("/api/v1/events?status=draft", headers=headers).json
    assert listing["total"] == 1 and listing["items"][0]["id"] == event["id"]
    assert client.get(f"/api/v1/events/{event['id']}", headers=headers).json["title"] == "单证控制专题培训"

    patched = client.patch(
        f"/api/v1/events/{event['id']}", json={"capacity": 50, "status": "published"}, headers=headers
    )
    assert patched.status_code == 200
    assert patched.json["capacity"] == 50 and patched.json["status"] == "published"
    conflict = client.patch(f"/api/v1/events/{event['id']}", json={"status": "published"}, headers=headers)
    assert conflict.status_code == 200  # already published: nothing to do
    cancelled = client.patch(f"/api/v1/events/{event['id']}", json={"status": "cancelled"}, headers=headers)
    assert cancelled.status_code == 422 and "reason" in cancelled.json["error"]["fields"]


def test_invalid_bodies_answer_422_and_change_nothing(client, quanzhou):
    _user, headers = quanzhou
    response = client.post(
        "/api/v1/events",
        json={
            "title": "",
            "kind": "party",
            "starts_at": "tomorrow",
            "ends_at": _iso(timedelta(days=1)),
            "organisers": ["nope"],
            "capacity": "many",
        },
        headers=headers,
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) >= {"kind", "starts_at", "organisers", "capacity"}
    response = client.post(
        "/api/v1/events",
        json={
            "title": "福州的活动",
            "kind": "salon",
            "starts_at": _iso(timedelta(days=2)),
            "ends_at": _iso(timedelta(days=2, hours=2)),
            "venue": "福州",
            "organisers": ["commerce-350100"],
        },
        headers=headers,
    )
    assert response.status_code == 422 and "organisers" in response.json["error"]["fields"]
    assert db.session.query(Event).count() == 0


def test_scope_on_the_api(client, make_user, api_token, make_event, make_enterprise, invite):
    event = make_event(organisers=("commerce-350500",))
    xiamen = api_token(make_user("bureau", areas=["350200"]))
    viewer = api_token(make_user("viewer", areas=["350500"]))
    assert client.get(f"/api/v1/events/{event.id}", headers=xiamen).status_code == 404
    assert client.get(f"/api/v1/events/{event.id}/registrations", headers=xiamen).status_code == 404
    assert client.get("/api/v1/events", headers=xiamen).json["total"] == 0
    assert client.get(f"/api/v1/events/{event.id}", headers=viewer).status_code == 200
    assert client.patch(f"/api/v1/events/{event.id}", json={"capacity": 3}, headers=viewer).status_code == 403
    assert client.get(f"/api/v1/events/{event.id}").status_code == 401


def test_invitations_registrations_and_attendance(client, quanzhou, make_event, make_enterprise):
    _user, headers = quanzhou
    event = make_event(starts_in=-timedelta(hours=1), capacity=1)
    mine = make_enterprise(area="350500", office="xm-quanzhou")
    other = make_enterprise(area="350500", office="xm-quanzhou")
    outside = make_enterprise(area="350100")
    response = client.post(
        f"/api/v1/events/{event.id}/invitations",
        json={"enterprise_ids": [mine.id, outside.id], "source": "cohort", "send_email": False},
        headers=headers,
    )
    assert response.status_code == 201
    assert (response.json["created"], response.json["out_of_scope"]) == (1, 1)
    link = response.json["invitations"][0]["registration_url"]
    assert "/e/" in link and response.json["invitations"][0]["source"] == "cohort"
    assert client.get(f"/api/v1/events/{event.id}/invitations", headers=headers).json["total"] == 1

    attendee = {"name": "王小明", "role": "关务经理", "mobile": "13800138000"}
    response = client.post(
        f"/api/v1/events/{event.id}/registrations", json=attendee | {"enterprise_id": mine.id}, headers=headers
    )
    assert response.status_code == 201 and response.json["status"] == "registered"
    registration_id = response.json["id"]
    # An enterprise not invited yet is invited by a direct registration; the event is full, so it waits.
    response = client.post(
        f"/api/v1/events/{event.id}/registrations",
        json={"enterprise_id": other.id, "name": "李四", "role": "单证主管", "mobile": "13900000000"},
        headers=headers,
    )
    assert response.status_code == 201 and response.json["status"] == "waitlisted"
    bad = client.post(
        f"/api/v1/events/{event.id}/registrations",
        json={"enterprise_id": mine.id, "name": "", "role": "x", "mobile": "123"},
        headers=headers,
    )
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"name", "mobile"}
    duplicate = client.post(
        f"/api/v1/events/{event.id}/registrations", json=attendee | {"enterprise_id": mine.id}, headers=headers
    )
    assert duplicate.status_code == 422 and "mobile" in duplicate.json["error"]["fields"]
    assert (
        client.post(
            f"/api/v1/events/{event.id}/registrations", json=attendee | {"enterprise_id": outside.id}, headers=headers
        ).status_code
        == 404
    )

    from crm.events.models import Registration

    registration = db.session.get(Registration, registration_id)
    checked = client.post(
        f"/api/v1/events/{event.id}/attendance", json={"payload": checkin_payload(registration)}, headers=headers
    )
    assert checked.status_code == 200 and checked.json["items"][0]["status"] == "checked_in"
    attendance = client.get(f"/api/v1/events/{event.id}/attendance", headers=headers).json
    row = next(item for item in attendance["items"] if item["enterprise_id"] == mine.id)
    assert row["attended"] == 1 and row["first_check_in"]
    undone = client.delete(f"/api/v1/events/{event.id}/attendance/{registration_id}", headers=headers)
    assert undone.status_code == 200 and undone.json["checked_in_at"] is None
    bulk = client.post(
        f"/api/v1/events/{event.id}/attendance", json={"registration_ids": [registration_id]}, headers=headers
    )
    assert bulk.json["items"][0]["registration"]["check_in_method"] == "api"

    listing = client.get(f"/api/v1/events/{event.id}/registrations?status=waitlisted", headers=headers).json
    assert [r["name"] for r in listing["items"]] == ["李四"]


def test_cancel_through_the_api_moves_the_waiting_list(client, quanzhou, make_event, make_enterprise, invite):
    _user, headers = quanzhou
    event = make_event(capacity=1)
    first, _ = invite(event, make_enterprise(area="350500"))
    second, _ = invite(event, make_enterprise(area="350500"))
    held = register_attendee(first, Attendee("甲", "关务经理", "13800000001"))
    waiting = register_attendee(second, Attendee("乙", "关务经理", "13800000002"))
    db.session.commit()
    response = client.post(f"/api/v1/events/{event.id}/registrations/{held.id}/cancel", headers=headers)
    assert response.status_code == 200 and response.json["promoted"] == [waiting.id]
    assert waiting.status == RegistrationStatus.REGISTERED


def test_statistics_endpoint(client, quanzhou, make_event):
    _user, headers = quanzhou
    make_event(starts_in=-timedelta(days=3), status=EventStatus.FINISHED)
    body = client.get("/api/v1/events/statistics", headers=headers).json
    assert body["events_held"] == 1
    assert client.get("/api/v1/events/statistics?from=bad", headers=headers).status_code == 422


def test_every_events_route_is_described(app):
    import re

    from crm.api.openapi import build_document

    paths = build_document()["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/events"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {path}"


def test_odd_input_is_refused_clearly(client, quanzhou, make_event, make_enterprise):
    _user, headers = quanzhou
    event = make_event(organisers=("commerce-350500",))
    url = f"/api/v1/events/{event.id}"
    for body, field in (
        ({"status": None}, "status"),
        ({"status": "draft"}, "status"),
        ({"status": {}}, "status"),
        ({"cancel_reason": 5, "status": "cancelled"}, "cancel_reason"),
        ({"capacity": 2**40}, "capacity"),
        ({"topics": [2**40]}, "topics"),
        ({"registration_closes_at": "soon"}, "registration_closes_at"),
        ({"starts_at": "0001-01-01T00:00:00+08:00"}, "starts_at"),
    ):
        response = client.patch(url, json=body, headers=headers)
        assert response.status_code == 422 and field in response.json["error"]["fields"], body
    invite = client.post(f"{url}/invitations", json={"enterprise_ids": [1], "source": {}}, headers=headers)
    assert invite.status_code == 422 and "source" in invite.json["error"]["fields"]
    for query in ("status=", "status=gone", "status=registered&status=cancelled"):
        response = client.get(f"{url}/registrations?{query}", headers=headers)
        assert response.status_code == 422, query
    assert client.get(f"{url}/invitations?state=", headers=headers).status_code == 422
    assert client.get("/api/v1/events?to=", headers=headers).status_code == 422
    assert client.get("/api/v1/events?period=later", headers=headers).status_code == 422


def test_whole_numbers_may_be_written_with_a_decimal_point(client, quanzhou, make_event, make_enterprise):
    _user, headers = quanzhou
    event = make_event(organisers=("commerce-350500",))
    enterprise = make_enterprise(area="350500")
    response = client.post(
        f"/api/v1/events/{event.id}/invitations",
        json={"enterprise_ids": [float(enterprise.id)], "send_email": False},
        headers=headers,
    )
    assert response.status_code == 201 and response.json["created"] == 1
    patched = client.patch(f"/api/v1/events/{event.id}", json={"capacity": 30.0}, headers=headers)
    assert patched.status_code == 200 and patched.json["capacity"] == 30
