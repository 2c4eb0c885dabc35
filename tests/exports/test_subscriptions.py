"""Scheduled reports: the next run in Asia/Shanghai, the sweep running each due report exactly once, the email
with its attachment in the outbox, and the subscription pages (own ones; administrators see all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.core import jobs
from crm.exports import services
from crm.exports.models import ExportJob, ExportJobStatus, Frequency, ReportSubscription
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, OutboxStatus
from tests.notifications.test_delivery import smtp_port, start_smtp  # noqa: F401  (fixtures)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "frequency", "values", "expected"),
    [
        # Monday 00:00 in Shanghai is Sunday 16:00 UTC: the run at that instant schedules the next Monday.
        (utc(2026, 11, 29, 16, 0), "weekly", {"weekday": 0, "hour": 0}, utc(2026, 12, 6, 16, 0)),
        # One minute earlier (Sunday 23:59 local) the next run is that Monday's midnight, the next UTC... day.
        (utc(2026, 11, 29, 15, 59), "weekly", {"weekday": 0, "hour": 0}, utc(2026, 11, 29, 16, 0)),
        # Friday 23:30 UTC is already Saturday 07:30 local: Saturday 08:00 local is 30 minutes later.
        (utc(2026, 11, 27, 23, 30), "weekly", {"weekday": 5, "hour": 8}, utc(2026, 11, 28, 0, 0)),
        # The 1st at 06:00 local is the last day of the previous month, 22:00 UTC.
        (utc(2026, 11, 30, 21, 0), "monthly", {"day": 1, "hour": 6}, utc(2026, 11, 30, 22, 0)),
        (utc(2026, 11, 30, 22, 0), "monthly", {"day": 1, "hour": 6}, utc(2026, 12, 31, 22, 0)),
        # The 31st in a month of 30 days (and in February) is that month's last day.
        (utc(2027, 2, 1, 0, 0), "monthly", {"day": 31, "hour": 9}, utc(2027, 2, 28, 1, 0)),
        (utc(2026, 12, 31, 2, 0), "monthly", {"day": 31, "hour": 9}, utc(2027, 1, 31, 1, 0)),
    ],
)
def test_next_run_is_reckoned_in_shanghai_time(after, frequency, values, expected):
    assert services.next_run_after(after, frequency, **values) == expected


def subscribe(user, **values) -> ReportSubscription:
    defaults = {
        "title": "泉州周报",
        "kind": "enterprises",
        "fmt": "xlsx",
        "params": {"area": "350500"},
        "frequency": Frequency.WEEKLY,
        "weekday": 0,
        "hour": 0,
        "now": utc(2026, 11, 25, 0, 0),
    }
    subscription = services.create_subscription(user, **{**defaults, **values})
    db.session.commit()
    return subscription


def sweep(now: datetime) -> dict[str, int]:
    counts = services.run_due_subscriptions(now)
    db.session.commit()
    jobs.dispatch_ready()  # in-process Celery: the export jobs run now
    db.session.expire_all()
    return counts


def test_the_sweep_sends_a_due_report_once_by_email_with_its_file(make_user, listed):
    manager = make_user("manager", email="jingli@example.test")
    subscription = subscribe(manager)
    due = utc(2026, 11, 29, 16, 0)  # Monday 00:00 in Shanghai
    assert subscription.next_run_at == due

    assert sweep(due - timedelta(minutes=1))["started"] == 0
    assert sweep(due + timedelta(minutes=3)) == {"due": 1, "started": 1, "skipped": 0}
    assert sweep(due + timedelta(minutes=4))["started"] == 0  # the sweep runs twice: nothing more

    job = db.session.scalars(select(ExportJob)).one()
    assert job.status == ExportJobStatus.DONE and job.subscription_id == subscription.id
    assert job.scheduled_for == due and job.row_count == 2 and job.params == {"area": "350500"}
    email = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)).one()
    assert email.to_address == "jingli@example.test" and email.user_id == manager.id
    assert email.attachments == [job.file_id]
    assert email.subject == "泉州周报（2026-11-30）"
    assert "2" in email.body_text
    db.session.refresh(subscription)
    assert subscription.next_run_at == utc(2026, 12, 6, 16, 0)
    assert subscription.last_run_at is not None

    # Deleting the subscription keeps the export it made (until it expires).
    db.session.delete(subscription)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).subscription_id is None


def test_a_second_claim_of_the_same_run_is_refused(make_user, listed):
    manager = make_user("manager")
    subscription = subscribe(manager)
    due = subscription.next_run_at
    services.run_due_subscriptions(due)
    db.session.flush()
    # A concurrent sweep that read the subscription before the first one moved it finds it moved.
    stale = services.run_due_subscriptions(due)
    assert stale["started"] == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 1
    # And the (subscription, instant) key refuses a second job for the same run outright.
    with pytest.raises(IntegrityError), db.session.begin_nested():
        services.new_job(manager, "enterprises", "xlsx", {}, subscription_id=subscription.id, scheduled_for=due)
    db.session.rollback()


def test_a_paused_subscription_is_skipped_and_resumes_without_catching_up(make_user, listed):
    manager = make_user("manager")
    subscription = subscribe(manager)
    services.set_active(subscription, False)
    db.session.commit()
    assert sweep(utc(2026, 12, 20))["due"] == 0
    services.set_active(subscription, True, now=utc(2026, 12, 20))
    db.session.commit()
    assert subscription.next_run_at == utc(2026, 12, 20, 16, 0)  # Monday 21 December, 00:00 local


def test_a_subscriber_without_email_gets_the_report_in_the_crm(make_user, listed):
    manager = make_user("manager", email=None)
    subscription = subscribe(manager, frequency=Frequency.MONTHLY, day_of_month=1, hour=8, weekday=None)
    sweep(subscription.next_run_at)
    job = db.session.scalars(select(ExportJob)).one()
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.channel == Channel.IN_APP and message.url == f"/exports/{job.id}"


def test_subscribing_checks_the_report_and_its_filters(make_user):
    manager = make_user("manager")
    with pytest.raises(services.ExportRequestError) as error:
        subscribe(manager, params={"colour": "blue"})
    assert "filters" in error.value.fields
    with pytest.raises(services.ExportRequestError) as error:
        subscribe(manager, kind="nope")
    assert "kind" in error.value.fields


def test_subscription_pages_create_list_pause_and_delete_own_subscriptions(app, client, make_user, listed):
    manager = make_user("manager")
    client.login(manager)
    form = client.get("/exports/subscriptions/new?kind=enterprises&format=csv&params=area%3D350500")
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and 'value="area=350500"' in page and "area = 350500" in page
    response = client.post_form(
        "/exports/subscriptions/new",
        {
            "title": "泉州月报",
            "kind": "enterprises",
            "format": "csv",
            "params": "area=350500",
            "frequency": "monthly",
            "weekday": "0",
            "day_of_month": "1",
            "hour": "8",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    subscription = db.session.scalars(select(ReportSubscription)).one()
    assert subscription.user_id == manager.id and subscription.params == {"area": "350500"}
    assert subscription.frequency == Frequency.MONTHLY and subscription.day_of_month == 1
    assert subscription.weekday is None and subscription.format == "csv"

    other = make_user("manager")
    stranger = app.test_client()
    stranger.login(other)
    assert "泉州月报" not in stranger.get("/exports/subscriptions").get_data(as_text=True)
    assert stranger.post_form(f"/exports/subscriptions/{subscription.id}/pause").status_code == 404
    assert stranger.post_form(f"/exports/subscriptions/{subscription.id}/delete").status_code == 404
    admin = app.test_client()
    admin.login(make_user("admin"))
    assert "泉州月报" in admin.get("/exports/subscriptions").get_data(as_text=True)

    assert client.post_form(f"/exports/subscriptions/{subscription.id}/pause").status_code == 302
    db.session.refresh(subscription)
    assert not subscription.is_active
    assert "已暂停" in client.get("/exports/subscriptions").get_data(as_text=True)
    assert client.post_form(f"/exports/subscriptions/{subscription.id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ReportSubscription)) == 0


def test_a_monthly_subscription_needs_its_day(client, make_user):
    client.login(make_user("manager"))
    response = client.post_form(
        "/exports/subscriptions/new",
        {"title": "月报", "kind": "enterprises", "format": "xlsx", "frequency": "monthly", "weekday": "0", "hour": "8"},
    )
    assert response.status_code == 200 and "请选择每月的日期" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ReportSubscription)) == 0


def test_the_scheduled_sweep_is_a_periodic_job(app):
    from workers.schedule import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["exports.send_scheduled"]["schedule"]._orig_minute == "*/15"
    assert "exports.purge_expired" in BEAT_SCHEDULE
    result = app.test_cli_runner().invoke(args=["crm", "run-job", "exports.send_scheduled"])
    assert result.exit_code == 0, result.output


def test_the_report_email_carries_the_file_through_smtp(make_user, listed, start_smtp):  # noqa: F811
    inbox = start_smtp()
    manager = make_user("manager", email="jingli@example.test")
    subscription = subscribe(manager, fmt="csv")
    sweep(subscription.next_run_at)
    jobs.dispatch_ready()  # the delivery job queued by the export job
    email = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == Channel.EMAIL)).one()
    assert email.status == OutboxStatus.SENT, email.last_error
    [envelope] = inbox.messages
    parsed = message_from_bytes(envelope.content, policy=policy.default)
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename().startswith("enterprises-") and attachment.get_filename().endswith(".csv")
    content = attachment.get_payload(decode=True)
    assert content.startswith(b"\xef\xbb\xbf") and "泉州甲导出有限公司".encode() in content
