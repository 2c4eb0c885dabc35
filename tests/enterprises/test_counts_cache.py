"""The stage counts of the list are cached in Redis until the next committed change."""

import pytest

from crm.enterprises.listing import ListQuery, run_list
from crm.extensions import db


@pytest.fixture
def cache_on(counts_cache):
    """The counts' cache in Redis, as in production."""


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


@pytest.fixture
def both_caches(cache_on, reference_cache):
    """The counts' cache in Redis and the per-process cache, as in production."""


def test_values_are_kept_per_data_version(both_caches, real_db, make_enterprise):
    from crm.enterprises.counts_cache import cached_per_version

    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert cached_per_version("figure", load) == 1
    assert cached_per_version("figure", load) == 1
    make_enterprise()  # a committed change: a new version, loaded again
    assert cached_per_version("figure", load) == 2


def test_cohort_changes_through_the_orm_refresh_the_list(both_caches, real_db, make_user, make_enterprise):
    """Adding a member is a flush of a cohort row, not of an enterprise: it must still count as a change."""
    from crm.cohorts import services
    from crm.enterprises.listing import filter_options
    from crm.enterprises.models import CreditStatus

    user = make_user("manager")
    lead = make_enterprise(credit_status=CreditStatus.AEO_ADVANCED)
    member = make_enterprise()
    query = ListQuery.from_args({"cohort_priority": "1"})
    assert run_list(query, 1, 50, user).counts == {}
    assert filter_options(run_list(query, 1, 50, user).ref)["cohort"] == []
    cohort = services.create_cohort(name="Lead group", kind="group", lead=lead, by=None)
    db.session.commit()
    assert filter_options(run_list(query, 1, 50, user).ref)["cohort"] == [(str(cohort.id), "Lead group")]
    assert run_list(query, 1, 50, user).counts == {}
    services.add_member(cohort, member, "subsidiary", by=None)
    db.session.commit()
    result = run_list(query, 1, 50, user)
    assert sum(result.counts.values()) == 1
    assert [row.id for row in result.page.items] == [member.id]
    assert result.page.items[0].cohort_priority


def test_without_redis_nothing_is_kept(app):
    from crm.enterprises.counts_cache import cached_per_version

    values = iter([1, 2])
    assert cached_per_version("figure", lambda: next(values)) == 1
    assert cached_per_version("figure", lambda: next(values)) == 2


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


def test_the_boards_totals_are_cached_like_the_lists(cache_on, real_db, make_user, make_enterprise):
    from crm.pipeline.queries import board

    user = make_user("bureau", areas=["350500"])
    make_enterprise(area="350500", office="xm-quanzhou")
    make_enterprise(area="350100", office="fz-mawei")

    def totals(viewer, filters=None):
        return {column.key: column.total for column in board(filters or {}, viewer) if column.total}

    first = totals(user)
    assert sum(first.values()) == 1
    # A write the application does not see keeps the cached figure ...
    db.session.execute(db.text("UPDATE enterprises SET area_id = (SELECT id FROM areas WHERE code = '350500')"))
    db.session.flush()
    assert totals(user) == first
    db.session.rollback()
    # ... a committed change counts again, and the scope and the filters are part of the key.
    make_enterprise(area="350500", office="xm-quanzhou")
    assert sum(totals(user).values()) == 2
    assert sum(totals(make_user("manager")).values()) == 3
    assert sum(totals(make_user("manager"), {"area": "350100"}).values()) == 1


def test_saved_views_are_kept_until_a_view_changes(both_caches, real_db, make_user):
    """The list's saved views are kept per data version: saving, sharing or deleting a view is a change."""
    from crm.enterprises.models import SavedView
    from crm.enterprises.queries import saved_views_for

    owner, colleague = make_user("manager"), make_user("customs")
    assert saved_views_for(owner) == ((), ())
    view = SavedView(owner_id=owner.id, name="Xiamen", query="area=350200")
    db.session.add(view)
    db.session.commit()
    assert [v.name for v in saved_views_for(owner)[0]] == ["Xiamen"]
    assert saved_views_for(colleague) == ((), ())
    view.is_shared = True
    db.session.commit()
    (shared,) = saved_views_for(colleague)[1]
    assert (shared.id, shared.name, shared.owner_name) == (view.id, "Xiamen", owner.display_name)
    db.session.delete(view)
    db.session.commit()
    assert saved_views_for(owner) == ((), ())
    assert saved_views_for(colleague) == ((), ())


def test_a_request_reads_the_version_and_its_counts_in_one_round_trip(cache_on, real_db, app, make_user, monkeypatch):
    """A page's first cached figure asks Redis once for both the data version and the entry."""
    from crm.core import redis as crm_redis

    user = make_user("manager")
    run_list(ListQuery(), 1, 50, user)  # cached
    commands = []
    client = crm_redis.client()
    original = client.execute_command

    def counted(*args, **kwargs):
        commands.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counted)
    with app.test_request_context("/enterprises/"):
        assert run_list(ListQuery(), 1, 50, user).counts == {}
    assert commands == ["MGET"]


def _versions(cache) -> dict[str, str]:
    from crm.core import redis as crm_redis

    client = crm_redis.client()
    return {topic: (client.get(cache.version_key(topic)) or b"0").decode() for topic in cache.TOPICS}


