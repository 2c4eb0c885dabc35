"""The operations records that grow by themselves (outbox messages, queued jobs) are read through indexes and
capped counts, so the operations pages and the per-minute jobs cost the same at a million rows as at ten."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.core import jobs
from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.core.pagination import paginate
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, OutboxStatus
from crm.operations import queries
from tests.query_plans import plan_of_last_statement


def _message(status: OutboxStatus, n: int) -> OutboxMessage:
    return OutboxMessage(channel=Channel.EMAIL, to_address=f"u{n}@example.test", subject=f"消息{n}", status=status)


def test_outbox_counts_stop_at_the_limit(client, make_user, monkeypatch):
    db.session.add_all([_message(OutboxStatus.FAILED, n) for n in range(4)] + [_message(OutboxStatus.PENDING, 9)])
    db.session.commit()
    assert queries.outbox_counts(limit=2) == {"failed": 3, "pending": 1}  # limit + 1: "more than the limit"
    assert queries.outbox_counts(limit=5) == {"failed": 4, "pending": 1}
    monkeypatch.setattr(queries, "OUTBOX_COUNT_LIMIT", 2)
    client.login(make_user("admin"))
    outbox = client.get("/admin/operations/outbox").get_data(as_text=True)
    assert "(2+)" in outbox and "(1)" in outbox and "(4)" not in outbox
    overview = client.get("/admin/operations/").get_data(as_text=True)
    assert 'text-danger">2+</div>' in overview and '<div class="fs-3">1</div>' in overview


@pytest.fixture
def queued_jobs() -> None:
    moment = utcnow() - timedelta(hours=1)
    db.session.add_all(
        [QueuedJob(task_name="x.done", created_at=moment, started_at=moment, finished_at=moment) for _n in range(20)]
        + [QueuedJob(task_name="x.fail", created_at=moment, started_at=moment, failed_at=moment)]
        + [QueuedJob(task_name="x.wait", created_at=moment)]
    )
    db.session.flush()


@pytest.mark.parametrize(
    ("reads", "index"),
    [
        (lambda: jobs.unsent_jobs(), "ix_queued_jobs_unstarted_created_at"),
        (lambda: queries.count(queries.waiting_jobs()), "ix_queued_jobs_unstarted_created_at"),
        (lambda: db.session.scalars(queries.waiting_jobs().limit(100)).all(), "ix_queued_jobs_unstarted_created_at"),
        (lambda: paginate(queries.failed_jobs(), 1, 50), "ix_queued_jobs_failed_at"),
        (lambda: queries.count(queries.failed_jobs()), "ix_queued_jobs_failed_at"),
    ],
    ids=["unsent", "waiting-count", "waiting-list", "failed-page", "failed-count"],
)
def test_the_few_waiting_or_failed_queued_jobs_are_read_by_index(queued_jobs, reads, index):
    assert index in plan_of_last_statement(reads)
