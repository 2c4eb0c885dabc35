"""Logging and planning visits from the form: a planned visit becomes done when logged; follow-ups become
cultivation tasks linked to the visit and to items; problems on items set judgements in the officer draft."""

from __future__ import annotations

import io
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from crm.core.files import StoredFile
from crm.core.timeutil import local_today, to_local
from crm.extensions import db
from crm.plans.models import CultivationTask, PlanStatus, TaskStatus
from crm.standards.models import Assessment, AssessmentKind, AssessmentResult, Judgement
from crm.visits.models import Visit, VisitKind, VisitStatus
from crm.visits.services import (
    MINUTES_OWNER,
    PHOTO_OWNER,
    Finding,
    FollowUp,
    VisitData,
    VisitError,
    create_visit,
    local_datetime,
)

from .conftest import checked_status, form_data

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test minutes\n"


def _visits(enterprise) -> list[Visit]:
    return list(db.session.scalars(select(Visit).where(Visit.enterprise_id == enterprise.id).order_by(Visit.id)))


def test_logging_a_visit_saves_everything_typed(client, officer, make_user, make_enterprise, make_contact):
    enterprise = make_enterprise(address="福州市马尾区江滨东大道")
    contact = make_contact(enterprise)
    colleague = make_user("bureau", areas=["350100"], display_name="陈商务")
    client.login(officer)
    form = client.get(f"/enterprises/{enterprise.id}/visits/new").get_data(as_text=True)
    assert "福州市马尾区江滨东大道" in form  # the location defaults to the enterprise's address
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id), participants=[str(officer.id), str(colleague.id)], contacts=[str(contact.id)]
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    [visit] = _visits(enterprise)
    assert response.headers["Location"].endswith(f"/visits/{visit.id}")
    assert visit.status == VisitStatus.DONE and visit.kind == VisitKind.ONSITE
    assert visit.logged_at is not None
    assert to_local(visit.starts_at).time() == time(10, 0)
    assert to_local(visit.starts_at).date() == local_today() - timedelta(days=1)
    assert visit.duration_minutes == 90
    assert visit.officer_id == officer.id
    assert {u.id for u in visit.participants} == {officer.id, colleague.id}
    assert [c.id for c in visit.contacts] == [contact.id]
    assert visit.attendee_names == ["关务经理 王女士", "财务总监 陈先生"]
    assert visit.free_topics == ["AEO互认", "内部审计"]
    assert visit.summary == "查看单证管理流程。" and visit.requests == "希望安排培训。"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "查看单证管理流程。" in page and "陈商务" in page and "王关务" in page


def test_a_planned_visit_becomes_done_when_logged(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    page = client.get(f"/enterprises/{enterprise.id}/visits/new?status=planned").get_data(as_text=True)
    assert checked_status(page) == "planned"
    tomorrow = local_today() + timedelta(days=1)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new?status=planned",
        form_data(status="planned", visit_date=tomorrow.isoformat(), visit_time="14:30", officer_id=str(officer.id)),
    )
    assert response.status_code == 302
    [visit] = _visits(enterprise)
    assert visit.status == VisitStatus.PLANNED and visit.logged_at is None
    assert visit.requests == ""  # the enterprise's requests come with the visit that took place
    assert [u.id for u in visit.participants] == [officer.id]

    log_page = client.get(f"/visits/{visit.id}/log").get_data(as_text=True)
    assert checked_status(log_page) == "done"
    # The day has not come yet, so logging proposes today rather than a future date.
    assert f'value="{local_today().isoformat()}"' in log_page
    response = client.post_form(
        f"/visits/{visit.id}/log",
        form_data(
            visit_date=local_today().isoformat(), visit_time="09:00", officer_id=str(officer.id), summary="已走访"
        ),
    )
    assert response.status_code == 302
    db.session.refresh(visit)
    assert _visits(enterprise) == [visit]  # the same visit, not a second one
    assert visit.status == VisitStatus.DONE and visit.logged_at is not None and visit.summary == "已走访"
    # A logged visit cannot be logged again.
    assert client.get(f"/visits/{visit.id}/log").status_code == 302


