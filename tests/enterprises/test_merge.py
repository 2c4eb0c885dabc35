"""Merging two duplicate records: chosen values, every related record moved, an audit entry."""

from datetime import date

import pytest
from sqlalchemy import func, select

from crm.core.audit import AuditAction, AuditLog
from crm.enterprises import services
from crm.enterprises.models import Contact, ContactRole, CreditStatus, Enterprise, EnterpriseNote, Recommendation
from crm.enterprises.related import ENTERPRISE_RELATED_TABLES, merge_enterprises, uncovered_tables
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.pipeline.services import enter_first_stage
from crm.plans.models import CultivationTask, Plan
from crm.reference.models import KeyCategory, RecommendingUnit


def ref(model, code):
    return db.session.scalars(select(model).where(model.code == code)).one()


@pytest.fixture
def duplicates(make_enterprise):
    keep = make_enterprise(
        name="泉州恒达鞋业有限公司", area="350500", office="xm-quanzhou", industry="", notes="甲备注"
    )
    other = make_enterprise(
        name="泉州恒达鞋业股份有限公司",
        area="350500",
        office="xm-jinjiang",
        industry="制鞋业",
        customs_code="3505960555",
        notes="乙备注",
    )
    for enterprise in (keep, other):
        enter_first_stage(enterprise)
    services.save_contact(keep, None, {"name": "王伟", "role": ContactRole.CUSTOMS_LEAD})
    services.save_contact(other, None, {"name": "李娜", "role": ContactRole.LIAISON})
    services.save_recommendation(other, None, unit=ref(RecommendingUnit, "commerce-350500"), recommended_on=None)
    services.add_note(other, "乙的走访记录")
    services.record_credit_status(other, CreditStatus.AEO, effective_on=date(2026, 6, 1))
    high_tech, group = ref(KeyCategory, "high_tech"), ref(KeyCategory, "group")
    keep.categories = [high_tech]
    other.categories = [high_tech, group]
    plan = Plan(enterprise_id=other.id)
    db.session.add(plan)
    db.session.flush()
    db.session.add(CultivationTask(plan_id=plan.id, enterprise_id=other.id, title="完善内控制度"))
    db.session.commit()
    return keep, other


def test_merge_moves_every_related_record_and_takes_the_chosen_values(make_user, duplicates):
    keep, other = duplicates
    other_id = other.id
    manager = make_user("manager")
    moved = merge_enterprises(
        keep, other, {"industry": "take", "office_id": "keep", "customs_code": "take", "notes": "both"}, by=manager
    )
    db.session.commit()
    assert db.session.get(Enterprise, other_id) is None
    assert keep.industry == "制鞋业" and keep.customs_code == "3505960555"
    assert keep.office.code == "xm-quanzhou" and keep.notes == "甲备注\n\n乙备注"
    assert sorted(c.name for c in keep.contacts) == ["李娜", "王伟"]
    assert [c.name for c in keep.contacts if c.is_primary] == ["王伟"], "one primary contact"
    assert [r.unit.code for r in keep.recommendations] == ["commerce-350500"]
    assert sorted(c.code for c in keep.categories) == ["group", "high_tech"]
    assert keep.credit_status == CreditStatus.AEO, "the latest credit entry of either record"
    for model in (StageChange, EnterpriseNote, CultivationTask, Plan):
        assert db.session.scalar(select(func.count()).where(model.enterprise_id == other_id)) == 0
    assert db.session.scalar(select(func.count()).where(StageChange.enterprise_id == keep.id)) == 2
    assert moved["contacts"] == 1 and moved["enterprise_notes"] == 1
    event = db.session.scalars(select(AuditLog).where(AuditLog.action == AuditAction.MERGE)).one()
    assert event.enterprise_id == keep.id and event.actor_id == manager.id
    assert event.changes["absorbed"]["id"] == other_id and event.changes["absorbed"]["uscc"] == other.uscc


def test_the_survivor_may_take_the_other_code(duplicates):
    keep, other = duplicates
    code = other.uscc
    merge_enterprises(keep, other, {"uscc": "take", "name": "take"})
    assert keep.uscc == code and keep.name == "泉州恒达鞋业股份有限公司"


def test_a_record_cannot_be_merged_with_itself(duplicates):
    keep, _ = duplicates
    from crm.enterprises.related import MergeRefusedError

    with pytest.raises(MergeRefusedError):
        merge_enterprises(keep, keep, {})


def test_every_table_pointing_at_an_enterprise_is_in_the_registry():
    assert uncovered_tables() == [], "add these tables to ENTERPRISE_RELATED_TABLES"
    names = {r.table for r in ENTERPRISE_RELATED_TABLES}
    assert {"contacts", "recommendations", "stage_changes", "enterprise_notes"} <= names


def test_merge_through_the_pages(client, make_user, duplicates):
    keep, other = duplicates
    client.login(make_user("manager"))
    pick = client.get(f"/enterprises/{keep.id}/merge").get_data(as_text=True)
    assert other.name in pick, "records with a similar name are offered"
    form = client.get(f"/enterprises/{keep.id}/merge?other={other.uscc}").get_data(as_text=True)
    assert "制鞋业" in form and "李娜" not in form
    refused = client.post_form(f"/enterprises/{keep.id}/merge", {"other": other.id, "choice_industry": "take"})
    assert refused.status_code == 200 and db.session.get(Enterprise, other.id) is not None
    response = client.post_form(
        f"/enterprises/{keep.id}/merge", {"other": other.id, "choice_industry": "take", "confirm": "y"}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 1
    assert keep.industry == "制鞋业"
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 2
    assert db.session.scalar(select(func.count()).select_from(Recommendation)) == 1


def test_only_admins_and_managers_merge_and_only_within_scope(client, make_user, duplicates, make_enterprise):
    keep, other = duplicates
    client.login(make_user("bureau", areas=["350500"]))
    assert client.post_form(f"/enterprises/{keep.id}/merge", {"other": other.id, "confirm": "y"}).status_code == 403
    client.login(make_user("admin"))
    fuzhou = make_enterprise(area="350100")
    assert client.get(f"/enterprises/{keep.id}/merge?other={fuzhou.id}").status_code == 200
