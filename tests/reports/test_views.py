"""Report pages, downloads (audited), navigation and permissions."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.core.audit import AuditAction, AuditLog
from crm.extensions import db
from tests.reports.conftest import PERIOD

PAGES = ["/reports/", "/reports/pipeline", "/reports/monthly", "/reports/certified", "/reports/measures"]
DOWNLOADS = [
    "/reports/pipeline/download",
    "/reports/monthly/download",
    "/reports/certified/download",
    "/reports/measures/download",
]


@pytest.mark.parametrize("role", ["admin", "manager", "bureau", "customs", "viewer"])
def test_every_role_sees_the_reports(client, make_user, role):
    user = make_user(
        role,
        areas=["350100"] if role in ("bureau", "viewer") else (),
        offices=["fz-mawei"] if role == "customs" else (),
    )
    client.login(user)
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    home = client.get("/").get_data(as_text=True)
    assert 'href="/reports/"' in home


def test_viewer_may_not_download(client, make_user):
    client.login(make_user("viewer", areas=["350100"]))
    for url in DOWNLOADS:
        assert client.get(url).status_code == 403, url
    page = client.get("/reports/pipeline").get_data(as_text=True)
    assert "/reports/pipeline/download" not in page


def test_anonymous_is_sent_to_login(client):
    response = client.get("/reports/pipeline")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_pipeline_page_shows_the_table_and_the_note(client, world, manager):
    client.login(manager)
    page = client.get("/reports/pipeline", query_string=PERIOD | {"group_by": "category"}).get_data(as_text=True)
    assert "高新技术企业" in page and "新兴产业企业" in page
    assert "/reports/pipeline/download?format=xlsx" in page
    assert "counts in each of them" in page or "各计" in page or "每个" in page


def test_pipeline_page_in_scope_only(client, world, bureau_fq):
    client.login(bureau_fq)
    page = client.get("/reports/pipeline", query_string=PERIOD | {"group_by": "office"}).get_data(as_text=True)
    page = page[page.index("<table") :]  # the filter form offers every office
    assert "马尾海关" in page and "泉州海关" in page and "东渡海关" not in page


def test_pipeline_page_shows_errors(client, manager):
    client.login(manager)
    response = client.get("/reports/pipeline", query_string={"group_by": "planet", "from": "soon"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "group_by" in page and "alert-danger" in page


def test_download_is_audited_with_filters_and_rows(client, world, manager):
    client.login(manager)
    response = client.get("/reports/pipeline/download", query_string=PERIOD | {"format": "xlsx", "tier": "aeo"})
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert "企业明细" in book.sheetnames
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == AuditAction.EXPORT)).all()[-1]
    assert entry.actor_id == manager.id
    assert entry.changes["kind"] == "pipeline_report"
    assert entry.changes["filters"] == PERIOD | {"tier": "aeo"}
    assert entry.changes["rows"] == 1 and entry.changes["format"] == "xlsx"


def test_download_with_bad_params_goes_back_to_the_page(client, manager):
    client.login(manager)
    response = client.get("/reports/certified/download", query_string={"format": "csv", "area": "nowhere"})
    assert response.status_code == 302 and "/reports/certified" in response.headers["Location"]
    assert client.get("/reports/pipeline/download", query_string={"format": "docx"}).status_code == 404


@pytest.mark.parametrize(("fmt", "start"), [("csv", b"\xef\xbb\xbf"), ("pdf", b"%PDF"), ("xlsx", b"PK")])
def test_monthly_downloads(client, world, manager, fmt, start):
    client.login(manager)
    response = client.get("/reports/monthly/download", query_string={"month": "2026-03", "format": fmt})
    assert response.status_code == 200 and response.data.startswith(start)


def test_monthly_page(client, world, bureau_fq):
    client.login(bureau_fq)
    page = client.get("/reports/monthly", query_string={"month": "2026-03"}).get_data(as_text=True)
    page = page[page.index("<table") :]
    assert "福州" in page and "泉州" in page and "厦门" not in page


def test_certified_page_lists_the_certificate(client, world, manager):
    client.login(manager)
    page = client.get("/reports/certified").get_data(as_text=True)
    assert "AEOCN-QZ-0001" in page


def test_measures_page(client, world, manager):
    client.login(manager)
    page = client.get("/reports/measures", query_string=PERIOD).get_data(as_text=True)
    assert "福州海关" in page and "24." in page


def test_area_choices_follow_the_scope(client, bureau_fq):
    client.login(bureau_fq)
    page = client.get("/reports/pipeline").get_data(as_text=True)
    form = page[page.index('id="filter-area"') : page.index("</select>", page.index('id="filter-area"'))]
    assert 'value="350100"' in form and 'value="350500"' in form and 'value="350200"' not in form
