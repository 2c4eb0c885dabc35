"""The planned-visit reminder (rule ``visit_tomorrow``): the day before, to the visit's officers, within scope,
once; not for visits logged or cancelled."""

from __future__ import annotations

from datetime import date, time

from crm.visits.models import VisitStatus
from crm.visits.services import cancel_visit
from tests.notifications.conftest import at, notifications_of, reminders_of, sweep


def test_officers_are_reminded_the_day_before_a_planned_visit(officer, make_user, make_enterprise, make_visit):
    colleague = make_user("bureau", areas=["350100"], display_name="陈商务")
    outsider = make_user("bureau", areas=["350500"])  # takes part, but the enterprise is not in their scope
    enterprise = make_enterprise(name="福州甲公司", address="马尾区")
    visit = make_visit(
        enterprise,
        officer,
        day=date(2026, 3, 11),
        at=time(9, 30),
        status=VisitStatus.PLANNED,
        participants=[colleague, outsider],
        location="企业会议室",
    )
    logged = make_visit(enterprise, officer, day=date(2026, 3, 11), at=time(14, 0), status=VisitStatus.PLANNED)
    logged.status = VisitStatus.DONE
    cancelled = make_visit(enterprise, officer, day=date(2026, 3, 11), at=time(16, 0), status=VisitStatus.PLANNED)
    cancel_visit(cancelled, reason="改期")
    make_visit(enterprise, officer, day=date(2026, 3, 12), status=VisitStatus.PLANNED)  # the day after: not yet

    report = sweep(at(2026, 3, 10, 7), "visit_tomorrow")
    assert report["rules"]["visit_tomorrow"]["status"] == "ok"
    reminders = reminders_of("visit_tomorrow")
    assert {r.user_id for r in reminders} == {officer.id, colleague.id}
    assert {r.record_id for r in reminders} == {visit.id}
    assert {r.due_on for r in reminders} == {date(2026, 3, 11)}
    [notification] = notifications_of(officer)
    assert "福州甲公司" in notification.title and notification.url == f"/visits/{visit.id}"
    assert "实地走访" in notification.body and "企业会议室" in notification.body and "09:30" in notification.body

    sweep(at(2026, 3, 10, 12), "visit_tomorrow")  # once only
    assert len(reminders_of("visit_tomorrow")) == 2
