"""Exports of the list: XLSX read back with openpyxl, CSV with BOM, scoped, audited; large ones in the background."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.core.audit import AuditAction, AuditLog
from crm.core.timeutil import local_date
from crm.enterprises.exports import EXPORT_COLUMNS
from crm.enterprises.models import Priority
from crm.extensions import db
from crm.reference.models import KeyCategory


@pytest.fixture
def exported(make_enterprise):
    high_tech = db.session.scalars(select(KeyCategory).where(KeyCategory.code == "high_tech")).one()
    quanzhou = make_enterprise(
        name="泉州导出鞋业有限公司",
        area="350500",
        office="xm-quanzhou",
        customs_code="3505960777",
        priority=Priority.A,
        trade_value=1234.5,
        address='泉州市丰泽区, "滨海"大道\n1号',
    )
    quanzhou.categories = [high_tech]
    db.session.commit()
    fuzhou = make_enterprise(name="福州不应导出有限公司", area="350100", office="fz-mawei")
    return quanzhou, fuzhou


def test_xlsx_export_reads_back_with_chinese_headers_frozen_row_and_dates(client, make_user, exported):
    quanzhou, _fuzhou = exported
    client.login(make_user("bureau", areas=["350500"]))
    response = client.get("/enterprises/export.xlsx?sort=name")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    workbook = load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in EXPORT_COLUMNS]
    assert rows[0][0] == "企业名称" and rows[0][1] == "统一社会信用代码"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 30
    names = [r[0] for r in rows[1:]]
    assert names == [quanzhou.name], "only the enterprises in the caller's scope"
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["统一社会信用代码"] == quanzhou.uscc
    assert row["所在地市"] == "泉州" and row["主管海关"] == "泉州海关"
    assert row["重点企业类别"] == "高新技术企业"
    assert row["优先级"] == "A" and row["目标层级"] == "高级认证企业" and row["培育阶段"] == "推荐候选"
    assert row["上年进出口额（万美元）"] == 1234.5
    created = sheet.cell(row=2, column=19)
    assert created.is_date and created.value.date() == local_date(quanzhou.created_at)


def test_csv_export_has_a_bom_and_quotes_what_needs_it(client, make_user, exported):
    quanzhou, _fuzhou = exported
    client.login(make_user("manager"))
    response = client.get("/enterprises/export.csv?area=350500")
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    import csv

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["企业名称", "统一社会信用代码", "海关注册编码"]
    assert [r[0] for r in rows[1:]] == [quanzhou.name]
    assert rows[1][11] == quanzhou.address
    assert rows[1][18] == local_date(quanzhou.created_at).isoformat()


def test_exports_are_audited(client, make_user, exported):
    user = make_user("manager")
    client.login(user)
    client.get("/enterprises/export.csv?stage=candidate").get_data()
    event = db.session.scalars(select(AuditLog).where(AuditLog.action == AuditAction.EXPORT)).one()
    assert event.actor_id == user.id
    assert event.changes["rows"] == 2 and event.changes["filters"] == {"stage": "candidate"}


def test_unknown_format_is_404(client, make_user):
    client.login(make_user("manager"))
    assert client.get("/enterprises/export.pdf").status_code == 404


def test_small_exports_download_at_once_and_large_ones_run_as_a_job(client, app, make_user, exported):
    """A large export is a background export of ``crm.exports``: its page shows the progress, then the download."""
    from crm.exports.models import ExportJob

    user = make_user("manager")
    client.login(user)
    small = client.post_form("/enterprises/exports", {"format": "xlsx", "query": "area=350500"})
    assert small.status_code == 302 and "/enterprises/export.xlsx" in small.location
    app.config["ENTERPRISE_EXPORT_BACKGROUND_ROWS"] = 1
    try:
        large = client.post_form("/enterprises/exports", {"format": "xlsx", "query": "sort=name"})
    finally:
        app.config.pop("ENTERPRISE_EXPORT_BACKGROUND_ROWS")
    job = db.session.scalars(select(ExportJob)).one()
    assert large.status_code == 302 and large.location.endswith(f"/exports/{job.id}")
    assert (job.exporter, job.format, job.user_id, job.params) == ("enterprises", "xlsx", user.id, {"sort": "name"})
    assert client.get(f"/exports/{job.id}/status").json["status"] == "done"
    with client.get(f"/exports/{job.id}/download") as download:
        rows = list(load_workbook(io.BytesIO(download.get_data())).active.iter_rows(values_only=True))
    assert any(row and row[0] == "泉州导出鞋业有限公司" for row in rows)
    other = app.test_client()
    other.login(make_user("manager"))
    assert other.get(f"/exports/{job.id}").status_code == 404


def test_an_enterprises_names_are_exported_in_the_order_its_page_lists_them(client, make_user, make_enterprise):
    from crm.reference.models import BusinessType

    # The first row made (and linked) comes second in the administrators' order.
    later = BusinessType(code="zz-test-later", name_zh="乙类业务", sort_order=902)
    earlier = BusinessType(code="zz-test-earlier", name_zh="甲类业务", sort_order=901)
    db.session.add_all([later, earlier])
    db.session.flush()
    enterprise = make_enterprise(name="多业务导出有限公司")
    enterprise.business_types = [later, earlier]
    db.session.commit()
    client.login(make_user("manager"))
    data = client.get("/enterprises/export.csv?q=多业务导出").get_data().decode("utf-8-sig")
    import csv

    rows = list(csv.reader(io.StringIO(data)))
    assert [r[0] for r in rows[1:]] == [enterprise.name]
    assert rows[1][5] == "甲类业务、乙类业务" == "、".join(t.name_zh for t in enterprise.business_types)


def test_dates_are_local_in_a_zone_with_summer_time(app, client, make_user, make_enterprise):
    """The export's dates are the CRM's local dates whatever the zone: in London a summer evening after 23:00
    UTC is already the next day, a winter one is not (a fixed offset got one of the two wrong on SQLite)."""
    from datetime import UTC, datetime

    summer = make_enterprise(name="夏令时企业有限公司", area="350500", office="xm-quanzhou")
    winter = make_enterprise(name="冬令时企业有限公司", area="350500", office="xm-quanzhou")
    summer.created_at = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    winter.created_at = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    db.session.commit()
    app.config["CRM_TIMEZONE"] = "Europe/London"
    try:
        client.login(make_user("manager"))
        data = client.get("/enterprises/export.csv?area=350500&sort=name").get_data()
    finally:
        app.config.pop("CRM_TIMEZONE")
    import csv

    created = {r[0]: r[18] for r in csv.reader(io.StringIO(data.decode("utf-8-sig")))}
    assert created["夏令时企业有限公司"] == "2026-07-02"
    assert created["冬令时企业有限公司"] == "2026-01-01"
