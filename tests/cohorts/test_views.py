"""The cohort pages: scope, the member table and roll-up, joint actions, the list and board filters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.cohorts.models import Cohort, CohortMember
from crm.enterprises.models import CreditStatus, Enterprise
from crm.extensions import db


@pytest.fixture
def two_areas(make_enterprise, make_cohort):
    """A cohort led from Fuzhou with two Fuzhou members and one Quanzhou member."""
    lead = make_enterprise(name="福州母公司", credit_status=CreditStatus.AEO_ADVANCED)
    fz1 = make_enterprise(name="福州子公司甲", stage="pooled")
    fz2 = make_enterprise(name="福州分公司乙", stage="cultivating")
    qz = make_enterprise(name="泉州供应商丙", area="350500", office="xm-quanzhou")
    cohort = make_cohort(lead=lead, members=[(fz1, "subsidiary"), (fz2, "branch"), (qz, "supplier")])
    return cohort, lead, fz1, fz2, qz


def test_a_bureau_user_sees_only_their_members_and_is_told_others_exist(client, make_user, two_areas):
    cohort, _lead, _fz1, _fz2, _qz = two_areas
    quanzhou = make_user("bureau", areas=["350500"])
    client.login(quanzhou)
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "泉州供应商丙" in page
    assert "福州子公司甲" not in page and "福州分公司乙" not in page and "福州母公司" not in page
    assert 'data-hidden-members="2"' in page, "the page says that other members exist"
    assert 'data-rollup-members="1"' in page, "the roll-up counts the members in scope only"
    listing = client.get("/cohorts/").get_data(as_text=True)
    assert cohort.name in listing and "福州母公司" not in listing


def test_a_cohort_without_a_member_or_lead_in_scope_is_not_found(client, make_user, two_areas):
    cohort = two_areas[0]
    client.login(make_user("bureau", areas=["350200"]))
    assert client.get(f"/cohorts/{cohort.id}").status_code == 404
    assert cohort.name not in client.get("/cohorts/").get_data(as_text=True)
    assert (
        client.post_form(f"/cohorts/{cohort.id}/members", {"enterprise": "x", "relation": "other"}).status_code == 404
    )


def test_the_cohort_page_shows_stage_readiness_and_priority(client, make_user, two_areas):
    cohort = two_areas[0]
    client.login(make_user("admin"))
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    for name in ("福州子公司甲", "福州分公司乙", "泉州供应商丙", "福州母公司"):
        assert name in page
    assert "data-rollup-stages" in page and "cohort-priority" in page


def test_create_edit_and_add_members_through_the_pages(client, make_user, make_enterprise):
    bureau = make_user("bureau", areas=["350100"])
    lead, member = make_enterprise(name="链主企业"), make_enterprise(name="物流伙伴")
    client.login(bureau)
    response = client.post_form(
        "/cohorts/new", {"name": "链主 1+N", "kind": "supply_chain", "lead": lead.uscc.lower(), "notes": "试点"}
    )
    assert response.status_code == 302
    cohort = db.session.scalars(select(Cohort)).one()
    assert cohort.lead_enterprise_id == lead.id and cohort.kind == "supply_chain"
    client.post_form(f"/cohorts/{cohort.id}/members", {"enterprise": member.uscc, "relation": "logistics"})
    client.post_form(f"/cohorts/{cohort.id}/members", {"enterprise": lead.uscc, "relation": "other"})
    members = db.session.scalars(select(CohortMember)).all()
    assert [(m.enterprise_id, m.relation) for m in members] == [(member.id, "logistics")]
    response = client.post_form(
        f"/cohorts/{cohort.id}/edit", {"name": "链主 1+N（改）", "kind": "supply_chain", "lead": lead.uscc}
    )
    assert response.status_code == 302
    assert db.session.get(Cohort, cohort.id).name == "链主 1+N（改）"
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "物流伙伴" in page and "data-cohort-timeline" in page


def test_a_lead_outside_the_users_scope_is_refused(client, make_user, make_enterprise):
    outside = make_enterprise(area="350500", office="xm-quanzhou")
    client.login(make_user("bureau", areas=["350100"]))
    response = client.post_form("/cohorts/new", {"name": "越界", "kind": "group", "lead": outside.uscc})
    assert response.status_code == 200
    assert db.session.scalars(select(Cohort)).all() == []


def test_viewers_and_managers_cannot_edit(client, make_user, two_areas):
    cohort = two_areas[0]
    client.login(make_user("manager"))
    assert client.get("/cohorts/new").status_code == 403
    assert client.post_form(f"/cohorts/{cohort.id}/delete").status_code == 403
    assert client.get(f"/cohorts/{cohort.id}/transition").status_code == 200
    client.login(make_user("viewer", areas=["350100"]))
    assert client.get(f"/cohorts/{cohort.id}").status_code == 200
    assert client.get(f"/cohorts/{cohort.id}/transition").status_code == 403


def test_group_transition_page_reports_moved_and_blocked(client, make_user, make_enterprise, make_cohort):
    bureau = make_user("bureau", areas=["350100"])
    customs = make_user("customs", offices=["fz-mawei"])
    ok = make_enterprise(name="可推进", stage="pooled", commerce_officer_id=bureau.id, customs_officer_id=customs.id)
    stuck = make_enterprise(name="缺人员", stage="pooled")
    cohort = make_cohort(members=[(ok, "subsidiary"), (stuck, "branch")])
    client.login(bureau)
    response = client.post_form(
        f"/cohorts/{cohort.id}/transition", {"enterprise_ids": [ok.id, stuck.id], "to": "cultivating"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "data-moved" in page and "data-refused" in page
    assert db.session.get(Enterprise, ok.id).stage == "cultivating"
    assert db.session.get(Enterprise, stuck.id).stage == "pooled"


def test_list_and_board_filters_and_priority_badges(client, make_user, make_enterprise, two_areas):
    cohort, _lead, _fz1, _fz2, _qz = two_areas
    outsider = make_enterprise(name="无关企业")
    client.login(make_user("admin"))
    page = client.get("/enterprises/", query_string={"cohort": cohort.id}).get_data(as_text=True)
    assert "福州子公司甲" in page and "福州母公司" in page and "无关企业" not in page
    page = client.get("/enterprises/", query_string={"cohort_priority": "1"}).get_data(as_text=True)
    assert "福州子公司甲" in page and "泉州供应商丙" in page
    assert "无关企业" not in page and "福州母公司" not in page
    assert "cohort-priority" in page
    board = client.get("/pipeline/", query_string={"cohort_priority": "1"}).get_data(as_text=True)
    assert "福州子公司甲" in board and "无关企业" not in board and "cohort-priority" in board
    board = client.get("/pipeline/", query_string={"cohort": cohort.id}).get_data(as_text=True)
    assert "福州母公司" in board and outsider.name not in board


def test_the_enterprise_page_lists_its_cohorts(client, make_user, two_areas):
    cohort, lead, fz1, _fz2, _qz = two_areas
    client.login(make_user("admin"))
    page = client.get(f"/enterprises/{fz1.id}").get_data(as_text=True)
    assert 'id="cohorts"' in page and cohort.name in page and "cohort-priority" in page
    page = client.get(f"/enterprises/{lead.id}").get_data(as_text=True)
    assert cohort.name in page


def test_bulk_action_adds_the_selection_to_a_cohort(client, make_user, make_enterprise, make_cohort):
    bureau = make_user("bureau", areas=["350100"])
    lead, a = make_enterprise(), make_enterprise()
    outside = make_enterprise(area="350500", office="xm-quanzhou")
    cohort = make_cohort(lead=lead)
    client.login(bureau)
    response = client.post_form(
        "/enterprises/bulk",
        {
            "action": "add_to_cohort",
            "ids": [lead.id, a.id, outside.id],
            "add_to_cohort-cohort": cohort.id,
            "add_to_cohort-relation": "customer",
        },
    )
    assert response.status_code == 302
    members = db.session.scalars(select(CohortMember)).all()
    assert [(m.enterprise_id, m.relation) for m in members] == [(a.id, "customer")]


def test_joint_visit_from_the_page_reaches_only_members_in_scope(client, make_user, two_areas):
    from crm.visits.models import Visit

    cohort, _lead, fz1, fz2, _qz = two_areas
    bureau = make_user("bureau", areas=["350100"])
    client.login(bureau)
    response = client.post_form(
        f"/cohorts/{cohort.id}/joint-visit",
        {"day": "2026-12-10", "at": "09:30", "duration_minutes": "120", "officer": bureau.id, "location": "集团总部"},
    )
    assert response.status_code == 302
    assert {v.enterprise_id for v in db.session.scalars(select(Visit))} == {fz1.id, fz2.id}


def test_editing_keeps_a_lead_outside_the_editors_jurisdiction(client, make_user, make_enterprise, make_cohort):
    lead = make_enterprise(area="350500", office="xm-quanzhou")
    member = make_enterprise()
    cohort = make_cohort(lead=lead, members=[(member, "supplier")])
    client.login(make_user("bureau", areas=["350100"]))
    page = client.get(f"/cohorts/{cohort.id}/edit").get_data(as_text=True)
    assert lead.uscc not in page
    response = client.post_form(f"/cohorts/{cohort.id}/edit", {"name": "新名称", "kind": "group", "lead": ""})
    assert response.status_code == 302
    assert db.session.get(Cohort, cohort.id).lead_enterprise_id == lead.id