def test_each_topic_is_bumped_only_by_writes_to_its_tables(counts_cache, real_db, make_user, make_enterprise):
    from crm.visits.models import Visit, VisitKind, VisitStatus

    enterprise = make_enterprise()
    officer = make_user("customs", offices=["fz-mawei"])
    before = _versions(counts_cache)
    db.session.add(
        Visit(
            enterprise_id=enterprise.id,
            officer_id=officer.id,
            status=VisitStatus.DONE,
            kind=VisitKind.ONSITE,
            starts_at=enterprise.created_at,
        )
    )
    db.session.commit()
    after_visit = _versions(counts_cache)
    assert after_visit[counts_cache.VISITS] != before[counts_cache.VISITS]
    assert after_visit[counts_cache.ENTERPRISES] == before[counts_cache.ENTERPRISES]
    assert after_visit[counts_cache.PLANS] == before[counts_cache.PLANS]
    assert after_visit[counts_cache.EVENTS] == before[counts_cache.EVENTS]
    make_enterprise()
    after_enterprise = _versions(counts_cache)
    assert after_enterprise[counts_cache.ENTERPRISES] != after_visit[counts_cache.ENTERPRISES]
    assert after_enterprise[counts_cache.VISITS] == after_visit[counts_cache.VISITS]
    # A Core statement on a topic's table counts as a write of it.
    db.session.execute(db.update(Visit).values(summary="改"))
    db.session.commit()
    assert _versions(counts_cache)[counts_cache.VISITS] != after_enterprise[counts_cache.VISITS]


def test_a_figure_is_kept_across_writes_to_topics_it_does_not_depend_on(counts_cache, real_db, make_enterprise):
    from crm.enterprises.counts_cache import ENTERPRISES, VISITS, cached_counts

    computed = []

    def compute(name):
        def run():
            computed.append(name)
            return {"n": len(computed)}

        return run

    cached_counts({"figure": "stage-like"}, compute("enterprises"), topics=(ENTERPRISES,))
    cached_counts({"figure": "activity-only"}, compute("activity"), topics=(VISITS,))
    cached_counts({"figure": "both"}, compute("both"), topics=(VISITS, ENTERPRISES))
    make_enterprise()  # the enterprises' topic only
    cached_counts({"figure": "stage-like"}, compute("enterprises"), topics=(ENTERPRISES,))
    cached_counts({"figure": "activity-only"}, compute("activity"), topics=(VISITS,))
    cached_counts({"figure": "both"}, compute("both"), topics=(VISITS, ENTERPRISES))
    assert computed == ["enterprises", "activity", "both", "enterprises", "both"]


def test_the_stage_counts_are_kept_when_a_visit_is_logged(cache_on, real_db, make_user, make_enterprise, statements):
    from crm.visits.models import VisitKind, VisitStatus
    from crm.visits.services import VisitData, create_visit

    user = make_user("manager")
    enterprise = make_enterprise()
    assert run_list(ListQuery(), 1, 50, user).counts == {"candidate": 1}
    create_visit(
        enterprise,
        VisitData(
            status=VisitStatus.DONE,
            kind=VisitKind.ONSITE,
            starts_at=enterprise.created_at,
            officer=user,
            participants=[user],
        ),
        by=user,
    )
    db.session.commit()
    statements.clear()
    assert run_list(ListQuery(), 1, 50, user).counts == {"candidate": 1}
    assert not any("GROUP BY enterprises.stage" in statement for statement in statements)


def test_a_failed_savepoint_keeps_the_transactions_earlier_writes(counts_cache, real_db, make_enterprise):
    enterprise = make_enterprise()
    enterprise.name = "改名有限公司"
    db.session.flush()
    before = _versions(counts_cache)
    try:
        with db.session.begin_nested():
            enterprise.name = "再改"
            db.session.flush()
            raise RuntimeError("a check-in of many failed")
    except RuntimeError:
        pass
    db.session.commit()
    assert _versions(counts_cache)[counts_cache.ENTERPRISES] != before[counts_cache.ENTERPRISES]


def test_keys_are_named_per_database(counts_cache, real_db, app, monkeypatch):
    """Two databases whose applications share a Redis database never read each other's figures."""
    from crm.core import redis as crm_redis
    from crm.enterprises.counts_cache import cached_counts
    from crm.reference import cache as reference_cache

    ours = (counts_cache.version_key(counts_cache.ENTERPRISES), reference_cache.version_key())
    assert cached_counts({"figure": "shared"}, lambda: {"n": 1}) == {"n": 1}
    assert cached_counts({"figure": "shared"}, lambda: {"n": 2}) == {"n": 1}
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setitem(app.config, "SQLALCHEMY_DATABASE_URI", uri.rsplit("/", 1)[0] + "/another_database")
    assert (counts_cache.version_key(counts_cache.ENTERPRISES), reference_cache.version_key()) != ours
    assert crm_redis.key("crm:x") != ours[0]
    assert cached_counts({"figure": "shared"}, lambda: {"n": 3}) == {"n": 3}


def test_a_transaction_reads_its_own_writes_before_it_commits(counts_cache, real_db, make_enterprise):
    from crm.enterprises.counts_cache import ENTERPRISES, cached_counts
    from crm.enterprises.models import Enterprise

    enterprise = make_enterprise()

    def renamed() -> dict:
        return {"n": db.session.scalar(db.select(db.func.count()).where(Enterprise.name == "改名有限公司"))}

    assert cached_counts({"figure": "renamed"}, renamed, topics=(ENTERPRISES,)) == {"n": 0}
    enterprise.name = "改名有限公司"  # not flushed yet
    assert cached_counts({"figure": "renamed"}, renamed, topics=(ENTERPRISES,)) == {"n": 1}
    db.session.flush()
    assert cached_counts({"figure": "renamed"}, renamed, topics=(ENTERPRISES,)) == {"n": 1}
    db.session.rollback()
    assert cached_counts({"figure": "renamed"}, renamed, topics=(ENTERPRISES,)) == {"n": 0}