def test_a_visit_that_took_place_cannot_be_in_the_future(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    tomorrow = local_today() + timedelta(days=1)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(visit_date=tomorrow.isoformat(), officer_id=str(officer.id), summary="保留这段文字"),
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "不能晚于今天" in body or "cannot be dated in the future" in body
    assert "保留这段文字" in body  # what was typed comes back
    assert _visits(enterprise) == []


def test_follow_ups_become_tasks_linked_to_the_visit_and_items(
    client, officer, make_enterprise, make_contact, make_plan, standard
):
    enterprise = make_enterprise()
    contact = make_contact(enterprise)
    plan = make_plan(enterprise)
    item = standard.by_number[2]
    client.login(officer)
    due = local_today() + timedelta(days=30)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id),
            items=[str(standard.by_number[1].id), str(item.id)],
            **{
                "follow_ups-0-title": "修订单证管理制度",
                "follow_ups-0-item_id": str(item.id),
                "follow_ups-0-owner": f"c:{contact.id}",
                "follow_ups-0-due_on": due.isoformat(),
                "follow_ups-1-title": "补充视频监控",
                "follow_ups-1-item_id": str(standard.by_number[3].id),
                "follow_ups-1-owner": f"u:{officer.id}",
                "follow_ups-1-due_on": "",
            },
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    [visit] = _visits(enterprise)
    assert [i.number for i in visit.items] == [1, 2]
    tasks = db.session.scalars(select(CultivationTask).order_by(CultivationTask.id)).all()
    assert [t.title for t in tasks] == ["修订单证管理制度", "补充视频监控"]
    first, second = tasks
    assert first.plan_id == plan.id and first.enterprise_id == enterprise.id
    assert (first.source_kind, first.source_id) == ("visit", visit.id)
    assert [i.id for i in first.items] == [item.id]
    assert first.owner_contact_id == contact.id and first.owner_id is None and first.due_on == due
    assert first.status == TaskStatus.TODO
    assert second.owner_id == officer.id and [i.number for i in second.items] == [3]
    assert visit.pending_follow_ups == []
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "修订单证管理制度" in page and "补充视频监控" in page


def test_without_an_active_plan_follow_ups_wait_and_the_visit_is_saved(
    client, officer, make_enterprise, make_plan, standard
):
    enterprise = make_enterprise()
    make_plan(enterprise, status=PlanStatus.DRAFT)  # a draft plan is not in force
    client.login(officer)
    form = client.get(f"/enterprises/{enterprise.id}/visits/new").get_data(as_text=True)
    assert "没有生效的培育方案" in form or "no active cultivation plan" in form
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id),
            summary="整改事项较多",
            **{"follow_ups-0-title": "建立内部审计制度", "follow_ups-0-item_id": str(standard.by_number[1].id)},
        ),
        follow_redirects=True,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    [visit] = _visits(enterprise)
    assert visit.summary == "整改事项较多"
    assert db.session.scalars(select(CultivationTask)).all() == []
    assert [f["title"] for f in visit.pending_follow_ups] == ["建立内部审计制度"]
    assert visit.pending_follow_ups[0]["item_ids"] == [standard.by_number[1].id]
    assert "建立内部审计制度" in body
    assert "没有生效的培育方案" in body or "no active cultivation plan" in body

    # Still no plan: placing them says so and changes nothing.
    client.post_form(f"/visits/{visit.id}/follow-ups")
    assert db.session.scalars(select(CultivationTask)).all() == []
    # Once a plan is in force, the waiting follow-ups become tasks linked to the visit.
    plan = make_plan(enterprise)
    response = client.post_form(f"/visits/{visit.id}/follow-ups")
    assert response.status_code == 302
    [task] = db.session.scalars(select(CultivationTask)).all()
    assert task.plan_id == plan.id and (task.source_kind, task.source_id) == ("visit", visit.id)
    assert [i.number for i in task.items] == [1]
    db.session.refresh(visit)
    assert visit.pending_follow_ups == []


def test_a_problem_on_an_item_sets_its_judgement_in_the_officer_draft(client, officer, make_enterprise, standard):
    enterprise = make_enterprise()
    item = standard.by_number[3]
    client.login(officer)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id),
            **{
                "findings-0-item_id": str(item.id),
                "findings-0-description": "仓库东侧无监控",
                "findings-0-judgement": "fail",
                "findings-1-item_id": "",
                "findings-1-description": "关务人员流动大",
                "findings-1-judgement": "",
            },
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    [visit] = _visits(enterprise)
    [draft] = db.session.scalars(select(Assessment).where(Assessment.enterprise_id == enterprise.id)).all()
    assert draft.kind == AssessmentKind.OFFICER and draft.is_draft and draft.version_id == standard.version.id
    [result] = db.session.scalars(
        select(AssessmentResult).where(
            AssessmentResult.assessment_id == draft.id, AssessmentResult.judgement != Judgement.PENDING
        )
    ).all()
    assert result.item_id == item.id and result.judgement == Judgement.FAIL
    assert "仓库东侧无监控" in result.evidence and result.judged_by_id == officer.id
    first, second = visit.findings
    assert (first.item_id, first.judgement, first.assessment_id) == (item.id, Judgement.FAIL, draft.id)
    assert (second.item_id, second.judgement, second.assessment_id) == (None, None, None)

    # The officer later re-judges the item on the assessment; editing the visit does not undo that.
    result.judgement = Judgement.BASIC
    db.session.commit()
    response = client.post_form(
        f"/visits/{visit.id}/edit",
        form_data(
            officer_id=str(officer.id),
            summary="补充说明",
            **{
                "findings-0-item_id": str(item.id),
                "findings-0-description": "仓库东侧无监控",
                "findings-0-judgement": "fail",
            },
        ),
    )
    assert response.status_code == 302
    db.session.refresh(result)
    assert result.judgement == Judgement.BASIC
    # A second visit with a new problem goes into the same open draft.
    client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id),
            **{
                "findings-0-item_id": str(standard.by_number[4].id),
                "findings-0-description": "访客登记不全",
                "findings-0-judgement": "basic",
            },
        ),
    )
    assert db.session.scalars(select(Assessment).where(Assessment.enterprise_id == enterprise.id)).all() == [draft]
    judged = {
        r.item_id: r.judgement
        for r in db.session.scalars(select(AssessmentResult).where(AssessmentResult.judgement != Judgement.PENDING))
    }
    assert judged == {item.id: Judgement.BASIC, standard.by_number[4].id: Judgement.BASIC}


