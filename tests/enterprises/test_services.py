"""Creating and changing enterprises, contacts, recommendations, notes and credit status."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.core.audit import AuditLog
from crm.enterprises import services
from crm.enterprises.models import (
    ContactRole,
    CreditStatus,
    CreditStatusChange,
    Enterprise,
    Priority,
)
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.reference.models import Area, CustomsOffice, KeyCategory, RecommendingUnit
from tests.enterprises.conftest import corrupt_check_character, new_uscc


def ref(model, code):
    return db.session.scalars(select(model).where(model.code == code)).one()


def values(**overrides):
    base = {
        "name": "泉州测试鞋业有限公司",
        "uscc": new_uscc(),
        "area": ref(Area, "350500"),
        "office": ref(CustomsOffice, "xm-quanzhou"),
    }
    base.update(overrides)
    return base


def test_a_new_enterprise_enters_candidate_with_its_history(make_user):
    user = make_user("bureau", areas=["350500"])
    enterprise, warnings = services.create_enterprise(values(customs_code="3505961234"), by=user)
    assert warnings == []
    assert enterprise.stage == "candidate"
    assert enterprise.created_by_id == user.id
    history = db.session.scalars(select(StageChange).where(StageChange.enterprise_id == enterprise.id)).all()
    assert [(h.from_stage, h.to_stage, h.changed_by_id) for h in history] == [(None, "candidate", user.id)]
    credit = db.session.scalars(select(CreditStatusChange).where(CreditStatusChange.enterprise_id == enterprise.id))
    assert [c.status for c in credit] == [CreditStatus.REGULAR]
    assert db.session.scalars(
        select(AuditLog).where(AuditLog.record_type == "Enterprise", AuditLog.record_id == str(enterprise.id))
    ).first()


def test_full_width_code_is_stored_normalised():
    code = new_uscc()
    typed = code[:4] + "　" + code[4:].lower()
    enterprise, _ = services.create_enterprise(values(uscc=typed))
    assert enterprise.uscc == code


def test_exact_code_match_is_a_duplicate_not_a_second_record(make_enterprise):
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    with pytest.raises(services.DuplicateEnterpriseError) as error:
        services.create_enterprise(values(uscc=existing.uscc.lower()))
    assert error.value.existing.id == existing.id


def test_corrupted_check_character_is_a_field_error():
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.create_enterprise(values(uscc=corrupt_check_character(new_uscc())))
    assert "uscc" in error.value.errors


def test_office_must_serve_the_area_and_the_message_names_the_offices_that_do():
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.create_enterprise(values(office=ref(CustomsOffice, "fz-mawei")))
    message = error.value.errors["office"][0]
    assert "马尾海关" in message and "泉州海关" in message and "厦门海关" in message


def test_customs_code_must_be_well_formed_and_unique(make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou", customs_code="3505960001")
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.create_enterprise(values(customs_code="3505960001"))
    assert "customs_code" in error.value.errors
    with pytest.raises(services.InvalidEnterpriseError):
        services.create_enterprise(values(customs_code="35A596"))
    _enterprise, warnings = services.create_enterprise(values(customs_code="4405960002"))
    assert warnings


def test_writer_cannot_create_outside_their_jurisdiction(make_user):
    user = make_user("bureau", areas=["350100"])
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.create_enterprise(values(), by=user)
    assert "area" in error.value.errors


def test_officers_need_the_right_role_and_jurisdiction(make_user):
    quanzhou = make_user("bureau", areas=["350500"])
    fuzhou = make_user("bureau", areas=["350100"])
    officer = make_user("customs", offices=["xm-quanzhou"])
    enterprise, _ = services.create_enterprise(values(commerce_officer=quanzhou, customs_officer=officer))
    assert enterprise.commerce_officer is quanzhou
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.update_enterprise(enterprise, {"commerce_officer": fuzhou})
    assert "commerce_officer" in error.value.errors
    with pytest.raises(services.InvalidEnterpriseError) as error:
        services.update_enterprise(enterprise, {"customs_officer": quanzhou})
    assert "customs_officer" in error.value.errors


def test_update_refuses_a_code_that_belongs_to_another(make_enterprise):
    first = make_enterprise(area="350500", office="xm-quanzhou")
    second = make_enterprise(area="350500", office="xm-quanzhou")
    with pytest.raises(services.DuplicateEnterpriseError):
        services.update_enterprise(second, {"uscc": first.uscc})
    services.update_enterprise(second, {"name": "泉州新名称贸易有限公司"})
    assert second.name_key == "泉州新名称贸易"


def test_similar_names_are_found(make_enterprise):
    existing = make_enterprise(name="泉州恒达鞋业有限公司", area="350500", office="xm-quanzhou")
    assert existing in services.similar_enterprises("泉州恒达鞋业（股份）有限公司".replace("（股份）", "股份"))
    assert services.similar_enterprises("泉州恒达鞋业 有限公司", exclude_id=existing.id) == []


def test_one_primary_contact(make_enterprise):
    enterprise = make_enterprise()
    first = services.save_contact(enterprise, None, {"name": "王伟", "role": ContactRole.CUSTOMS_LEAD})
    assert first.is_primary
    second = services.save_contact(enterprise, None, {"name": "李娜", "role": ContactRole.LIAISON})
    assert not second.is_primary
    services.save_contact(enterprise, second, {"is_primary": True})
    assert second.is_primary and not first.is_primary
    assert enterprise.customs_contact is first
    services.delete_contact(second)
    assert first.is_primary


def test_recommendations_set_priority_categories_and_refuse_the_same_unit_twice(make_enterprise):
    enterprise = make_enterprise()
    unit_a = ref(RecommendingUnit, "commerce-350100")
    unit_b = ref(RecommendingUnit, "customs-fuzhou")
    high_tech = ref(KeyCategory, "high_tech")
    services.save_recommendation(
        enterprise, None, unit=unit_a, recommended_on=None, priority=Priority.C, categories=[high_tech]
    )
    assert enterprise.priority == Priority.C
    assert high_tech in enterprise.categories
    second = services.save_recommendation(enterprise, None, unit=unit_b, recommended_on=None, priority=Priority.A)
    assert enterprise.priority == Priority.A
    with pytest.raises(services.InvalidRecommendationError):
        services.save_recommendation(enterprise, None, unit=unit_a, recommended_on=None)
    with pytest.raises(services.InvalidRecommendationError):
        services.save_recommendation(
            enterprise, None, unit=ref(RecommendingUnit, "fj-commerce"), recommended_on=date.today() + timedelta(days=3)
        )
    services.delete_recommendation(second)
    assert enterprise.priority == Priority.C


def test_a_priority_set_by_hand_stays(make_enterprise):
    enterprise = make_enterprise()
    services.update_enterprise(enterprise, {"priority": Priority.B})
    services.save_recommendation(
        enterprise, None, unit=ref(RecommendingUnit, "commerce-350100"), recommended_on=None, priority=Priority.A
    )
    assert enterprise.priority == Priority.B and enterprise.priority_set_by_hand
    services.update_enterprise(enterprise, {"priority": None})
    assert enterprise.priority == Priority.A and not enterprise.priority_set_by_hand


def test_credit_history_sets_the_current_status_and_suspends_incentives(make_enterprise):
    enterprise = make_enterprise(credit_status=CreditStatus.AEO_ADVANCED)
    services.record_credit_status(enterprise, CreditStatus.DISCREDITED, effective_on=date(2026, 5, 1))
    assert enterprise.credit_status == CreditStatus.DISCREDITED and enterprise.incentives_suspended
    services.record_credit_status(enterprise, CreditStatus.AEO, effective_on=date(2025, 1, 1))
    assert enterprise.credit_status == CreditStatus.DISCREDITED, "an older entry does not change the current status"
    services.record_credit_status(enterprise, CreditStatus.REGULAR, effective_on=date(2026, 9, 1))
    assert enterprise.credit_status == CreditStatus.REGULAR and not enterprise.incentives_suspended


def test_notes_and_who_may_delete_them(make_enterprise, make_user):
    enterprise = make_enterprise()
    author = make_user("bureau", areas=["350100"])
    note = services.add_note(enterprise, "  走访约定下周二  ", by=author)
    assert note.body == "走访约定下周二"
    assert services.can_delete_note(note, author)
    assert not services.can_delete_note(note, make_user("bureau", areas=["350100"]))
    assert services.can_delete_note(note, make_user("admin"))
    assert db.session.get(Enterprise, enterprise.id) is enterprise


def test_histories_of_one_day_are_newest_recorded_first(make_enterprise):
    from crm.enterprises.models import Recommendation

    enterprise = make_enterprise()
    unit = db.session.scalars(select(RecommendingUnit)).first()
    day = date(2026, 3, 2)
    recommendations = [Recommendation(enterprise=enterprise, unit=unit, recommended_on=day) for _n in range(3)]
    changes = [
        CreditStatusChange(enterprise=enterprise, status=CreditStatus.REGULAR, effective_on=day) for _n in range(3)
    ]
    db.session.add_all(recommendations + changes)
    db.session.flush()
    db.session.expire(enterprise)
    assert [r.id for r in enterprise.recommendations] == [r.id for r in reversed(recommendations)]
    assert [c.id for c in enterprise.credit_history] == [c.id for c in reversed(changes)]
