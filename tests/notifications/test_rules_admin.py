"""Reminder rules are data administrators edit: name, on/off, offset, recipients, channels, texts in two languages."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.notifications.models import ReminderRule
from crm.notifications.registry import WATCHERS
from crm.notifications.services import seed_reminder_rules
from tests.notifications.conftest import at, notifications_of, reminders_of, sweep

SEEDED = {
    "task_due_3d": ("task_due", -3),
    "task_due_today": ("task_due", 0),
    "task_overdue": ("task_due", 1),
    "task_overdue_7d": ("task_due", 7),
    "visit_tomorrow": ("visit_planned", -1),
    "event_3d": ("event_start", -3),
    "event_tomorrow": ("event_start", -1),
    "stage_sla": ("stage_sla", 0),
    "certification_decision_14d": ("certification_decision", -14),
    "reverification_90d": ("reverification", -90),
    "reverification_30d": ("reverification", -30),
    "audited_report_due": ("audited_report", -30),
    "internal_audit_missing": ("internal_audit", 0),
    "plan_target_passed": ("plan_target", 1),
}


def rule(code: str) -> ReminderRule:
    return db.session.scalars(select(ReminderRule).where(ReminderRule.code == code)).one()


def form_of(row: ReminderRule, **changes) -> dict:
    data = {
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "offset_days": str(row.offset_days),
        "subject_zh": row.subject_zh,
        "body_zh": row.body_zh,
        "subject_en": row.subject_en,
        "body_en": row.body_en,
    }
    if row.is_active:
        data["is_active"] = "y"
    for code, channels in (row.recipients or {}).items():
        for channel in channels:
            data[f"to_{code}_{channel}"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_every_rule_of_the_issue_is_seeded_with_a_known_watcher():
    rows = {r.code: (r.watch, r.offset_days) for r in db.session.scalars(select(ReminderRule))}
    assert rows == SEEDED
    for row in db.session.scalars(select(ReminderRule)):
        spec = WATCHERS[row.watch]
        assert row.recipients and set(row.recipients) <= {r.code for r in spec.recipients}
        for code, channels in row.recipients.items():
            assert set(channels) <= {c.value for c in spec.recipient(code).channels}
        assert row.subject_zh and row.body_zh and row.subject_en and row.body_en
    events = rule("event_3d").recipients
    assert events == {"attendees": ["email"], "organisers": ["in_app"]}
    assert set(rule("task_overdue_7d").recipients) == {"owner", "owner_manager"}
    assert set(rule("reverification_30d").recipients) == {"coordinator", "customs_officer"}


def test_seeded_templates_use_only_their_watchers_placeholders():
    from crm.notifications.templating import template_problems

    for row in db.session.scalars(select(ReminderRule)):
        allowed = set(WATCHERS[row.watch].all_placeholders)
        for text in (row.subject_zh, row.body_zh, row.subject_en, row.body_en):
            assert template_problems(text, allowed) == (None, []), (row.code, text)


def test_seeding_again_keeps_an_administrators_edits():
    row = rule("task_due_3d")
    row.offset_days = -5
    db.session.commit()
    assert seed_reminder_rules() == 0
    assert rule("task_due_3d").offset_days == -5
    seed_reminder_rules(update=True)
    assert rule("task_due_3d").offset_days == -3


@pytest.mark.parametrize("role", ["manager", "bureau", "customs", "viewer"])
def test_only_administrators_manage_rules(client, make_user, role):
    client.login(make_user(role, areas=["350100"]) if role in ("bureau", "viewer") else make_user(role))
    row = rule("stage_sla")
    assert client.get("/admin/reminders/").status_code == 403
    assert client.get(f"/admin/reminders/{row.id}").status_code == 403
    assert client.post_form(f"/admin/reminders/{row.id}", form_of(row, offset_days="3")).status_code == 403
    assert rule("stage_sla").offset_days == 0


def test_the_rules_list_shows_each_rule_and_unavailable_watchers(client, make_user, monkeypatch):
    client.login(make_user("admin"))
    body = client.get("/admin/reminders/").get_data(as_text=True)
    for code in SEEDED:
        assert f"/admin/reminders/{rule(code).id}" in body
    assert "Watcher not available" not in body and "暂不可用" not in body  # every seeded rule has its watcher
    monkeypatch.setitem(WATCHERS, "event_start", replace(WATCHERS["event_start"], function=None))
    body = client.get("/admin/reminders/").get_data(as_text=True)
    assert "Watcher not available" in body or "暂不可用" in body


def test_an_administrator_changes_offset_recipients_and_texts(client, make_user, make_task):
    client.login(make_user("admin"))
    row = rule("task_due_3d")
    page = client.get(f"/admin/reminders/{row.id}").get_data(as_text=True)
    assert 'name="to_owner_manager_email"' in page and "{{ task }}" in page
    response = client.post_form(
        f"/admin/reminders/{row.id}",
        form_of(
            row,
            offset_days="-2",
            to_owner_email=None,
            to_owner_manager_in_app="y",
            subject_zh="请关注：{{ task }}（{{ due_date }}到期）",
        ),
    )
    assert response.status_code == 302
    row = rule("task_due_3d")
    assert row.offset_days == -2
    assert row.recipients == {"owner": ["in_app"], "owner_manager": ["in_app"]}

    manager = make_user("manager")
    owner = make_user("bureau", areas=["350100"])
    owner.manager_id = manager.id
    db.session.commit()
    make_task(owner=owner, due_on=date(2026, 3, 12), title="更新关务制度")
    sweep(at(2026, 3, 10, 8), "task_due_3d")
    [notification] = notifications_of(owner)
    assert notification.title == "请关注：更新关务制度（2026年3月12日到期）"
    assert len(notifications_of(manager)) == 1
    assert all(r.to_address for r in reminders_of("task_due_3d"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject_zh", "{{ nonsense }}", "nonsense"),
        ("body_en", "{% if %}", "Expected an expression"),
        ("offset_days", "400", "366"),
        ("name_zh", "", ""),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(client, make_user, field, value, message):
    client.login(make_user("admin"))
    row = rule("task_due_today")
    before = (row.subject_zh, row.body_en, row.offset_days, row.name_zh)
    response = client.post_form(f"/admin/reminders/{row.id}", form_of(row, **{field: value}))
    assert response.status_code == 200
    error = re.search(rf'id="{field}-error">(.*?)</div>\s*</div>', response.get_data(as_text=True), re.S)
    assert error and message in error.group(1)
    db.session.expire_all()
    row = rule("task_due_today")
    assert (row.subject_zh, row.body_en, row.offset_days, row.name_zh) == before


def test_an_active_rule_needs_a_recipient(client, make_user):
    client.login(make_user("admin"))
    row = rule("task_due_today")
    response = client.post_form(f"/admin/reminders/{row.id}", form_of(row, to_owner_in_app=None, to_owner_email=None))
    assert response.status_code == 200 and "alert-danger" in response.get_data(as_text=True)
    response = client.post_form(
        f"/admin/reminders/{row.id}", form_of(row, to_owner_in_app=None, to_owner_email=None, is_active=None)
    )
    assert response.status_code == 302 and rule("task_due_today").is_active is False


def test_a_new_rule_watches_what_the_administrator_chooses(client, make_user, make_task):
    client.login(make_user("admin"))
    choose = client.get("/admin/reminders/new").get_data(as_text=True)
    assert "/admin/reminders/new?watch=task_due" in choose and "/admin/reminders/new?watch=visit_planned" in choose
    count = db.session.scalar(select(func.count()).select_from(ReminderRule))
    response = client.post_form(
        "/admin/reminders/new?watch=task_due",
        {
            "name_zh": "培育任务明日到期",
            "name_en": "Cultivation task due tomorrow",
            "is_active": "y",
            "offset_days": "-1",
            "to_owner_in_app": "y",
            "subject_zh": "明日到期：{{ task }}",
            "body_zh": "{{ enterprise }}",
            "subject_en": "Due tomorrow: {{ task }}",
            "body_en": "{{ enterprise }}",
        },
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ReminderRule)) == count + 1
    new = db.session.scalars(select(ReminderRule).order_by(ReminderRule.id.desc())).first()
    assert new.code == f"custom_{new.id}" and new.watch == "task_due" and new.recipients == {"owner": ["in_app"]}
    owner = make_user("bureau", areas=["350100"])
    make_task(owner=owner, due_on=date(2026, 3, 11), title="补充财务报表")
    sweep(at(2026, 3, 10, 8), new.code)
    assert [n.title for n in notifications_of(owner)] == ["明日到期：补充财务报表"]


def test_a_rule_waiting_for_its_records_can_be_edited(client, make_user, monkeypatch):
    client.login(make_user("admin"))
    row = rule("event_tomorrow")
    page = client.get(f"/admin/reminders/{row.id}").get_data(as_text=True)
    assert "alert-secondary" not in page and 'name="to_attendees_email"' in page
    monkeypatch.setitem(WATCHERS, "event_start", replace(WATCHERS["event_start"], function=None))
    page = client.get(f"/admin/reminders/{row.id}").get_data(as_text=True)
    assert "alert-secondary" in page and 'name="to_attendees_email"' in page
    assert 'name="to_attendees_in_app"' not in page  # people outside the CRM can only be emailed
    response = client.post_form(f"/admin/reminders/{row.id}", form_of(row, offset_days="-2"))
    assert response.status_code == 302 and rule("event_tomorrow").offset_days == -2
    assert client.get("/admin/reminders/999999").status_code == 404
