"""Quick logging on a phone: two taps to the form, a layout that fits 375 px, and nothing lost when the session
expired (the server side: back to the form after logging in again, with what the page script needs to restore
the draft it kept on the device)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from flask import render_template
from sqlalchemy import func, select

from crm.extensions import db
from crm.visits.models import Visit
from crm.visits.queries import enterprise_section_context

from ..conftest import TEST_PASSWORD
from .conftest import form_data


def _form_html(page: str) -> str:
    match = re.search(r'<form method="post" enctype="multipart/form-data".*?</form>', page, re.S)
    assert match, "no visit form on the page"
    return match.group(0)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _visit_count() -> int:
    return db.session.scalar(select(func.count(Visit.id)))


def test_the_form_fits_a_phone(client, officer, make_enterprise, standard, make_plan):
    enterprise = make_enterprise()
    make_plan(enterprise)
    client.login(officer)
    page = client.get(f"/enterprises/{enterprise.id}/visits/new").get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    form = _form_html(page)
    tags = _tags(form)
    names = {tag for tag, _attrs in tags}
    assert "table" not in names, "no tables in the form: they scroll sideways on a phone"
    for tag, attrs in tags:
        assert "style" not in attrs and "width" not in attrs, (tag, attrs)
        assert "size" not in attrs or tag == "select", (tag, attrs)
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "radio", "checkbox"):
            classes = (attrs.get("class") or "").split()
            assert {"form-control", "form-select"} & set(classes), (tag, attrs)  # width: 100%, never fixed
    # Columns stack on a phone: every grid column is full width below the "sm" breakpoint or explicitly halves.
    for _tag, attrs in tags:
        for cls in (attrs.get("class") or "").split():
            if cls.startswith("col-") and cls.count("-") == 1:
                assert cls in ("col-12", "col-6"), cls
    assert "<script>" not in page and " onclick=" not in page
    assert 'type="date"' in form and 'type="time"' in form  # native pickers on phones


def test_two_taps_from_my_enterprises_to_the_form(client, officer, make_enterprise):
    enterprise = make_enterprise(stage="cultivating", customs_officer_id=officer.id)
    client.login(officer)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/my-work/"' in home  # tap 1: My work, in the navigation
    my_work = client.get("/my-work/").get_data(as_text=True)
    link = f'href="/enterprises/{enterprise.id}/visits/new"'
    assert link in my_work  # tap 2: log visit, beside the enterprise
    assert client.get(f"/enterprises/{enterprise.id}/visits/new").status_code == 200


def test_the_enterprise_page_section_links_to_the_form(app, client, officer, make_enterprise, make_visit):
    enterprise = make_enterprise()
    visit = make_visit(enterprise, officer)
    client.login(officer)
    with app.test_request_context():
        from flask_login import login_user

        login_user(officer)
        html = render_template("visits/_enterprise_section.html", **enterprise_section_context(enterprise))
    assert f'href="/enterprises/{enterprise.id}/visits/new"' in html
    assert f'href="/enterprises/{enterprise.id}/visits/new?status=planned"' in html
    assert f'href="/visits/{visit.id}"' in html


def test_the_form_page_carries_what_the_draft_script_needs(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    page = client.get(f"/enterprises/{enterprise.id}/visits/new").get_data(as_text=True)
    key = f"crm.visit-draft.{officer.id}.{enterprise.id}.new"
    assert f'data-visit-draft="{key}"' in page
    assert 'data-visit-draft-restore="1"' in page
    assert "data-visit-draft-notice" in page and "data-visit-draft-discard" in page and "data-visit-offline" in page
    assert '<script src="/static/js/visits.js"></script>' in page
    script = client.get("/static/js/visits.js")
    assert script.status_code == 200 and b"localStorage" in script.data
    script.close()
    # After a failed validation the server shows what was posted and the script must not overwrite it.
    response = client.post_form(f"/enterprises/{enterprise.id}/visits/new", form_data(officer_id="0"))
    assert response.status_code == 422
    assert 'data-visit-draft-restore="0"' in response.get_data(as_text=True)


def test_the_page_after_saving_tells_the_script_to_forget_the_draft(client, officer, make_enterprise):
    enterprise = make_enterprise()
    client.login(officer)
    response = client.post_form(
        f"/enterprises/{enterprise.id}/visits/new", form_data(officer_id=str(officer.id)), follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert f'data-visit-draft-clear="crm.visit-draft.{officer.id}.{enterprise.id}.new"' in page
    # Only once: the next view of the visit does not clear a draft typed since.
    visit_id = db.session.scalar(select(Visit.id))
    assert "data-visit-draft-clear" not in client.get(f"/visits/{visit_id}").get_data(as_text=True)


def _next_of(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/login", location
    return parse_qs(parts.query)["next"][0]


def test_a_post_after_idle_expiry_goes_to_login_and_back_to_the_form(client, officer, make_enterprise, app):
    enterprise = make_enterprise()
    form_url = f"/enterprises/{enterprise.id}/visits/new"
    client.login(officer)
    client.get(form_url)
    idle = app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=5)
    with client.session_transaction() as session:
        session["_seen"] = (datetime.now(UTC) - idle).timestamp()
    response = client.post_form(
        form_url, form_data(officer_id=str(officer.id)), headers={"Referer": f"http://localhost{form_url}"}
    )
    assert response.status_code == 302
    assert _next_of(response.headers["Location"]) == form_url
    assert _visit_count() == 0  # nothing half-saved: the draft on the device holds the visit


def test_a_post_without_a_session_goes_to_login_and_back_to_the_form(app, officer, make_enterprise):
    """The browser dropped the expired session cookie: the CSRF token went with it."""
    enterprise = make_enterprise()
    form_url = f"/enterprises/{enterprise.id}/visits/new"
    browser = app.test_client()
    response = browser.post(form_url, data=form_data(officer_id=str(officer.id), csrf_token="stale-token"))
    assert response.status_code == 302
    assert _next_of(response.headers["Location"]) == form_url
    assert _visit_count() == 0

    # Logging in again leads back to the form, which is ready to restore the draft.
    login_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    response = browser.post(
        f"/login?next={form_url}",
        data={"username": officer.username, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == form_url
    page = browser.get(form_url).get_data(as_text=True)
    assert f'data-visit-draft="crm.visit-draft.{officer.id}.{enterprise.id}.new"' in page
    assert 'data-visit-draft-restore="1"' in page


def test_a_stale_form_token_keeps_what_was_typed(client, officer, make_enterprise):
    """Logged in again in another tab: the open form's token is stale, the visit is shown again to save."""
    enterprise = make_enterprise()
    client.login(officer)
    client.csrf_token()
    response = client.post(
        f"/enterprises/{enterprise.id}/visits/new",
        data=form_data(officer_id=str(officer.id), summary="会议纪要全文", csrf_token="stale"),
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "会议纪要全文" in body and "表单已过期" in body
    assert _visit_count() == 0
