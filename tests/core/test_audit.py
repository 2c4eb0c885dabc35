"""Row changes and events land in the audit trail with who, what and the diff."""

from sqlalchemy import select

from crm.core.audit import AuditLog, acting_as
from crm.extensions import db
from crm.reference.models import Area


def audit_rows(record_type, record_id):
    return db.session.scalars(
        select(AuditLog)
        .where(AuditLog.record_type == record_type, AuditLog.record_id == str(record_id))
        .order_by(AuditLog.id)
    ).all()


def test_create_update_delete_are_recorded_with_diffs(make_enterprise):
    with acting_as("cli:test"):
        enterprise = make_enterprise(name="审计测试有限公司")
        enterprise.industry = "纺织业"
        db.session.flush()
        enterprise_id = enterprise.id
        db.session.delete(enterprise)
        db.session.flush()
    rows = audit_rows("Enterprise", enterprise_id)
    created, updated, deleted = rows
    assert created.action == "create" and created.changes["name"] == [None, "审计测试有限公司"]
    assert updated.action == "update" and updated.changes == {"industry": ["", "纺织业"]}
    assert deleted.action == "delete" and deleted.changes["name"] == ["审计测试有限公司", None]
    assert {row.actor_label for row in (created, updated, deleted)} == {"cli:test"}
    assert created.enterprise_id == enterprise_id


def test_web_changes_record_the_user_and_ip(client, make_user):
    admin = make_user("admin")
    client.login(admin)
    area = db.session.scalars(select(Area).where(Area.code == "350300")).one()
    client.post_form(
        f"/admin/reference/areas/{area.id}",
        {"code": "350300", "name_zh": "莆田市", "sort_order": "30", "is_active": "y"},
    )
    row = audit_rows("Area", area.id)[-1]
    assert row.actor_id == admin.id and row.actor_label == admin.username
    assert row.ip == "127.0.0.1"
    assert row.changes["name_zh"] == ["莆田", "莆田市"]


def test_collection_changes_are_recorded(make_user):
    user = make_user("viewer", areas=["350100"])
    from crm.auth.services import set_scope

    set_scope(user, area_codes=["350200"])
    db.session.flush()
    row = audit_rows("User", user.id)[-1]
    assert row.changes["areas"] == {"added": ["350200"], "removed": ["350100"]}
