"""Training attendance feeds the plan: attending an event on a topic completes the matching open tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.core.timeutil import local_date
from crm.events.models import EventTaskCompletion
from crm.events.services import Attendee, check_in, register_attendee, undo_check_in
from crm.extensions import db
from crm.plans.models import Plan, PlanStatus, TaskStatus
from crm.plans.services import create_task


class _Staff:
    id = None


@pytest.fixture
def cultivated(make_enterprise, make_user, standard_items):
    """An enterprise with an active plan: one task per standard item, one task without items, one done."""
    enterprise = make_enterprise(area="350500", office="xm-quanzhou", stage="cultivating")
    owner = make_user("bureau", areas=["350500"])
    plan = Plan(enterprise_id=enterprise.id, status=PlanStatus.ACTIVE, goal="2026年申请高级认证")
    db.session.add(plan)
    db.session.flush()
    tasks = {
        "controls": create_task(plan, title="完善关务内部控制制度", items=[standard_items[0]], owner=owner),
        "documents": create_task(plan, title="建立单证复核流程", items=[standard_items[1]], owner=owner),
        "other": create_task(plan, title="整理近三年财务报表"),
        "visit": create_task(
            plan, title="参加单证控制培训", items=[standard_items[1]], source_kind="visit", source_id=7
        ),
    }
    done = create_task(plan, title="已完成的关务培训", items=[standard_items[0]])
    done.status = TaskStatus.DONE
    done.completion_note = "早已完成"
    tasks["done"] = done
    db.session.commit()
    return enterprise, tasks, owner


def _attend(event, enterprise, invite, name="王小明", mobile="13800138000", by=None):
    invitation = event.invitations[0] if event.invitations else invite(event, enterprise)[0]
    registration = register_attendee(invitation, Attendee(name, "关务经理", mobile), by=_Staff())
    outcome = check_in(registration, by=by)
    db.session.commit()
    return registration, outcome


def test_attendance_completes_the_tasks_on_the_events_topics(make_event, invite, cultivated, standard_items):
    enterprise, tasks, owner = cultivated
    event = make_event(starts_in=-timedelta(hours=1), topics=[standard_items[1]])
    _registration, outcome = _attend(event, enterprise, invite, by=owner)

    assert {t.id for t in outcome.completed_tasks} == {tasks["documents"].id, tasks["visit"].id}
    documents = tasks["documents"]
    assert documents.status == TaskStatus.DONE
    assert documents.completed_on == local_date(event.starts_at)
    assert f"/events/{event.id}" in documents.completion_note and event.title in documents.completion_note
    assert (documents.source_kind, documents.source_id) == ("event", event.id)
    # A task that came from elsewhere keeps its origin; the note still links the event.
    assert (tasks["visit"].source_kind, tasks["visit"].source_id) == ("visit", 7)
    assert tasks["visit"].status == TaskStatus.DONE
    for untouched in ("controls", "other"):
        assert tasks[untouched].status == TaskStatus.TODO
    assert tasks["done"].completion_note == "早已完成"
    # The task's owner hears about it in the CRM.
    from sqlalchemy import select

    from crm.notifications.models import OutboxMessage

    notes = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == owner.id)).all()
    assert any(tasks["documents"].title in n.subject for n in notes)


def test_a_second_attendee_changes_nothing_and_undo_reopens_after_the_last(
    make_event, invite, cultivated, standard_items
):
    enterprise, tasks, _owner = cultivated
    event = make_event(starts_in=-timedelta(hours=1), topics=[standard_items[0], standard_items[1]])
    first, _ = _attend(event, enterprise, invite)
    second, outcome = _attend(event, enterprise, invite, name="李四", mobile="13900000000")
    assert outcome.completed_tasks == []
    completed = {"controls", "documents", "visit"}
    assert all(tasks[key].status == TaskStatus.DONE for key in completed)

    undo_check_in(first)
    assert all(tasks[key].status == TaskStatus.DONE for key in completed)  # the enterprise still attended
    undo_check_in(second)
    db.session.commit()
    for key in completed:
        assert tasks[key].status == TaskStatus.TODO
        assert tasks[key].completed_on is None and tasks[key].completion_note == ""
    assert tasks["documents"].source_kind is None
    assert (tasks["visit"].source_kind, tasks["visit"].source_id) == ("visit", 7)
    assert tasks["done"].status == TaskStatus.DONE
    assert db.session.query(EventTaskCompletion).count() == 0


def test_no_active_plan_or_no_topics_means_no_effect(make_event, invite, make_enterprise, cultivated, standard_items):
    enterprise, tasks, _owner = cultivated
    without_topics = make_event(starts_in=-timedelta(hours=1))
    assert _attend(without_topics, enterprise, invite)[1].completed_tasks == []
    assert tasks["controls"].status == TaskStatus.TODO

    other = make_enterprise(area="350500")
    event = make_event(starts_in=-timedelta(hours=1), topics=[standard_items[0]])
    assert _attend(event, other, invite)[1].completed_tasks == []
