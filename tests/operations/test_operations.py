"""The operations page (administrators only), recorded job runs, and the commands operators run from cron."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.core import jobs
from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.extensions import db
from crm.notifications.models import Notification, OutboxMessage, OutboxStatus, Reminder
from crm.notifications.registry import WATCHERS
from crm.notifications.services import notify, queue_email
from crm.operations.models import JobRun, RunStatus, RunTrigger
from crm.operations.services import prune_runs, run_tracked
from tests.notifications.conftest import at, notifications_of, reminders_of
from workers.schedule import BEAT_SCHEDULE

PAGES = [
    "/admin/operations/",
    "/admin/operations/outbox",
    "/admin/operations/outbox?status=failed&channel=email",
    "/admin/operations/queued-jobs",
    "/admin/operations/reminders",
    "/admin/operations/jobs/reminders.sweep",
    "/admin/reminders/",
    "/admin/reminders/new",
    "/admin/reminders/new?watch=task_due",
    "/admin/reminders/new?watch=event_start",
]


def login_as(client, make_user, role: str):
    if role == "bureau":
        user = make_user(role, areas=["350100"])
    elif role == "customs":
        user = make_user(role, offices=["fz-mawei"])
    elif role == "viewer":
        user = make_user(role, areas=["350100"])
    else:
        user = make_user(role)
    client.login(user)
    return user


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("manager", 403), ("bureau", 403), ("customs", 403), ("viewer", 403)]
)
def test_operations_pages_are_for_administrators(client, make_user, role, status):
    login_as(client, make_user, role)
    for url in PAGES:
        assert client.get(url).status_code == status, url
    body = client.get("/").get_data(as_text=True)
    assert ("/admin/operations/" in body) == (role == "admin")


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in PAGES:
        assert "/login" in client.get(url).headers["Location"]


def test_the_overview_shows_each_periodic_job_and_the_last_sweep(app, client, make_user, make_task, monkeypatch):
    # Every seeded rule has its watcher today; take one away to see how a missing one is reported.
    spec = replace(WATCHERS["event_start"], function=None, expected="crm.events.reminders:upcoming_events")
    monkeypatch.setitem(WATCHERS, "event_start", spec)
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 10))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "run-reminders", "--date", "2026-03-10"])
    assert result.exit_code == 0, result.output
    assert "task_due_today" in result.output and "watcher not available" in result.output
    client.login(make_user("admin"))
    body = client.get("/admin/operations/").get_data(as_text=True)
    for name in BEAT_SCHEDULE:
        assert f"/admin/operations/jobs/{name}" in body
    assert "0 7-20 * * *" in body
    assert "crm.events.reminders:upcoming_events" in body  # where a missing watcher will come from
    history = client.get("/admin/operations/jobs/reminders.sweep").get_data(as_text=True)
    assert "已发送: 1" in history
    ledger = client.get("/admin/operations/reminders").get_data(as_text=True)
    assert reminders_of("task_due_today")[0].title in ledger


def test_run_reminders_for_a_date_runs_the_sweep_synchronously(app, make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 13))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "run-reminders", "--date", "2026-03-09"])
    assert result.exit_code == 0 and notifications_of(owner) == []
    result = runner.invoke(args=["crm", "run-reminders", "--date", "2026-03-10", "--rule", "task_due_3d"])
    assert result.exit_code == 0, result.output
    assert "Sent 1" in result.output
    assert len(notifications_of(owner)) == 1  # delivered in-process (eager) before the command returns
    run = db.session.scalars(
        select(JobRun).where(JobRun.job_name == "reminders.sweep").order_by(JobRun.id.desc())
    ).first()
    assert run.trigger == RunTrigger.COMMAND
    assert run.status == RunStatus.SUCCEEDED and run.counts["date"] == "2026-03-10"


def test_run_reminders_refuses_a_bad_date(app):
    result = app.test_cli_runner().invoke(args=["crm", "run-reminders", "--date", "10/03/2026"])
    assert result.exit_code == 2 and "Invalid value for '--date'" in result.output
    assert db.session.scalar(select(func.count()).select_from(JobRun)) == 0


@pytest.mark.parametrize("name", sorted(BEAT_SCHEDULE))
def test_every_periodic_job_runs_from_the_command_line(app, name):
    result = app.test_cli_runner().invoke(args=["crm", "run-job", name])
    assert result.exit_code == 0, result.output
    run = db.session.scalars(select(JobRun).where(JobRun.job_name == name)).one()
    assert run.status == RunStatus.SUCCEEDED and run.duration_ms is not None


def test_a_job_that_crashes_halfway_leaves_nothing_behind(make_user):
    user = make_user("bureau", areas=["350100"])

    def body():
        db.session.add(Notification(user_id=user.id, title="half-written"))
        db.session.flush()
        raise RuntimeError("crashed halfway")

    run = run_tracked("reminders.sweep", body)
    assert run.status == RunStatus.FAILED and "crashed halfway" in run.error
    assert notifications_of(user) == []


def test_old_runs_are_pruned_but_the_last_of_each_job_is_kept():
    old = utcnow() - timedelta(days=40)
    for name in ("reminders.sweep", "reminders.sweep", "operations.prune"):
        db.session.add(JobRun(job_name=name, started_at=old, status=RunStatus.SUCCEEDED))
    db.session.add(JobRun(job_name="jobs.dispatch_pending", started_at=utcnow(), status=RunStatus.SUCCEEDED))
    db.session.commit()
    assert prune_runs() == {"deleted": 1}
    names = sorted(db.session.scalars(select(JobRun.job_name)))
    assert names == ["jobs.dispatch_pending", "operations.prune", "reminders.sweep"]


def failed_message(user) -> OutboxMessage:
    message = notify(user, "提醒：复核准备")
    message.status = OutboxStatus.FAILED
    message.attempts = 8
    message.last_error = "recipient gone"
    db.session.commit()
    jobs.dispatch_ready()  # the queued delivery finds it failed and leaves it
    return message


def test_an_administrator_retries_a_failed_message(client, make_user):
    user = make_user("bureau", areas=["350100"])
    message = failed_message(user)
    client.login(make_user("admin"))
    assert "recipient gone" in client.get("/admin/operations/outbox?status=failed").get_data(as_text=True)
    response = client.post_form(f"/admin/operations/outbox/{message.id}/retry")
    assert response.status_code == 302
    db.session.refresh(message)
    assert message.status == OutboxStatus.SENT and message.attempts == 1
    assert [n.title for n in notifications_of(user)] == ["提醒：复核准备"]


def test_an_administrator_cancels_a_waiting_email(client, make_user):
    message = queue_email("someone@example.test", "提醒", "正文")
    db.session.commit()
    jobs.dispatch_ready()
    client.login(make_user("admin"))
    assert client.post_form(f"/admin/operations/outbox/{message.id}/cancel").status_code == 302
    db.session.refresh(message)
    assert message.status == OutboxStatus.CANCELLED
    # A sent or cancelled message can be neither retried nor cancelled.
    client.post_form(f"/admin/operations/outbox/{message.id}/retry")
    db.session.refresh(message)
    assert message.status == OutboxStatus.CANCELLED


def test_outbox_actions_need_the_csrf_token(client, make_user):
    message = queue_email("someone@example.test", "提醒", "正文")
    db.session.commit()
    client.login(make_user("admin"))
    assert client.post(f"/admin/operations/outbox/{message.id}/cancel").status_code == 400
    assert client.post_form("/admin/operations/outbox/999999/cancel").status_code == 404


def test_the_outbox_pages_by_keyset(client, make_user):
    for n in range(5):
        queue_email(f"u{n}@example.test", f"第{n}封", "正文")
    db.session.commit()
    client.login(make_user("admin"))
    first = client.get("/admin/operations/outbox?per_page=3").get_data(as_text=True)
    assert "第4封" in first and "第2封" in first and "第1封" not in first
    before = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.subject == "第2封")).one()
    assert f"before={before}" in first
    second = client.get(f"/admin/operations/outbox?per_page=3&before={before}").get_data(as_text=True)
    assert "第1封" in second and "第0封" in second and "第2封" not in second
    assert client.get("/admin/operations/outbox?status=bogus").status_code == 400


def test_a_failed_queued_job_is_shown_and_retried(app, client, make_user):
    from unittest import mock

    user = make_user("bureau", areas=["350100"])
    message = notify(user, "稍后重试的提醒")
    task = app.extensions["celery"].tasks["notifications.deliver"]
    with mock.patch.object(task, "run", side_effect=RuntimeError("database hiccup")):
        db.session.commit()
        jobs.dispatch_ready()
    job = db.session.scalars(select(QueuedJob).where(QueuedJob.task_name == "notifications.deliver")).one()
    db.session.refresh(job)
    assert job.failed_at is not None
    client.login(make_user("admin"))
    page = client.get("/admin/operations/queued-jobs").get_data(as_text=True)
    assert "database hiccup" in page
    assert client.post_form(f"/admin/operations/queued-jobs/{job.id}/retry").status_code == 302
    db.session.refresh(job)
    db.session.refresh(message)
    assert job.finished_at is not None and job.failed_at is None
    assert message.status == OutboxStatus.SENT


def test_the_sweep_records_reminders_once_through_the_job(app, make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 10))
    sweep_job = app.extensions["celery"].tasks["reminders.sweep"]
    first = db.session.get(JobRun, sweep_job.run(as_of=at(2026, 3, 10, 7).isoformat()))
    second = db.session.get(JobRun, sweep_job.run(as_of=at(2026, 3, 10, 8).isoformat()))
    # Sent "due today"; recorded the 3-day reminder (due on 7 March) as skipped. The second run adds nothing.
    assert (first.counts["sent"], first.counts["skipped"]) == (1, 1)
    assert (second.counts["sent"], second.counts["skipped"], second.counts["duplicate"]) == (0, 0, 2)
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 2
    assert len(notifications_of(owner)) == 1


def test_queued_jobs_of_one_instant_keep_one_order_across_pages(app):
    from crm.core.pagination import paginate
    from crm.operations import queries

    moment = utcnow() - timedelta(hours=1)
    failed = [QueuedJob(task_name="x.fail", created_at=moment, started_at=moment, failed_at=moment) for _n in range(5)]
    waiting = [QueuedJob(task_name="x.wait", created_at=moment) for _n in range(3)]
    db.session.add_all(failed + waiting)
    db.session.flush()
    pages = [paginate(queries.failed_jobs(), page, 2).items for page in (1, 2, 3)]
    assert [job.id for page in pages for job in page] == sorted((job.id for job in failed), reverse=True)
    assert [job.id for job in db.session.scalars(queries.waiting_jobs())] == [job.id for job in waiting]
