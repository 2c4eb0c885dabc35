"""The nightly housekeeping (``operations.prune``) deletes the history its retention setting no longer keeps:
finished queued jobs, delivered outbox messages and past reminders, never what still has to happen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.core.settings import Setting, set_setting
from crm.core.timeutil import local_today
from crm.extensions import db
from crm.notifications.models import Channel, Notification, OutboxMessage, OutboxStatus, Reminder
from crm.operations.models import JobRun
from crm.operations.services import prune_history
from tests.notifications.conftest import at

NOW = datetime(2028, 1, 1, 12, 0, tzinfo=UTC)  # the default retention (365 days) keeps 2027
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=100)


def _job(name: str, created: datetime, **times: datetime | None) -> QueuedJob:
    job = QueuedJob(task_name=name, args=[], created_at=created, **times)
    db.session.add(job)
    return job


def _message(subject: str, status: OutboxStatus, created: datetime, **fields) -> OutboxMessage:
    message = OutboxMessage(
        channel=Channel.EMAIL,
        to_address="a@example.test",
        subject=subject,
        status=status,
        created_at=created,
        next_attempt_at=created,
        **fields,
    )
    db.session.add(message)
    return message


def _remaining(model, column) -> set:
    db.session.expire_all()
    return set(db.session.scalars(select(column)))


def test_finished_jobs_older_than_the_retention_go_and_the_rest_stays(app):
    _job("old.finished", OLD, started_at=OLD, finished_at=OLD)
    _job("old.failed", OLD, started_at=OLD, failed_at=OLD)
    _job("old.never.started", OLD)
    _job("old.still.running", OLD, started_at=OLD)
    _job("old.finished.lately", OLD, started_at=RECENT, finished_at=RECENT)  # retried not long ago
    _job("recent.finished", RECENT, started_at=RECENT, finished_at=RECENT)
    db.session.commit()

    assert prune_history(NOW)["queued_jobs"] == 2
    assert _remaining(QueuedJob, QueuedJob.task_name) == {
        "old.never.started",
        "old.still.running",
        "old.finished.lately",
        "recent.finished",
    }


def test_delivered_messages_go_and_their_notifications_stay(app, make_user):
    user = make_user("bureau", areas=["350100"])
    sent = OutboxMessage(
        channel=Channel.IN_APP,
        user_id=user.id,
        subject="old.sent",
        status=OutboxStatus.SENT,
        created_at=OLD,
        next_attempt_at=OLD,
        sent_at=OLD,
    )
    db.session.add(sent)
    db.session.flush()
    db.session.add(Notification(user_id=user.id, title="一年前的提醒", outbox_id=sent.id, created_at=OLD))
    _message("old.cancelled", OutboxStatus.CANCELLED, OLD)
    _message("old.pending", OutboxStatus.PENDING, OLD)  # still to be delivered, however old
    _message("old.failed", OutboxStatus.FAILED, OLD)
    _message("old.failed.retried.lately", OutboxStatus.FAILED, OLD).next_attempt_at = RECENT
    _message("recent.sent", OutboxStatus.SENT, RECENT, sent_at=RECENT)
    db.session.commit()

    assert prune_history(NOW)["outbox_messages"] == 3
    assert _remaining(OutboxMessage, OutboxMessage.subject) == {
        "old.pending",
        "old.failed.retried.lately",
        "recent.sent",
    }
    notification = db.session.scalars(select(Notification)).one()
    assert notification.title == "一年前的提醒" and notification.outbox_id is None


def test_past_reminders_go_and_the_sweep_does_not_send_them_again(app, make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 10))
    sweep = app.extensions["celery"].tasks["reminders.sweep"]
    sweep.run(as_of=at(2026, 3, 10, 7).isoformat())
    assert len(db.session.scalars(select(Reminder)).all()) == 2

    # The rows were written today (created_at is the real time): prune as of 400 days after that.
    later = utcnow() + timedelta(days=400)
    assert prune_history(later)["reminders"] == 2
    db.session.commit()
    assert db.session.scalars(select(Reminder)).all() == []
    sweep.run(as_of=later.isoformat())  # that day lies outside a later sweep's window: nothing fires again
    db.session.expire_all()
    assert db.session.scalars(select(Reminder).where(Reminder.due_on == date(2026, 3, 10))).all() == []


def test_reminders_inside_the_sweep_window_are_kept_whatever_the_setting(app, make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=local_today())
    app.extensions["celery"].tasks["reminders.sweep"].run(as_of=utcnow().isoformat())
    recorded = len(db.session.scalars(select(Reminder)).all())
    assert recorded >= 1
    # A value below the setting's minimum, stored behind the form's back: the sweep's window still wins (a
    # sweep three days from now still looks back at today, and its row is what keeps it from firing twice).
    db.session.add(Setting(key="history_retention_days", value=1))
    db.session.commit()
    assert prune_history(utcnow() + timedelta(days=3))["reminders"] == 0
    assert len(db.session.scalars(select(Reminder)).all()) == recorded


def test_one_run_deletes_at_most_its_limit_oldest_first(app):
    for n in range(5):
        _job(f"job{n}", OLD + timedelta(minutes=n), started_at=OLD, finished_at=OLD)
    db.session.commit()
    assert prune_history(NOW, limit=2)["queued_jobs"] == 2
    assert _remaining(QueuedJob, QueuedJob.task_name) == {"job2", "job3", "job4"}
    assert prune_history(NOW, limit=2)["queued_jobs"] == 2
    assert prune_history(NOW, limit=2)["queued_jobs"] == 1


def test_the_retention_follows_the_setting(app):
    _job("recent.finished", RECENT, started_at=RECENT, finished_at=RECENT)
    db.session.commit()
    assert prune_history(NOW)["queued_jobs"] == 0
    set_setting("history_retention_days", 60)
    db.session.commit()
    assert prune_history(NOW)["queued_jobs"] == 1


def test_the_nightly_job_records_what_it_deleted(app):
    long_ago = utcnow() - timedelta(days=400)
    _job("old.finished", long_ago, started_at=long_ago, finished_at=long_ago)
    db.session.commit()
    run_id = app.extensions["celery"].tasks["operations.prune"].run()
    run = db.session.get(JobRun, run_id)
    assert run.counts == {"job_runs": 0, "queued_jobs": 1, "outbox_messages": 0, "reminders": 0}
