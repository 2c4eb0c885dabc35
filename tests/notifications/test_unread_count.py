"""The navigation's unread count is read with the user, in one statement, and counted again after a write."""

from flask import g

from crm.core.models import utcnow
from crm.extensions import db
from crm.notifications import services
from crm.notifications.models import Notification


def _notify(user, title: str) -> Notification:
    notification = Notification(user_id=user.id, title=title)
    db.session.add(notification)
    db.session.commit()
    return notification


def test_a_page_reads_its_user_and_unread_count_in_one_statement(client, make_user, statements):
    user = make_user("bureau", areas=["350100"])
    _notify(user, "任务即将到期")
    client.login(user)
    db.session.expunge_all()  # as in production: the request loads its user
    statements.clear()
    body = client.get("/notifications/").get_data(as_text=True)
    assert "data-unread-count>1<" in body
    user_reads = [s for s in statements if "FROM users" in s and "users.id =" in s]
    assert len(user_reads) == 1 and "notifications" in user_reads[0]
    # The centre's own list counts its rows; the unread total and the navigation's count are the one read above.
    counts = [s for s in statements if s.lstrip().startswith("SELECT count(*)") and "FROM notifications" in s]
    assert len(counts) == 1 and "anon_1" in counts[0]


def test_the_kept_count_is_the_users_own_and_a_write_forgets_it(app, make_user):
    user = make_user("bureau", areas=["350100"])
    other = make_user("bureau", areas=["350100"])
    with app.test_request_context("/"):
        services.keep_unread_count(user.id, 7)
        assert services.unread_count(user) == 7
        assert services.unread_count(other) == 0  # another user's count is never the kept one
        _notify(user, "新的提醒")  # a flush: the request has written, count again
        assert g.get(services.UNREAD_KEY) is None
        assert services.unread_count(user) == 1


def test_marking_all_read_forgets_the_kept_count(app, make_user):
    user = make_user("bureau", areas=["350100"])
    _notify(user, "提醒")
    with app.test_request_context("/"):
        services.keep_unread_count(user.id, 1)
        services.mark_all_read(user)  # an UPDATE statement, no flush
        assert services.unread_count(user) == 0


def test_posts_and_the_api_load_the_user_alone(client, make_user, statements):
    user = make_user("bureau", areas=["350100"])
    client.login(user)
    db.session.expunge_all()
    statements.clear()
    client.post_form("/notifications/read-all")
    user_reads = [s for s in statements if "FROM users" in s and "users.id =" in s]
    assert user_reads and "notifications" not in user_reads[0]


def _notify_many(user, count: int, *, read: bool = False) -> None:
    read_at = utcnow() if read else None
    db.session.add_all(Notification(user_id=user.id, title=f"提醒 {n}", read_at=read_at) for n in range(count))
    db.session.commit()


def test_the_navigation_counts_unread_up_to_the_badge_limit(client, make_user):
    user = make_user("bureau", areas=["350100"])
    _notify_many(user, services.BADGE_LIMIT)
    client.login(user)
    assert f"data-unread-count>{services.BADGE_LIMIT}<" in client.get("/").get_data(as_text=True)
    _notify_many(user, 2)
    body = client.get("/").get_data(as_text=True)
    assert f"data-unread-count>{services.BADGE_LIMIT}+<" in body


def test_past_the_limit_the_page_stops_counting_but_the_centre_and_api_stay_exact(
    client, make_user, statements, api_token
):
    user = make_user("bureau", areas=["350100"])
    _notify_many(user, services.BADGE_LIMIT + 21)
    _notify_many(user, 5, read=True)
    headers = api_token(user)
    client.login(user)
    db.session.expunge_all()
    statements.clear()
    body = client.get("/notifications/").get_data(as_text=True)
    user_read = next(s for s in statements if "FROM users" in s and "users.id =" in s)
    assert "LIMIT" in user_read  # the navigation's count stops at the limit
    assert f"data-unread-count>{services.BADGE_LIMIT}+<" in body
    assert f"{services.BADGE_LIMIT + 21}<" in body  # the centre's own tab: the exact unread count
    assert client.get("/api/v1/notifications/unread-count", headers=headers).get_json() == {
        "unread": services.BADGE_LIMIT + 21
    }


def test_the_badge_count_is_capped_without_a_kept_count(app, make_user):
    user = make_user("bureau", areas=["350100"])
    _notify_many(user, services.BADGE_LIMIT + 3)
    with app.test_request_context("/"):
        assert services.unread_badge_count(user) == services.BADGE_LIMIT + 1
        assert services.unread_count(user) == services.BADGE_LIMIT + 3
        services.keep_unread_count(user.id, services.BADGE_LIMIT + 1)  # a capped count read with the user
        assert services.unread_count(user) == services.BADGE_LIMIT + 3  # is not taken as exact


def test_the_failed_messages_badge_is_capped_too(client, make_user):
    from crm.notifications.models import Channel, OutboxMessage, OutboxStatus

    db.session.add_all(
        OutboxMessage(channel=Channel.EMAIL, to_address="x@customs.test", subject="提醒", status=OutboxStatus.FAILED)
        for _ in range(services.BADGE_LIMIT + 1)
    )
    db.session.commit()
    client.login(make_user("admin"))
    assert f'text-bg-warning">{services.BADGE_LIMIT}+<' in client.get("/").get_data(as_text=True)
