"""The home page's lists."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.main.queries import my_enterprises


def test_my_enterprises_changed_at_one_instant_are_latest_added_first(make_user, make_enterprise):
    # A bulk action stamps every enterprise it changes with one time.
    officer = make_user("bureau", areas=["350100"])
    mine = [make_enterprise(commerce_officer_id=officer.id) for _n in range(3)]
    moment = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for enterprise in (mine[2], mine[0], mine[1]):  # on PostgreSQL each update moves the row: heap order differs
        db.session.execute(update(Enterprise).where(Enterprise.id == enterprise.id).values(updated_at=moment))
    db.session.expire_all()
    assert [e.id for e in my_enterprises(officer, limit=2)] == [mine[2].id, mine[1].id]
