"""The in-app notification centre: unread count in the navigation, the list, mark read, and the link to the record."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.core import jobs
from crm.extensions import db
from crm.notifications.models import EmailMode, Notification, NotificationPreference
from crm.notifications.services import email_mode, notify


def send(user, title: str, url: str | None = None) -> Notification:
    notify(user, title, "正文", url=url)
    db.session.commit()
    jobs.dispatch_ready()
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id.desc())
    ).first()


def test_unread_count_shows_in_the_navigation(client, make_user):
    user = make_user("bureau", areas=["350100"])
    client.login(user)
    assert "data-unread-count" not in client.get("/").get_data(as_text=True)
    send(user, "任务即将到期")
    send(user, "企业超过阶段时限")
    body = client.get("/").get_data(as_text=True)
    assert "data-unread-count>2<" in body


def test_the_centre_lists_unread_then_all(client, make_user):
    user = make_user("bureau", areas=["350100"])
    other = make_user("bureau", areas=["350100"])
    send(user, "任务即将到期")
    send(other, "别人的提醒")
    read = send(user, "已读的提醒")
    client.login(user)
    client.post_form(f"/notifications/{read.id}/read")
    unread_page = client.get("/notifications/").get_data(as_text=True)
    assert "任务即将到期" in unread_page and "已读的提醒" not in unread_page and "别人的提醒" not in unread_page
    all_page = client.get("/notifications/?show=all").get_data(as_text=True)
    assert "任务即将到期" in all_page and "已读的提醒" in all_page and "别人的提醒" not in all_page


def test_mark_all_read(client, make_user):
    user = make_user("customs", offices=["fz-mawei"])
    for n in range(3):
        send(user, f"提醒{n}")
    client.login(user)
    response = client.post_form("/notifications/read-all")
    assert response.status_code == 302
    assert (
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        ).all()
        == []
    )
    assert "您没有未读通知" in client.get("/notifications/").get_data(as_text=True)


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, make_user, make_enterprise):
    user = make_user("bureau", areas=["350100"])
    enterprise = make_enterprise()
    notification = send(user, "企业超过阶段时限", url=f"/enterprises/{enterprise.id}")
    client.login(user)
    response = client.get(f"/notifications/{notification.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/enterprises/{enterprise.id}")
    assert notification.read_at is not None
    assert client.get(f"/enterprises/{enterprise.id}").status_code == 200


def test_a_link_to_a_record_out_of_scope_answers_404(client, make_user, make_enterprise):
    user = make_user("bureau", areas=["350500"])
    enterprise = make_enterprise(area="350100")
    notification = send(user, "旧的提醒", url=f"/enterprises/{enterprise.id}")
    client.login(user)
    assert client.get(f"/notifications/{notification.id}", follow_redirects=True).status_code == 404


def test_someone_elses_notification_answers_404(client, make_user):
    owner = make_user("bureau", areas=["350100"])
    notification = send(owner, "提醒")
    client.login(make_user("bureau", areas=["350100"]))
    assert client.get(f"/notifications/{notification.id}").status_code == 404
    assert client.post_form(f"/notifications/{notification.id}/read").status_code == 404
    assert notification.read_at is None


def test_an_external_link_is_not_followed(client, make_user):
    user = make_user("bureau", areas=["350100"])
    notification = send(user, "提醒", url="https://evil.example/")
    client.login(user)
    response = client.get(f"/notifications/{notification.id}")
    assert response.headers["Location"].endswith("/notifications/")


def test_the_centre_needs_a_login(client):
    assert "/login" in client.get("/notifications/").headers["Location"]


def test_the_digest_preference_is_on_the_profile(client, make_user):
    user = make_user("bureau", areas=["350100"])
    client.login(user)
    page = client.get("/profile").get_data(as_text=True)
    assert 'name="notify-email_mode"' in page and "每日汇总" in page
    response = client.post_form("/notifications/preferences", {"notify-email_mode": "digest"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile")
    assert email_mode(user) == EmailMode.DIGEST
    assert re.search(r'<input checked[^>]*value="digest"', client.get("/profile").get_data(as_text=True))
    client.post_form("/notifications/preferences", {"notify-email_mode": "nonsense"})
    assert db.session.get(NotificationPreference, user.id).email_mode == EmailMode.DIGEST
