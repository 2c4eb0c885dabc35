"""Two scheduled-report sweeps at once, on two connections against PostgreSQL, start each due report once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from crm.core import jobs
from crm.exports import services
from crm.exports.models import ExportJob, ExportJobStatus, Frequency
from crm.extensions import db
from crm.notifications.models import OutboxMessage


def test_two_concurrent_sweeps_start_each_due_report_once(postgres, real_db, app, make_user):
    created = datetime(2026, 11, 25, tzinfo=UTC)
    for n in range(3):
        services.create_subscription(
            make_user("manager"),
            title=f"周报{n}",
            kind="enterprises",
            fmt="csv",
            params={},
            frequency=Frequency.WEEKLY,
            weekday=0,
            hour=8,
            now=created,
        )
    db.session.commit()
    now = datetime(2026, 11, 30, 1, tzinfo=UTC)  # Monday 09:00 in Shanghai: all three are due
    start = threading.Barrier(2)
    reports: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():  # its own session, hence its own connection and transaction
            try:
                start.wait(timeout=10)
                reports.append(services.run_due_subscriptions(now))
                db.session.commit()
            except BaseException as exc:  # reported to the main thread below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(reports) == 2
    assert sum(r["started"] for r in reports) == 3
    jobs.dispatch_ready()  # the three export jobs run here (in-process Celery)
    db.session.expire_all()
    statuses = db.session.scalars(select(ExportJob.status)).all()
    assert statuses == [ExportJobStatus.DONE] * 3
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
