"""The writers of the report files: XLSX read back, CSV with a BOM, PDF text in Chinese, scope, bad params."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from crm.reports import exports
from tests.reports.conftest import PERIOD

GENERATED = datetime(2026, 7, 1, 2, 30, tzinfo=UTC)  # 10:30 in Asia/Shanghai


def run(writer, params, fmt, user):
    out = io.BytesIO()
    calls = []
    count = writer(params, fmt, out, user=user, generated_at=GENERATED, progress=lambda d, t: calls.append((d, t)))
    return count, out.getvalue(), calls


def sheet_values(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_pipeline_xlsx_has_a_sheet_per_grouping_and_the_details(world, manager):
    count, data, calls = run(exports.pipeline_report, PERIOD | {"group_by": "area"}, "xlsx", manager)
    assert count == 3
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[0] == "按地区"
    assert {"按主管海关", "按重点企业类别", "按培育群组", "按负责人", "按月份", "企业明细"} <= set(book.sheetnames)
    rows = sheet_values(book["按地区"])
    assert rows[0][0] == "培育进度统计（按地区）"
    assert "导出人：" in rows[1][0] and "2026-07-01 10:30" in rows[1][0]
    assert "2026-01-01" in rows[2][0]
    header = next(r for r in rows if r[0] == "地区")
    assert "推荐候选" in header and "合计" in header
    body = {r[0]: r for r in rows[rows.index(header) + 1 :]}
    total_column = header.index("合计")
    assert body["福州"][total_column] == 2
    assert body["合计"][total_column] == 4
    month = sheet_values(book["按月份"])
    month_header = next(r for r in month if r[0] == "月份")
    month_body = {r[0]: r for r in month[month.index(month_header) + 1 :]}
    assert month_body["合计"][month_header.index("合计")] == 10  # moves into stages, not enterprises
    categories = sheet_values(book["按重点企业类别"])
    assert any(r[0] == "合计" and r[total_column] == 4 for r in categories)
    details = sheet_values(book["企业明细"])
    assert sum(1 for r in details if r[0] and "有限公司" in str(r[0])) == 4
    assert calls and calls[-1][0] == calls[-1][1]


def test_pipeline_csv_starts_with_a_bom_and_the_header_lines(world, manager):
    _, data, _ = run(exports.pipeline_report, PERIOD | {"group_by": "office"}, "csv", manager)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "AEO培育进度统计报表"
    assert "导出时间：2026-07-01 10:30" in text
    assert "马尾海关" in text and "海关" in text


def test_pipeline_pdf_text_is_chinese(world, manager):
    _, data, _ = run(exports.pipeline_report, PERIOD | {"group_by": "area"}, "pdf", manager)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "AEO培育进度统计报表" in text
    assert "福州" in text and "推荐候选" in text
    assert "2026-07-01 10:30" in text
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # landscape


def test_files_respect_the_scope(world, bureau_fq):
    _, data, _ = run(exports.pipeline_report, PERIOD, "xlsx", bureau_fq)
    book = load_workbook(io.BytesIO(data))
    everything = str([sheet_values(sheet) for sheet in book.worksheets])
    assert "厦门区外测试有限公司" not in everything
    assert "厦门" not in str(sheet_values(book["按地区"]))


def test_monthly_progress(world, manager):
    count, data, _ = run(exports.monthly_progress, {"month": "2026-03"}, "xlsx", manager)
    rows = sheet_values(load_workbook(io.BytesIO(data)).active)
    assert rows[0][0] == "2026年3月AEO培育工作进展情况"
    header = next(r for r in rows if r[0] == "地区")
    body = {r[0]: r for r in rows[rows.index(header) + 1 :]}
    certified_month, certified_year = header.index("本月通过认证"), header.index("本年累计通过认证")
    assert body["泉州"][certified_month] == 1 and body["泉州"][certified_year] == 1
    assert body["福州"][header.index("培育辅导中")] == 1
    assert body["福州"][header.index("本月走访次数")] == 1
    assert body["合计"][header.index("本月培训场次")] == 1  # one event, attended from three areas
    assert body["合计"][header.index("本月参训人次")] == 3
    assert count == len(body) - 1


def test_monthly_progress_of_a_bureau_user_shows_only_their_areas(world, bureau_fq):
    _, data, _ = run(exports.monthly_progress, {"month": "2026-03"}, "csv", bureau_fq)
    text = data.decode("utf-8-sig")
    assert "福州" in text and "泉州" in text and "厦门" not in text


def test_certified_list(world, manager):
    count, data, _ = run(exports.certified_list, {}, "xlsx", manager)
    assert count == 1
    rows = sheet_values(load_workbook(io.BytesIO(data)).active)
    header = next(r for r in rows if r[0] == "企业名称")
    row = rows[rows.index(header) + 1]
    assert row[header.index("证书编号")] == "AEOCN-QZ-0001"
    assert row[header.index("认证日期")].date().isoformat() == "2026-03-01"
    assert row[header.index("认证类型")] == "高级认证企业"
    count, _, _ = run(exports.certified_list, {"from": "2026-04-01", "to": "2026-06-30"}, "csv", manager)
    assert count == 0


def test_certified_list_pdf(world, manager):
    _, data, _ = run(exports.certified_list, {}, "pdf", manager)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\n", "")
    assert "AEO高级认证企业名单" in text and "AEOCN-QZ-0001" in text and "泉州海关" in text


def test_measure_uptake(world, manager):
    from crm.extensions import db
    from crm.pipeline.models import BenefitRecord
    from crm.reference.models import SupportMeasure

    measure = db.session.scalars(db.select(SupportMeasure).where(SupportMeasure.number == 5)).one()
    for day in ("2026-03-05", "2026-04-05"):
        db.session.add(
            BenefitRecord(enterprise_id=world.quanzhou.id, measure_id=measure.id, used_on=datetime.fromisoformat(day))
        )
    db.session.add(
        BenefitRecord(enterprise_id=world.xiamen.id, measure_id=measure.id, used_on=datetime(2026, 3, 6).date())
    )
    db.session.commit()
    count, data, _ = run(exports.measure_uptake, PERIOD, "xlsx", manager)
    assert count == 24
    book = load_workbook(io.BytesIO(data))
    rows = sheet_values(book["按措施"])
    row = next(r for r in rows if r[0] and str(r[0]).startswith("5. "))
    assert row[2:4] == (3, 2) or list(row[2:4]) == [3, 2]
    units = {r[0]: r for r in sheet_values(book["按责任单位"]) if r[0]}
    assert list(units["福州海关"][2:4]) == [3, 2]
    assert list(units["省商务厅"][2:4]) == [0, 0]


@pytest.mark.parametrize(
    ("writer", "params", "fmt"),
    [
        (exports.pipeline_report, {"group_by": "planet"}, "xlsx"),
        (exports.pipeline_report, {"from": "yesterday"}, "csv"),
        (exports.pipeline_report, {}, "docx"),
        (exports.monthly_progress, {"month": "2026-13"}, "pdf"),
        (exports.certified_list, {"area": ["350100"]}, "csv"),
        (exports.measure_uptake, {"tier": "gold"}, "xlsx"),
    ],
)
def test_invalid_params_raise_before_writing(app, manager, writer, params, fmt):
    out = io.BytesIO()
    with pytest.raises(exports.ExportParamsError):
        writer(params, fmt, out, user=manager, generated_at=GENERATED, progress=lambda d, t: None)
    assert out.getvalue() == b""


def test_monthly_progress_counts_stages_as_at_the_end_of_the_month(world, manager):
    _, data, _ = run(exports.monthly_progress, {"month": "2026-01"}, "xlsx", manager)
    rows = sheet_values(load_workbook(io.BytesIO(data)).active)
    header = next(r for r in rows if r[0] == "地区")
    body = {r[0]: r for r in rows[rows.index(header) + 1 :]}
    pooled, cultivating, certified = (
        header.index("入库培育"),
        header.index("培育辅导中"),
        header.index("本年累计通过认证"),
    )
    # End of January: fuzhou_a pooled (cultivating only from 14 February), fuzhou_b withdrawn, Xiamen pooled;
    # the Quanzhou enterprise entered the pipeline in February.
    assert body["福州"][pooled] == 1 and body["福州"][cultivating] == 0
    assert body["厦门"][pooled] == 1
    assert sum(body["泉州"][1:5]) == 0 and body["泉州"][certified] == 0
