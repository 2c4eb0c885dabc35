"""The durable job queue: a job runs after the commit that queued it, once, and waits when the broker is down."""

from unittest import mock

from celery import shared_task
from sqlalchemy import select

from crm.core import jobs
from crm.core.jobs import QueuedJob
from crm.extensions import db

calls: list[int] = []


@shared_task(name="tests.record_call")
def record_call(value: int) -> None:
    calls.append(value)


def test_job_runs_after_commit_exactly_once(app):
    calls.clear()
    job = jobs.enqueue("tests.record_call", 7)
    assert calls == []
    db.session.commit()
    jobs.dispatch_ready()
    assert calls == [7]
    db.session.refresh(job)
    assert job.started_at is not None and job.finished_at is not None and job.attempts == 1
    # A second delivery of the same job is skipped by the claim.
    jobs.send(job.id)
    assert calls == [7]


def test_rolled_back_jobs_never_run(app):
    calls.clear()
    jobs.enqueue("tests.record_call", 8)
    db.session.rollback()
    jobs.dispatch_ready()
    assert calls == []


def test_broker_down_leaves_the_job_waiting_for_dispatch_pending(app):
    from workers.jobs.core import dispatch_pending

    calls.clear()
    job = jobs.enqueue("tests.record_call", 9)
    db.session.commit()
    task = app.extensions["celery"].tasks["jobs.run_queued"]
    with mock.patch.object(task, "apply_async", side_effect=ConnectionError("redis down")):
        jobs.dispatch_ready()
    assert calls == []
    db.session.refresh(job)
    assert job.started_at is None
    with mock.patch("crm.core.jobs.utcnow", return_value=job.created_at.replace(year=job.created_at.year + 1)):
        assert job.id in jobs.unsent_jobs()
        dispatch_pending()
    assert calls == [9]


def test_failed_job_is_recorded(app):
    job = jobs.enqueue("tests.record_call", "not-a-number-but-fine")
    db.session.commit()
    task = app.extensions["celery"].tasks["tests.record_call"]
    with mock.patch.object(task, "run", side_effect=RuntimeError("boom")):
        jobs.dispatch_ready()
    failed = db.session.scalars(select(QueuedJob).where(QueuedJob.id == job.id)).one()
    db.session.refresh(failed)
    assert failed.failed_at is not None and "boom" in failed.last_error
