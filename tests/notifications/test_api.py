"""``/api/v1/notifications``: the caller's own notifications, with the same services as the web pages."""

from __future__ import annotations

from crm.core import jobs
from crm.extensions import db
from crm.notifications.services import notify


def send(user, title: str) -> None:
    notify(user, title, "正文", url="/enterprises/1")
    db.session.commit()
    jobs.dispatch_ready()


def test_list_count_and_mark_read(client, make_user, api_token):
    user = make_user("customs", offices=["fz-mawei"])
    other = make_user("customs", offices=["fz-mawei"])
    send(user, "第一条")
    send(user, "第二条")
    send(other, "别人的")
    headers = api_token(user)
    listing = client.get("/api/v1/notifications", headers=headers).json
    assert listing["total"] == 2 and [n["title"] for n in listing["items"]] == ["第二条", "第一条"]
    assert client.get("/api/v1/notifications/unread-count", headers=headers).json == {"unread": 2}
    first = listing["items"][1]["id"]
    marked = client.post(f"/api/v1/notifications/{first}/read", headers=headers)
    assert marked.status_code == 200 and marked.json["read_at"] is not None
    assert client.get("/api/v1/notifications?unread=1", headers=headers).json["total"] == 1
    assert client.post("/api/v1/notifications/read-all", headers=headers).json == {"marked": 1}
    assert client.get("/api/v1/notifications/unread-count", headers=headers).json == {"unread": 0}


def test_someone_elses_notification_answers_404(client, make_user, api_token):
    owner = make_user("bureau", areas=["350100"])
    send(owner, "提醒")
    listing = client.get("/api/v1/notifications", headers=api_token(owner)).json
    other_headers = api_token(make_user("bureau", areas=["350100"]))
    response = client.post(f"/api/v1/notifications/{listing['items'][0]['id']}/read", headers=other_headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/notifications?unread=maybe", headers=other_headers).status_code == 400
    assert client.get("/api/v1/notifications?unread=", headers=other_headers).status_code == 400


def test_the_api_needs_a_token_and_is_documented(client):
    assert client.get("/api/v1/notifications").status_code == 401
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/notifications", "/notifications/unread-count", "/notifications/read-all"} <= set(paths)
