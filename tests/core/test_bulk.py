"""``crm.core.bulk``: rows in by COPY (PostgreSQL) or executemany, and word of it to those who keep derived data."""

import pytest
from sqlalchemy import select

from crm.core.bulk import copy_rows, defaulted_columns_missing, insert_returning_ids, rows_copied
from crm.enterprises import counts_cache
from crm.enterprises.models import Contact, enterprise_key_categories
from crm.extensions import db
from crm.reference.models import KeyCategory


def _contact(enterprise_id: int, name: str) -> dict:
    return {
        "enterprise_id": enterprise_id,
        "name": name,
        "role": "liaison",
        "title": "",
        "mobile": "",
        "phone": "",
        "email": "",
        "is_primary": False,
    }


def test_insert_returning_ids_gives_the_ids_in_row_order(make_enterprise):
    enterprise = make_enterprise()
    now = enterprise.created_at
    rows = [{**_contact(enterprise.id, f"联系人{i}"), "created_at": now, "updated_at": now} for i in range(5)]
    assert not defaulted_columns_missing(Contact.__table__, rows[0])
    ids = insert_returning_ids(Contact.__table__, iter(rows), len(rows))
    assert len(ids) == 5 and ids == sorted(ids)
    names = dict(db.session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(ids))).all())
    assert [names[i] for i in ids] == [f"联系人{i}" for i in range(5)]


def test_copy_rows_tells_the_listeners_and_the_count_cache(make_enterprise):
    enterprise = make_enterprise()
    category = db.session.scalars(select(KeyCategory).order_by(KeyCategory.id)).first()
    heard = []

    def listener(table_name, session):
        heard.append(table_name)

    rows_copied.connect(listener)
    try:
        db.session.info.pop(counts_cache._STALE_KEY, None)
        copy_rows(enterprise_key_categories, [{"enterprise_id": enterprise.id, "key_category_id": category.id}])
    finally:
        rows_copied.disconnect(listener)
    assert heard == ["enterprise_key_categories"]
    assert db.session.info.get(counts_cache._STALE_KEY) == {counts_cache.ENTERPRISES}
    linked = db.session.execute(
        select(enterprise_key_categories.c.key_category_id).where(
            enterprise_key_categories.c.enterprise_id == enterprise.id
        )
    ).scalars()
    assert category.id in set(linked)


def test_copy_rows_refuses_rows_without_a_python_side_default_on_postgresql(postgres, make_enterprise):
    enterprise = make_enterprise()
    with pytest.raises(ValueError, match="needs values for"):
        copy_rows(Contact.__table__, [_contact(enterprise.id, "缺少时间")])
