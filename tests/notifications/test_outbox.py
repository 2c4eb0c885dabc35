"""Mail and in-app notifications go through the outbox and are delivered after the commit."""

from sqlalchemy import select

from crm.extensions import db
from crm.notifications.models import Notification, OutboxMessage, OutboxStatus
from crm.notifications.services import notify, queue_email


def test_in_app_notification_is_delivered_after_commit(make_user):
    user = make_user("bureau", areas=["350500"])
    message = notify(user, "任务即将到期", url="/enterprises/1")
    assert db.session.scalars(select(Notification).where(Notification.user_id == user.id)).first() is None
    db.session.commit()
    from crm.core import jobs

    jobs.dispatch_ready()
    assert message.status == OutboxStatus.SENT
    assert db.session.scalars(select(Notification.title).where(Notification.user_id == user.id)).all() == [
        "任务即将到期"
    ]


def test_mail_without_a_server_is_kept_in_the_outbox(app, make_user):
    message = queue_email("someone@example.test", "测试", "正文")
    db.session.commit()
    from crm.core import jobs

    jobs.dispatch_ready()
    kept = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id == message.id)).one()
    assert kept.status == OutboxStatus.PENDING and kept.attempts == 1
