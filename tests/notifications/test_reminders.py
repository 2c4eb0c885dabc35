"""The reminder sweep: each rule fires on its local (Asia/Shanghai) day, to the right people, exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import func, select

from crm.core.settings import set_setting
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage, OutboxStatus, Reminder, ReminderRule, ReminderStatus
from crm.notifications.registry import WATCHERS
from crm.notifications.watchers import cultivation_tasks
from crm.pipeline.queries import is_stale
from crm.plans.models import Plan, PlanStatus, TaskStatus
from tests.notifications.conftest import at, notifications_of, outbox_of, recipients_of, reminders_of, sweep


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    ("rule", "due_on", "fire_day"),
    [
        ("task_due_3d", date(2026, 3, 13), date(2026, 3, 10)),
        ("task_due_today", date(2026, 3, 10), date(2026, 3, 10)),
        ("task_overdue", date(2026, 3, 9), date(2026, 3, 10)),
    ],
)
def test_task_rules_fire_at_local_midnight_of_their_day(make_user, make_task, rule, due_on, fire_day):
    owner = make_user("bureau", areas=["350100"])
    task = make_task(owner=owner, due_on=due_on)
    before = at(2026, 3, 9, 23, 59)
    after = at(2026, 3, 10, 0, 1)
    # Both instants fall on 9 March in UTC: only the local calendar tells them apart.
    assert before.astimezone(UTC).date() == after.astimezone(UTC).date() == date(2026, 3, 9)

    sweep(before, rule)
    assert reminders_of(rule) == []

    sweep(after, rule)
    [reminder] = reminders_of(rule)
    assert (reminder.user_id, reminder.record_id, reminder.due_on, reminder.fires_on) == (
        owner.id,
        task.id,
        due_on,
        fire_day,
    )
    assert reminder.status == ReminderStatus.SENT
    channels = sorted(m.channel.value for m in outbox_of(owner))
    assert channels == ["email", "in_app"]
    [notification] = notifications_of(owner)
    # The reminder opens the task's plan, where the task is done or moved.
    assert task.title in notification.title and notification.url == f"/plans/{task.plan_id}"


def test_overdue_for_seven_days_also_reaches_the_owners_manager(make_user, make_task):
    manager = make_user("bureau", areas=["350100"])
    owner = make_user("bureau", areas=["350100"])
    owner.manager_id = manager.id
    db.session.commit()
    make_task(owner=owner, due_on=date(2026, 3, 3))

    sweep(at(2026, 3, 9, 23, 59), "task_overdue", "task_overdue_7d")
    # The plain overdue reminder's moment (4 March) is long past: it is recorded as skipped, not sent.
    assert [r.status for r in reminders_of("task_overdue")] == [ReminderStatus.SKIPPED]
    assert reminders_of("task_overdue_7d") == []

    sweep(at(2026, 3, 10, 0, 1), "task_overdue_7d")
    assert {r.user_id for r in reminders_of("task_overdue_7d")} == {owner.id, manager.id}
    [escalation] = notifications_of(manager)
    assert "7" in escalation.title


def test_the_overdue_reminder_goes_to_the_owner_only(make_user, make_task):
    manager = make_user("manager")
    owner = make_user("customs", offices=["fz-mawei"])
    owner.manager_id = manager.id
    db.session.commit()
    make_task(owner=owner, due_on=date(2026, 3, 9))
    sweep(at(2026, 3, 10, 8), "task_overdue")
    assert {r.user_id for r in reminders_of("task_overdue")} == {owner.id}


def test_done_tasks_and_plans_not_in_force_are_not_reminded(make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    done = make_task(owner=owner, due_on=date(2026, 3, 10))
    done.status = TaskStatus.DONE
    make_task(owner=owner, due_on=date(2026, 3, 10), plan_status=PlanStatus.DRAFT)
    make_task(owner=owner, due_on=date(2026, 3, 10), plan_status=PlanStatus.ABANDONED)
    db.session.commit()
    report = sweep(at(2026, 3, 10, 8), "task_due_today")
    assert reminders_of("task_due_today") == []
    assert report["rules"]["task_due_today"]["found"] == 0


def test_stage_sla_reminds_the_commerce_staff_and_the_customs_officer(make_user, make_enterprise):
    commerce = make_user("bureau", areas=["350100"])
    officer = make_user("customs", offices=["fz-mawei"])
    # Entered "pooled" (SLA 30 days) at 07:00 on 1 February in Shanghai: still 31 January in UTC.
    enterprise = make_enterprise(
        stage="pooled",
        stage_entered_at=at(2026, 2, 1, 7, 0),
        commerce_officer_id=commerce.id,
        customs_officer_id=officer.id,
    )
    assert not is_stale(enterprise, date(2026, 3, 3)) and is_stale(enterprise, date(2026, 3, 4))

    sweep(at(2026, 3, 3, 23, 59), "stage_sla")
    assert reminders_of("stage_sla") == []

    sweep(at(2026, 3, 4, 0, 1), "stage_sla")
    assert recipients_of("stage_sla") == {commerce.id, officer.id}
    [reminder] = [r for r in reminders_of("stage_sla") if r.user_id == officer.id]
    assert reminder.due_on == date(2026, 3, 4) and reminder.record_type == "enterprises"
    assert "入库培育" in reminder.title and "30" in reminder.title


def test_stage_sla_fires_again_after_a_new_stay_in_a_stage(make_user, make_enterprise):
    officer = make_user("customs", offices=["fz-mawei"])
    enterprise = make_enterprise(stage="pooled", stage_entered_at=at(2026, 1, 1), customs_officer_id=officer.id)
    sweep(at(2026, 2, 1, 8), "stage_sla")
    enterprise.stage, enterprise.stage_entered_at = "cultivating", at(2026, 2, 1)
    db.session.commit()
    sweep(at(2026, 2, 2, 8), "stage_sla")
    enterprise.stage, enterprise.stage_entered_at = "pooled", at(2026, 2, 2)
    db.session.commit()
    sweep(at(2026, 3, 5, 8), "stage_sla")
    assert [r.due_on for r in reminders_of("stage_sla")] == [date(2026, 2, 1), date(2026, 3, 5)]


def test_plan_target_date_passed_without_an_application(make_user, make_enterprise):
    commerce = make_user("bureau", areas=["350100"])
    officer = make_user("customs", offices=["fz-mawei"])
    waiting = make_enterprise(stage="ready")
    applied = make_enterprise(stage="applied")
    for enterprise in (waiting, applied):
        db.session.add(
            Plan(
                enterprise_id=enterprise.id,
                status=PlanStatus.ACTIVE,
                target_application_on=date(2026, 3, 9),
                commerce_officer_id=commerce.id,
                customs_officer_id=officer.id,
            )
        )
    db.session.commit()

    sweep(at(2026, 3, 9, 23, 59), "plan_target_passed")
    assert reminders_of("plan_target_passed") == []

    sweep(at(2026, 3, 10, 0, 1), "plan_target_passed")
    reminders = reminders_of("plan_target_passed")
    assert {r.user_id for r in reminders} == {commerce.id, officer.id}
    assert {r.enterprise_id for r in reminders} == {waiting.id}
    assert "预评估达标" in reminders[0].body


def test_plan_officers_fall_back_to_the_enterprises(make_user, make_enterprise):
    officer = make_user("customs", offices=["fz-mawei"])
    enterprise = make_enterprise(stage="cultivating", customs_officer_id=officer.id)
    db.session.add(Plan(enterprise_id=enterprise.id, status=PlanStatus.ACTIVE, target_application_on=date(2026, 3, 9)))
    db.session.commit()
    sweep(at(2026, 3, 10, 8), "plan_target_passed")
    assert recipients_of("plan_target_passed") == {officer.id}


def test_the_same_sweep_twice_sends_once(make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 13))
    first = sweep(at(2026, 3, 10, 7), "task_due_3d")
    second = sweep(at(2026, 3, 10, 7), "task_due_3d")
    third = sweep(at(2026, 3, 11, 7), "task_due_3d")  # the next day still looks back, and finds it sent
    assert (first["sent"], second["sent"], third["sent"]) == (1, 0, 0)
    assert second["duplicate"] == 1 and third["duplicate"] == 1
    assert len(reminders_of("task_due_3d")) == 1
    assert len(outbox_of(owner)) == 2 and len(notifications_of(owner)) == 1


def test_a_missed_sweep_catches_up_on_the_last_day_and_skips_older_reminders(make_user, make_task):
    recent_owner = make_user("bureau", areas=["350100"])
    old_owner = make_user("bureau", areas=["350100"])
    make_task(owner=recent_owner, due_on=date(2026, 3, 9))  # "due today" was yesterday: 31 hours ago
    make_task(owner=old_owner, due_on=date(2026, 3, 7))  # three days ago: beyond the 36-hour catch-up

    report = sweep(at(2026, 3, 10, 7), "task_due_today")
    statuses = {r.user_id: r.status for r in reminders_of("task_due_today")}
    assert statuses == {recent_owner.id: ReminderStatus.SENT, old_owner.id: ReminderStatus.SKIPPED}
    assert (report["sent"], report["skipped"]) == (1, 1)
    assert len(notifications_of(recent_owner)) == 1
    assert outbox_of(old_owner) == []

    # Skipped means never sent, however often the sweep runs again.
    sweep(at(2026, 3, 10, 12), "task_due_today")
    assert outbox_of(old_owner) == [] and len(reminders_of("task_due_today")) == 2


def test_the_catch_up_window_is_a_setting(make_user, make_task):
    set_setting("reminder_catch_up_hours", 12)
    db.session.commit()
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 9))
    sweep(at(2026, 3, 10, 7), "task_due_today")
    assert [r.status for r in reminders_of("task_due_today")] == [ReminderStatus.SKIPPED]


def test_a_recipient_only_gets_reminders_on_enterprises_in_their_scope(make_user, make_task, make_enterprise):
    elsewhere = make_user("bureau", areas=["350500"])  # Quanzhou staff owning a task of a Fuzhou enterprise
    manager = make_user("manager")
    elsewhere.manager_id = manager.id
    db.session.commit()
    make_task(owner=elsewhere, due_on=date(2026, 3, 3), enterprise=make_enterprise(area="350100"))

    report = sweep(at(2026, 3, 10, 8), "task_overdue_7d")
    assert recipients_of("task_overdue_7d") == {manager.id}
    assert report["rules"]["task_overdue_7d"]["out_of_scope"] == 1
    assert outbox_of(elsewhere) == []


def test_inactive_users_are_not_reminded(make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    owner.is_active = False
    db.session.commit()
    make_task(owner=owner, due_on=date(2026, 3, 10))
    report = sweep(at(2026, 3, 10, 8), "task_due_today")
    assert reminders_of("task_due_today") == [] and report["rules"]["task_due_today"]["inactive"] == 1


def test_texts_follow_the_recipients_language(make_user, make_task):
    chinese = make_user("bureau", areas=["350100"])
    english = make_user("bureau", areas=["350100"], language="en")
    make_task(owner=chinese, due_on=date(2026, 3, 13), title="完善内部审计制度")
    make_task(owner=english, due_on=date(2026, 3, 13), title="Internal audit procedure")
    sweep(at(2026, 3, 10, 8), "task_due_3d")
    [zh] = notifications_of(chinese)
    [en] = notifications_of(english)
    assert zh.title.startswith("【任务提醒】") and "2026年3月13日" in zh.title
    assert en.title.startswith("[Task]") and "Mar 13, 2026" in en.title
    email = next(m for m in outbox_of(english) if m.channel == Channel.EMAIL)
    assert "reminder rule" in email.body_text and email.to_address == english.email


def test_a_contact_owning_a_task_is_reminded_by_email_only(make_enterprise, make_task):
    from crm.enterprises.models import Contact

    enterprise = make_enterprise()
    contact = Contact(enterprise_id=enterprise.id, name="林关务", email="lin@enterprise.test")
    db.session.add(contact)
    db.session.commit()
    make_task(owner_contact=contact, due_on=date(2026, 3, 10), enterprise=enterprise)
    sweep(at(2026, 3, 10, 8), "task_due_today")
    [reminder] = reminders_of("task_due_today")
    assert reminder.user_id is None and reminder.recipient_key == "email:lin@enterprise.test"
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "lin@enterprise.test")).all()
    assert [m.channel for m in messages] == [Channel.EMAIL]


def test_rules_that_are_off_do_not_fire(make_user, make_task):
    rule = db.session.scalars(select(ReminderRule).where(ReminderRule.code == "task_due_today")).one()
    rule.is_active = False
    db.session.commit()
    make_task(owner=make_user("bureau", areas=["350100"]), due_on=date(2026, 3, 10))
    report = sweep(at(2026, 3, 10, 8))
    assert "task_due_today" not in report["rules"] and reminders_of("task_due_today") == []


def test_every_seeded_rule_has_a_watcher():
    report = sweep(at(2026, 3, 10, 8))
    assert report["failed_rules"] == 0 and report["unavailable_rules"] == 0
    assert {result["status"] for result in report["rules"].values()} == {"ok"}
    assert "event_3d" in report["rules"] and "event_tomorrow" in report["rules"]


def test_a_rule_whose_watcher_is_not_available_is_reported_not_failed(monkeypatch):
    monkeypatch.setitem(WATCHERS, "event_start", replace(WATCHERS["event_start"], function=None))
    report = sweep(at(2026, 3, 10, 8))
    unavailable = {code for code, result in report["rules"].items() if result["status"] == "unavailable"}
    assert unavailable == {"event_3d", "event_tomorrow"}
    assert report["failed_rules"] == 0 and report["unavailable_rules"] == 2


def broken_watcher(rule, sweep):
    """Finds the tasks, then crashes halfway (a bug in a watcher)."""
    yield from cultivation_tasks(rule, sweep)
    raise RuntimeError("lost the database halfway")


def test_a_crashing_watcher_leaves_nothing_half_written_and_the_other_rules_run(
    monkeypatch, make_user, make_task, make_enterprise
):
    monkeypatch.setitem(WATCHERS, "task_due", replace(WATCHERS["task_due"], function=f"{__name__}:broken_watcher"))
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 10))
    officer = make_user("customs", offices=["fz-mawei"])
    make_enterprise(stage="pooled", stage_entered_at=at(2026, 2, 7), customs_officer_id=officer.id)  # stale 10 March

    report = sweep(at(2026, 3, 10, 8), "task_due_today", "stage_sla")
    assert report["rules"]["task_due_today"]["status"] == "failed"
    assert "lost the database halfway" in report["rules"]["task_due_today"]["error"]
    assert reminders_of("task_due_today") == [] and outbox_of(owner) == []
    assert report["rules"]["stage_sla"]["status"] == "ok" and recipients_of("stage_sla") == {officer.id}


def test_emails_without_a_mail_server_wait_in_the_outbox(make_user, make_task):
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 10))
    sweep(at(2026, 3, 10, 8), "task_due_today")
    statuses = {m.channel: m.status for m in outbox_of(owner)}
    assert statuses == {Channel.IN_APP: OutboxStatus.SENT, Channel.EMAIL: OutboxStatus.PENDING}
    assert count(Reminder) == 1


def test_anchor_range_covers_the_catch_up_window():
    from crm.notifications.reminders import make_sweep

    rule = ReminderRule(offset_days=-3)
    window = make_sweep(at(2026, 3, 10, 8))
    first, last = window.anchor_range(rule)
    assert last == date(2026, 3, 13)
    assert window.first_day == date(2026, 3, 10) - timedelta(days=2 + 7)
    assert first == window.first_day + timedelta(days=3)


def test_late_reminders_are_written_in_batches_once_each(make_user, make_task, monkeypatch):
    from crm.notifications import reminders

    monkeypatch.setattr(reminders, "LATE_BATCH", 2)  # five late reminders: batches of 2, 2 and 1
    owners = [make_user("bureau", areas=["350100"]) for _ in range(5)]
    for owner in owners:
        make_task(owner=owner, due_on=date(2026, 3, 7))  # "due today" three days ago: recorded, not sent
    fresh = make_user("bureau", areas=["350100"])
    make_task(owner=fresh, due_on=date(2026, 3, 10))

    first = sweep(at(2026, 3, 10, 7), "task_due_today")
    assert (first["sent"], first["skipped"], first["duplicate"]) == (1, 5, 0)
    statuses = {r.user_id: r.status for r in reminders_of("task_due_today")}
    assert statuses == {**{o.id: ReminderStatus.SKIPPED for o in owners}, fresh.id: ReminderStatus.SENT}
    assert all(outbox_of(owner) == [] for owner in owners)

    # Recorded once: a later sweep (and one that does not know what is recorded) finds them all there.
    monkeypatch.setattr(reminders, "_recorded_keys", lambda rule, sweep: set())
    again = sweep(at(2026, 3, 10, 12), "task_due_today")
    assert (again["sent"], again["skipped"], again["duplicate"]) == (0, 0, 6)
    assert len(reminders_of("task_due_today")) == 6