def test_a_judgement_needs_an_item(client, officer, make_enterprise, standard):
    enterprise = make_enterprise()
    client.login(officer)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(
            officer_id=str(officer.id),
            **{"findings-0-description": "制度不健全", "findings-0-judgement": "fail"},
        ),
    )
    assert response.status_code == 422
    assert _visits(enterprise) == []
    assert db.session.scalars(select(Assessment)).all() == []


def test_without_a_standard_for_the_tier_the_visit_is_saved_and_says_why(officer, make_enterprise, standard):
    enterprise = make_enterprise(target_tier="aeo")  # only the advanced standard exists
    data = VisitData(
        status=VisitStatus.DONE,
        kind=VisitKind.PHONE,
        starts_at=local_datetime(local_today(), time(8, 0)),
        officer=officer,
        findings=[Finding(description="财务指标不达标", item=standard.by_number[1], judgement=Judgement.FAIL)],
    )
    outcome = create_visit(enterprise, data, by=officer)
    assert outcome.visit.id is not None and outcome.judgements == []
    assert outcome.judgement_problems and outcome.visit.findings[0].assessment_id is None


def test_problems_and_follow_ups_wait_for_the_visit_to_take_place(officer, make_enterprise):
    enterprise = make_enterprise()
    data = VisitData(
        status=VisitStatus.PLANNED,
        kind=VisitKind.ONSITE,
        starts_at=local_datetime(local_today() + timedelta(days=3), time(9, 0)),
        officer=officer,
        findings=[Finding(description="x")],
        follow_ups=[FollowUp(title="y")],
    )
    with pytest.raises(VisitError) as raised:
        create_visit(enterprise, data, by=officer)
    assert set(raised.value.errors) == {"problems", "follow_ups"}


def test_logging_can_put_the_next_visit_on_the_calendar(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    next_day = local_today() + timedelta(days=21)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new",
        form_data(officer_id=str(officer.id), next_visit_on=next_day.isoformat(), plan_next="y"),
    )
    assert response.status_code == 302
    done, planned = _visits(enterprise)
    assert done.next_visit_on == next_day
    assert planned.status == VisitStatus.PLANNED and to_local(planned.starts_at).date() == next_day
    assert [u.id for u in planned.participants] == [officer.id]


def test_cancelling_a_planned_visit_needs_a_reason(client, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    visit = make_visit(enterprise, officer, day=local_today() + timedelta(days=2), status=VisitStatus.PLANNED)
    client.login(officer)
    client.post_form(f"/visits/{visit.id}/cancel", {"reason": ""})
    assert visit.status == VisitStatus.PLANNED
    client.post_form(f"/visits/{visit.id}/cancel", {"reason": "企业负责人出差"})
    db.session.refresh(visit)
    assert visit.status == VisitStatus.CANCELLED and visit.cancel_reason == "企业负责人出差"
    # A cancelled visit is not edited any more.
    assert client.get(f"/visits/{visit.id}/edit").status_code == 302


def test_photos_and_signed_minutes_are_stored_and_served_within_scope(client, officer, make_user, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    data = form_data(officer_id=str(officer.id))
    data["photos"] = [(io.BytesIO(PNG), "现场.png")]
    data["minutes"] = [(io.BytesIO(PDF), "签字纪要.pdf")]
    response = client.post_form(f"/enterprises/{enterprise.id}/visits/new", data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    [visit] = _visits(enterprise)
    files = db.session.scalars(select(StoredFile).where(StoredFile.owner_id == visit.id)).all()
    assert {(f.owner_type, f.kind) for f in files} == {(PHOTO_OWNER, "png"), (MINUTES_OWNER, "pdf")}
    assert all(f.enterprise_id == enterprise.id for f in files)
    photo = next(f for f in files if f.owner_type == PHOTO_OWNER)
    download = client.get(f"/visits/{visit.id}/files/{photo.id}?inline=1")
    assert download.status_code == 200 and download.data == PNG
    download.close()
    stranger = make_user("customs", offices=["xm-quanzhou"])
    client.login(stranger)
    assert client.get(f"/visits/{visit.id}/files/{photo.id}").status_code == 404


def test_a_refused_attachment_saves_nothing_and_keeps_the_text(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    data = form_data(officer_id=str(officer.id), summary="不要丢失")
    data["photos"] = [(io.BytesIO(b"just some text, not a photo"), "photo.png")]
    response = client.post_form(f"/enterprises/{enterprise.id}/visits/new", data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "不要丢失" in response.get_data(as_text=True)
    assert _visits(enterprise) == []
    assert db.session.scalars(select(StoredFile)).all() == []
