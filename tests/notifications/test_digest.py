"""The daily digest bundles a user's reminders into one email when the user prefers it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from crm.core import jobs
from crm.extensions import db
from crm.notifications.digest import send_digests
from crm.notifications.models import Channel, EmailMode, OutboxMessage, ReminderStatus
from crm.notifications.services import set_email_mode
from tests.notifications.conftest import at, notifications_of, outbox_of, reminders_of, sweep


def emails_to(user) -> list[OutboxMessage]:
    return [m for m in outbox_of(user) if m.channel == Channel.EMAIL]


def run_digests(now) -> dict:
    counts = send_digests(now)
    db.session.commit()
    jobs.dispatch_ready()
    return counts


def test_the_days_reminders_arrive_in_one_digest_email(make_user, make_task):
    reader = make_user("bureau", areas=["350100"])
    set_email_mode(reader, EmailMode.DIGEST)
    other = make_user("bureau", areas=["350100"])
    db.session.commit()
    make_task(owner=reader, due_on=date(2026, 3, 10), title="整改报关单复核流程")
    make_task(owner=reader, due_on=date(2026, 3, 13), title="开展年度内部审计")
    make_task(owner=other, due_on=date(2026, 3, 10))

    sweep(at(2026, 3, 10, 7), "task_due_today", "task_due_3d")
    # In the CRM at once; by email nothing yet for the digest reader, one email for the other user.
    assert len(notifications_of(reader)) == 2
    assert emails_to(reader) == []
    assert len(emails_to(other)) == 1
    assert {r.status for r in reminders_of("task_due_today") if r.user_id == reader.id} == {ReminderStatus.DIGEST}

    counts = run_digests(at(2026, 3, 10, 8))
    assert counts == {"digests": 1, "reminders": 2, "no_address": 0}
    [digest] = emails_to(reader)
    assert digest.to_address == reader.email
    assert "整改报关单复核流程" in digest.body_text and "开展年度内部审计" in digest.body_text
    assert "2026年3月10日" in digest.subject
    # (The first task's own 3-day reminder was due on 7 March: too late, skipped.)
    reminders = [
        r
        for r in reminders_of("task_due_today") + reminders_of("task_due_3d")
        if r.user_id == reader.id and r.status != ReminderStatus.SKIPPED
    ]
    assert len(reminders) == 2 and {r.status for r in reminders} == {ReminderStatus.DIGESTED}
    assert {r.digest_message_id for r in reminders} == {digest.id}

    # Running the digest again sends nothing more; the other user never gets a digest.
    assert run_digests(at(2026, 3, 10, 9))["digests"] == 0
    assert len(emails_to(reader)) == 1 and len(emails_to(other)) == 1


def test_reminders_after_the_digest_wait_for_the_next_one(make_user, make_task):
    reader = make_user("bureau", areas=["350100"], language="en")
    set_email_mode(reader, EmailMode.DIGEST)
    db.session.commit()
    make_task(owner=reader, due_on=date(2026, 3, 10))
    sweep(at(2026, 3, 10, 7), "task_due_today")
    run_digests(at(2026, 3, 10, 8))
    make_task(owner=reader, due_on=date(2026, 3, 11), title="Second task")
    sweep(at(2026, 3, 11, 7), "task_due_today")
    run_digests(at(2026, 3, 11, 8))
    subjects = sorted(m.subject for m in emails_to(reader))
    assert len(subjects) == 2 and subjects[1].startswith("Your reminders for Mar 11, 2026")
    assert "Second task" in max(emails_to(reader), key=lambda m: m.id).body_text


def test_a_digest_reader_without_an_email_address_is_skipped(make_user, make_task):
    reader = make_user("bureau", areas=["350100"])
    set_email_mode(reader, EmailMode.DIGEST)
    db.session.commit()
    make_task(owner=reader, due_on=date(2026, 3, 10))
    sweep(at(2026, 3, 10, 7), "task_due_today")
    reader.email = None
    db.session.commit()
    assert run_digests(at(2026, 3, 10, 8))["no_address"] == 1
    assert emails_to(reader) == []
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%"))).all() == []
