"""The stage counts of the list are cached in Redis until the next committed change."""

import pytest

from crm.enterprises.listing import ListQuery, run_list
from crm.extensions import db


@pytest.fixture
def cache_on(app, redis_url):
    previous = app.config.get("REDIS_URL")
    app.config.update(REDIS_URL=redis_url, ENTERPRISE_COUNTS_CACHE=True)
    import redis

    redis.Redis.from_url(redis_url).incr("crm:enterprise-counts:version")  # a version no earlier run used
    yield
    app.config.pop("ENTERPRISE_COUNTS_CACHE")
    app.config["REDIS_URL"] = previous


def test_counts_are_reused_until_a_change_is_committed(cache_on, real_db, make_user, make_enterprise):
    user = make_user("manager")
    make_enterprise(area="350500", office="xm-quanzhou")
    first = run_list(ListQuery.from_args({"area": "350500"}), 1, 50, user).counts
    assert first == {"candidate": 1}
    # A write the application does not see (outside the ORM and Core statements) keeps the cached figure ...
    db.session.execute(db.text("UPDATE enterprises SET stage = 'pooled'"))
    db.session.flush()
    assert run_list(ListQuery.from_args({"area": "350500"}), 1, 50, user).counts == {"candidate": 1}
    db.session.rollback()
    # ... while any committed change through the application counts again.
    make_enterprise(area="350500", office="xm-quanzhou")
    assert run_list(ListQuery.from_args({"area": "350500"}), 1, 50, user).counts == {"candidate": 2}
    assert run_list(ListQuery.from_args({"area": "350100"}), 1, 50, user).counts == {}


def test_scope_is_part_of_the_key(cache_on, real_db, make_user, make_enterprise):
    make_enterprise(area="350500", office="xm-quanzhou")
    make_enterprise(area="350100", office="fz-mawei")
    assert sum(run_list(ListQuery(), 1, 50, make_user("manager")).counts.values()) == 2
    assert sum(run_list(ListQuery(), 1, 50, make_user("bureau", areas=["350100"])).counts.values()) == 1


def test_without_redis_counts_are_computed(app, make_user, make_enterprise):
    make_enterprise()
    assert run_list(ListQuery(), 1, 50, make_user("manager")).counts == {"candidate": 1}


def test_an_import_counts_again_once_committed(cache_on, real_db, make_user, make_enterprise):
    from crm.enterprises import imports
    from crm.enterprises.models import EnterpriseImport
    from tests.enterprises.conftest import csv_bytes, new_uscc
    from tests.enterprises.test_imports import table_of

    user = make_user("manager")
    make_enterprise(area="350500", office="xm-quanzhou")
    assert run_list(ListQuery.from_args({"area": "350500"}), 1, 50, user).counts == {"candidate": 1}
    table = table_of(
        csv_bytes([["企业名称", "统一社会信用代码", "所在地市"], ["计数缓存有限公司", new_uscc(), "泉州"]]), "a.csv"
    )
    mapping = imports.guess_mapping(table.headers)
    batch = EnterpriseImport(filename="a.csv", kind="csv", headers=table.headers, mapping=mapping)
    db.session.add(batch)
    db.session.flush()
    imports.commit(batch, imports.analyse(table, mapping))
    db.session.commit()
    assert run_list(ListQuery.from_args({"area": "350500"}), 1, 50, user).counts == {"candidate": 2}
