"""Reference rows and scopes are kept per process and dropped as soon as the application writes them."""

from flask import g

from crm.core.scope import build_scope, scope_of
from crm.enterprises.listing import ListReference, active_officers
from crm.extensions import db
from crm.reference import cache
from crm.reference.models import Area, CustomsOffice


def test_rows_are_read_once_then_kept(reference_cache, statements):
    first = ListReference().areas
    assert first and statements
    statements.clear()
    again = ListReference().areas
    assert not statements
    assert [a.code for a in again] == [a.code for a in first]
    assert again[0].display_name and str(again[0]) == again[0].name_zh


def test_a_write_drops_them(reference_cache):
    assert not any(a.code == "999999" for a in ListReference().areas)
    db.session.add(Area(code="999999", name_zh="测试区", name_en="Test area"))
    db.session.flush()
    assert any(a.code == "999999" for a in ListReference().areas)
    db.session.rollback()
    assert not any(a.code == "999999" for a in ListReference().areas)


def test_a_new_officer_appears_at_once(reference_cache, make_user):
    before = {o.id for o in active_officers()}
    officer = make_user("customs", offices=["xm-quanzhou"])
    after = {o.id: o for o in active_officers()}
    assert officer.id not in before and officer.id in after
    assert after[officer.id].role_enum.value == "customs"


def test_scopes_are_kept_and_follow_the_users_offices(reference_cache, app, make_user):
    officer = make_user("customs", offices=["xm-quanzhou"])
    with app.test_request_context():
        assert scope_of(officer) == build_scope(officer)
    fuzhou = db.session.scalars(db.select(CustomsOffice).where(CustomsOffice.code == "fz-mawei")).one()
    officer.offices.append(fuzhou)
    db.session.commit()
    with app.test_request_context():
        g.pop("_crm_scopes", None)  # the suite's app context (and its g) outlives each request context
        assert fuzhou.id in scope_of(officer).office_ids


def test_off_under_tests_unless_asked(app):
    assert not cache.enabled() or app.config.get("REFERENCE_CACHE")


def _lookup_checks_the_version() -> None:
    cache._state["checked"] = 0.0  # the next lookup reads the version in Redis, whenever the last one was


def test_a_process_keeps_what_it_loaded_after_its_own_write_and_drops_it_after_anothers(
    reference_cache, redis_url, make_user, statements
):
    """A write drops this process's entries when it commits and bumps the version for the others; the version
    check that follows does not drop them again (the entries loaded since the commit are current), while a bump
    by another process does."""
    _lookup_checks_the_version()
    assert ListReference().areas  # the version as it is now
    make_user("customs", offices=["xm-quanzhou"])  # a watched table: dropped here, the version bumped
    assert ListReference().areas  # loaded again after the write
    _lookup_checks_the_version()
    statements.clear()
    assert ListReference().areas
    assert not statements
    from crm.core import redis

    redis.client().incr(cache.version_key())  # another process's change
    _lookup_checks_the_version()
    assert ListReference().areas
    assert statements
