"""Two sweeps at once, on two connections against PostgreSQL, still send each reminder once."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, select

from crm.core import jobs
from crm.extensions import db
from crm.notifications.models import Notification, OutboxMessage, Reminder
from crm.notifications.reminders import run_sweep
from tests.notifications.conftest import at, make_event, register


def test_two_concurrent_sweeps_send_each_reminder_once(postgres, real_db, app, make_user, make_task, make_enterprise):
    owners = [make_user("bureau", areas=["350100"]) for _ in range(3)]
    for owner in owners:
        make_task(owner=owner, due_on=date(2026, 3, 13))
    officer = make_user("customs", offices=["fz-mawei"])
    make_enterprise(stage="pooled", stage_entered_at=at(2026, 2, 7), customs_officer_id=officer.id)
    # A training event in 3 days: one attendee emailed, its creator notified in the CRM.
    event = make_event(at(2026, 3, 13, 9), created_by=make_user("customs", offices=["xm-quanzhou"]))
    register(event, make_enterprise(area="350500"), ("林关务", "lin@enterprise.test"))
    now = at(2026, 3, 10, 7)
    start = threading.Barrier(2)
    reports: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():  # its own session, hence its own connection and transaction
            try:
                start.wait(timeout=10)
                reports.append(run_sweep(now, rule_codes=["task_due_3d", "stage_sla", "event_3d"]))
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
    assert sorted(r["sent"] for r in reports) == [0, 6]
    assert sum(r["duplicate"] for r in reports) == 6
    jobs.dispatch_ready()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 6
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 10
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 5
