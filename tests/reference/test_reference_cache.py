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
