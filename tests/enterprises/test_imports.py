"""Spreadsheet import: header detection, encodings, refusals, labels, all-or-nothing, error report, undo, jobs."""

import io
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.core.audit import AuditAction, AuditLog
from crm.enterprises import imports, services
from crm.enterprises.models import (
    Contact,
    Enterprise,
    EnterpriseImport,
    EnterpriseImportRow,
    ExistingAction,
    ImportStatus,
    Priority,
    Recommendation,
    RowLabel,
)
from crm.enterprises.spreadsheets import SpreadsheetError, check_spreadsheet, read_table
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.reference.models import Area
from tests.enterprises.conftest import corrupt_check_character, csv_bytes, new_uscc, xlsx_bytes

HEADERS = ["序号", "单位名称", "信用代码", "海关编码", "地区", "主管海关", "推荐单位", "推荐理由", "联系人", "联系电话"]


def table_of(data: bytes, filename: str):
    fh = io.BytesIO(data)
    kind = check_spreadsheet(fh, filename)
    return read_table(fh, kind, imports.match_header, imports.REQUIRED_FIELDS)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def run(data: bytes, filename: str, *, user=None, valid_only=False, existing=ExistingAction.SKIP):
    table = table_of(data, filename)
    mapping = imports.guess_mapping(table.headers)
    analysis = imports.analyse(table, mapping, user=user)
    batch = EnterpriseImport(
        filename=filename,
        kind="xlsx",
        headers=table.headers,
        mapping=mapping,
        valid_rows_only=valid_only,
        existing_action=existing,
    )
    db.session.add(batch)
    db.session.flush()
    return batch, analysis


# --- reading ---------------------------------------------------------------------------------------------


def test_xlsx_with_a_title_row_and_merged_cells():
    codes = [new_uscc(), new_uscc(), new_uscc()]
    data = xlsx_bytes(
        [
            HEADERS,
            [
                1,
                "泉州恒达鞋业有限公司",
                codes[0],
                "3505960001",
                "泉州",
                "泉州海关",
                "泉州市商务局",
                "龙头企业",
                "王伟",
                "13800138000",
            ],
            [2, "泉州华鑫纺织有限公司", codes[1], None, "泉州市", "泉州", None, "专精特新", "李娜", "0595-22345678"],
            [3, "厦门海沧物流有限公司", codes[2], None, "厦门", "海沧海关", "厦门市商务局", "", "", ""],
            ["填表人：张三　　联系电话：0595-12345678"],
        ],
        title="2026年泉州市AEO培育企业推荐名单",
        merge_title_over=10,
        merges=["G4:G5"],  # 推荐单位 merged over the first two data rows
    )
    table = table_of(data, "推荐名单.xlsx")
    assert table.header_row == 3
    mapping = imports.guess_mapping(table.headers)
    assert {mapping[str(i)] for i in range(1, 10)} == {
        "name",
        "uscc",
        "customs_code",
        "area",
        "office",
        "unit",
        "reason",
        "contact_name",
        "contact_mobile",
    }
    analysis = imports.analyse(table, mapping)
    assert [r.label for r in analysis.rows] == [RowLabel.NEW] * 3, [r.errors for r in analysis.rows]
    second = analysis.rows[1]
    assert second.values["unit_id"], "the merged 推荐单位 cell applies to both rows"
    assert second.values["contact"]["phone"] == "0595-22345678" and second.values["contact"]["mobile"] == ""


def test_two_level_headings_under_a_merged_cell():
    data = xlsx_bytes(
        [
            ["企业名称", "统一社会信用代码", "联系人", None],
            [None, None, "姓名", "手机"],
            ["福州马尾电子有限公司", new_uscc("350105"), "陈静", "13900001111"],
        ],
        merges=["C1:D1", "A1:A2", "B1:B2"],
    )
    table = table_of(data, "two-level.xlsx")
    mapping = imports.guess_mapping(table.headers)
    assert sorted(mapping.values()) == ["contact_mobile", "contact_name", "name", "uscc"]
    analysis = imports.analyse(table, mapping)
    assert analysis.rows[0].label == RowLabel.NEW
    assert analysis.rows[0].values["contact"]["mobile"] == "13900001111"


def test_gb18030_csv_without_an_area_column_takes_the_area_from_the_code():
    rows = [
        ["企业名称", "统一社会信用代码", "行业", "推荐单位", "推荐优先级"],
        ["漳州龙海食品有限公司", new_uscc("350681"), "食品制造业", "漳州市商务局", "A"],
    ]
    data = csv_bytes(rows, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    table = table_of(data, "名单.csv")
    row = imports.analyse(table, imports.guess_mapping(table.headers)).rows[0]
    assert row.label == RowLabel.NEW, row.errors
    assert row.values["name"] == "漳州龙海食品有限公司" and row.values["industry"] == "食品制造业"
    area = db.session.get(Area, row.values["area_id"])
    assert area.code == "350600" and row.values["priority"] == "A" and row.values["unit_id"]


def test_utf8_csv_with_bom_and_semicolons():
    rows = [["企业名称", "统一社会信用代码", "所在地市"], ["宁德时代测试有限公司", new_uscc("350902"), "宁德"]]
    data = csv_bytes(rows, bom=True).replace(b",", b";")
    table = table_of(data, "list.csv")
    analysis = imports.analyse(table, imports.guess_mapping(table.headers))
    assert analysis.rows[0].label == RowLabel.NEW
    assert analysis.rows[0].values["name"] == "宁德时代测试有限公司"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (xlsx_bytes([["企业名称", "统一社会信用代码"]])[:300], "broken.xlsx", "损坏"),
        (b"PK\x03\x04" + b"\x00" * 200, "broken.xlsx", "损坏"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptionInfo".encode("utf-16-le"),
            "secret.xlsx",
            "密码",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "Workbook".encode("utf-16-le"), "old.xls", ".xls"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "list.pdf", "不是电子表格"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "list.xlsx", "不是电子表格"),
        (b"x" * (10 * 1024 * 1024 + 1), "big.csv", "10 MB"),
    ],
)
def test_files_that_are_not_readable_spreadsheets_are_refused_clearly(data, filename, message):
    with pytest.raises(SpreadsheetError) as error:
        table_of(data, filename)
    assert message in str(error.value)


def test_a_workbook_with_damaged_contents_is_refused():
    import zipfile

    good = io.BytesIO(xlsx_bytes([["企业名称", "统一社会信用代码"], ["甲", new_uscc()]]))
    damaged = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            target.writestr(item, b"<not xml" if item.filename.endswith("sheet1.xml") else content)
    with pytest.raises(SpreadsheetError, match="损坏"):
        table_of(damaged.getvalue(), "damaged.xlsx")


def test_a_file_without_recognisable_headings_is_refused():
    with pytest.raises(SpreadsheetError, match="列名"):
        table_of(csv_bytes([["a", "b"], ["1", "2"]]), "x.csv")


# --- labels ----------------------------------------------------------------------------------------------


def test_the_reference_data_is_loaded_in_one_statement_each_whatever_the_number_of_offices(statements):
    resolver = imports.Resolver()
    assert len(resolver.offices) > 5
    assert all(resolver.office_area_ids[o.id] == {a.id for a in o.areas} for o in resolver.offices)
    # Areas, offices, the areas each office serves, business types, key categories, recommending units.
    assert len([s for s in statements if s.startswith("SELECT")]) == 6


def test_rows_are_labelled_new_existing_duplicate_or_invalid_with_reasons(make_enterprise):
    existing = make_enterprise(name="已有企业有限公司", area="350500", office="xm-quanzhou")
    code = new_uscc()
    data = xlsx_bytes(
        [
            ["企业名称", "统一社会信用代码", "所在地市", "主管海关", "联系电话", "优先级", "推荐单位", "联系人"],
            ["新企业有限公司", code, "泉州", "泉州海关", "13800138000", "A", "泉州市商务局", "王伟"],
            ["已有企业有限公司", existing.uscc, "泉州", "", "", "", "", ""],
            ["重复企业有限公司", code, "泉州", "", "", "", "", ""],
            ["坏代码有限公司", corrupt_check_character(new_uscc()), "泉州", "", "", "", "", ""],
            ["错海关有限公司", new_uscc(), "泉州", "马尾海关", "", "", "", ""],
            ["坏手机有限公司", new_uscc(), "泉州", "", "1380013800", "Z", "泉州市商务局", "李娜"],
            ["", new_uscc(), "火星", "", "", "", "某某单位", ""],
        ]
    )
    table = table_of(data, "labels.xlsx")
    analysis = imports.analyse(table, imports.guess_mapping(table.headers))
    labels = [r.label for r in analysis.rows]
    assert labels == [
        RowLabel.NEW,
        RowLabel.EXISTING,
        RowLabel.DUPLICATE,
        RowLabel.INVALID,
        RowLabel.INVALID,
        RowLabel.INVALID,
        RowLabel.INVALID,
    ]
    assert analysis.rows[1].existing_id == existing.id
    assert "第 2 行" in analysis.rows[2].errors[0]
    assert "校验码" in analysis.rows[3].errors[0]
    assert "泉州海关" in analysis.rows[4].errors[0]
    assert "11位数字" in " ".join(analysis.rows[5].errors) and "Z" in " ".join(analysis.rows[5].errors)
    last = " ".join(analysis.rows[6].errors)
    assert "企业名称" in last and "火星" in last and "某某单位" in last


def test_rows_outside_the_importers_jurisdiction_are_invalid(make_user):
    user = make_user("bureau", areas=["350500"])
    data = csv_bytes(
        [
            ["企业名称", "统一社会信用代码"],
            ["泉州甲有限公司", new_uscc("350502")],
            ["福州乙有限公司", new_uscc("350102")],
        ]
    )
    table = table_of(data, "scope.csv")
    analysis = imports.analyse(table, imports.guess_mapping(table.headers), user=user)
    assert [r.label for r in analysis.rows] == [RowLabel.NEW, RowLabel.INVALID]
    assert "管辖范围" in analysis.rows[1].errors[0]


def test_a_customs_officer_gets_their_office_when_the_file_has_none(make_user):
    officer = make_user("customs", offices=["xm-jinjiang"])
    data = csv_bytes([["企业名称", "统一社会信用代码", "地区"], ["晋江甲有限公司", new_uscc("350582"), "泉州"]])
    table = table_of(data, "customs.csv")
    row = imports.analyse(table, imports.guess_mapping(table.headers), user=officer).rows[0]
    assert row.label == RowLabel.NEW and row.values["office_id"]


def test_of_two_offices_in_one_place_a_customs_officer_gets_the_first_listed(make_user):
    from crm.reference.models import CustomsOffice

    quanzhou = db.session.scalars(select(Area).where(Area.code == "350500")).one()
    district = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "xiamen")).one()
    offices = [
        CustomsOffice(code=code, name_zh=name, sort_order=999, parent=district, areas=[quanzhou])
        for code, name in (("zz-test", "乙海关"), ("aa-test", "甲海关"))
    ]
    db.session.add_all(offices)
    db.session.commit()
    officer = make_user("customs", offices=["zz-test", "aa-test"])
    data = csv_bytes([["企业名称", "统一社会信用代码", "地区"], ["晋江乙有限公司", new_uscc("350582"), "泉州"]])
    table = table_of(data, "customs.csv")
    row = imports.analyse(table, imports.guess_mapping(table.headers), user=officer).rows[0]
    assert row.values["office_id"] == offices[1].id  # by sort order, then code, as the office lists show them


# --- committing ------------------------------------------------------------------------------------------


def _mixed_file(existing_uscc: str) -> tuple[bytes, str]:
    code = new_uscc()
    return xlsx_bytes(
        [
            ["企业名称", "统一社会信用代码", "所在地市", "推荐单位", "推荐理由", "优先级", "联系人", "手机", "行业"],
            ["导入甲有限公司", code, "泉州", "泉州市商务局", "出口增长快", "A", "王伟", "13800138000", "制鞋业"],
            ["已有企业有限公司", existing_uscc, "泉州", "厦门海关", "", "B", "李娜", "13900139000", "纺织业"],
            ["坏代码有限公司", corrupt_check_character(new_uscc()), "泉州", "", "", "", "", "", ""],
        ]
    ), code


def test_all_or_nothing_by_default(make_enterprise):
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    data, _code = _mixed_file(existing.uscc)
    before = count(Enterprise)
    batch, analysis = run(data, "mixed.xlsx")
    with pytest.raises(imports.ImportRefusedError, match="1"):
        imports.commit(batch, analysis)
    assert count(Enterprise) == before


def test_valid_rows_only_imports_them_into_candidate_with_contact_and_recommendation(make_enterprise):
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    data, code = _mixed_file(existing.uscc)
    batch, analysis = run(data, "mixed.xlsx", valid_only=True)
    imports.commit(batch, analysis)
    assert (batch.created_count, batch.updated_count, batch.skipped_count, batch.rejected_count) == (1, 0, 1, 1)
    created = db.session.scalars(select(Enterprise).where(Enterprise.uscc == code)).one()
    assert created.stage == "candidate" and created.import_batch_id == batch.id
    assert created.priority == Priority.A and created.industry == "制鞋业"
    assert [(c.name, c.mobile, c.is_primary) for c in created.contacts] == [("王伟", "13800138000", True)]
    assert [r.reason for r in created.recommendations] == ["出口增长快"]
    history = db.session.scalars(select(StageChange).where(StageChange.enterprise_id == created.id)).all()
    assert [(h.from_stage, h.to_stage) for h in history] == [(None, "candidate")]
    from crm.enterprises.timeline import edit_entries

    assert [e.title for e in edit_entries(created.id)] == ["导入自 mixed.xlsx"]
    assert existing.industry == "", "skipped: the existing record is left alone"
    event = db.session.scalars(
        select(AuditLog).where(AuditLog.action == AuditAction.IMPORT, AuditLog.record_type == "EnterpriseImport")
    ).one()
    assert event.changes["created"] == 1


def test_existing_rows_can_fill_empty_fields_and_undo_clears_them(make_enterprise):
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    data, _code = _mixed_file(existing.uscc)
    batch, analysis = run(data, "mixed.xlsx", valid_only=True, existing=ExistingAction.FILL_EMPTY)
    imports.commit(batch, analysis)
    assert batch.updated_count == 1
    assert existing.industry == "纺织业"
    assert [c.name for c in existing.contacts] == ["李娜"]
    assert [r.unit.code for r in existing.recommendations] == ["customs-xiamen"]
    db.session.commit()
    imports.undo(batch)
    db.session.commit()
    db.session.refresh(existing)
    assert existing.industry == "" and existing.contacts == [] and existing.recommendations == []
    assert batch.status == ImportStatus.UNDONE


def test_fill_empty_changes_only_the_enterprises_with_something_to_fill(make_enterprise):
    complete = make_enterprise(area="350500", office="xm-quanzhou", industry="纺织业")
    contactless = make_enterprise(area="350500", office="xm-quanzhou", industry="纺织业")
    no_industry = make_enterprise(area="350500", office="xm-quanzhou")
    for enterprise in (complete, no_industry):
        db.session.add(Contact(enterprise=enterprise, name="张敏", mobile="13600136000", is_primary=True))
    db.session.commit()
    stamps = {e.id: e.updated_at for e in (complete, contactless, no_industry)}
    data = xlsx_bytes(
        [["企业名称", "统一社会信用代码", "所在地市", "联系人", "手机", "行业"]]
        + [[e.name, e.uscc, "泉州", "李娜", "13900139000", "纺织业"] for e in (complete, contactless, no_industry)]
    )
    batch, analysis = run(data, "fill.xlsx", valid_only=True, existing=ExistingAction.FILL_EMPTY)
    imports.commit(batch, analysis)
    db.session.commit()
    assert (batch.created_count, batch.updated_count, batch.skipped_count) == (0, 2, 1)
    assert batch.filled_fields == {str(contactless.id): {"contact": True}, str(no_industry.id): {"industry": "纺织业"}}
    db.session.expire_all()
    assert complete.updated_at == stamps[complete.id] and [c.name for c in complete.contacts] == ["张敏"]
    assert [c.name for c in contactless.contacts] == ["李娜"]
    assert no_industry.industry == "纺织业" and [c.name for c in no_industry.contacts] == ["张敏"]
    updates = select(AuditLog.enterprise_id).where(AuditLog.action == AuditAction.UPDATE)
    audited = db.session.scalars(updates.where(AuditLog.record_type == "Enterprise")).all()
    assert complete.id not in audited and no_industry.id in audited


def test_undo_removes_what_the_import_created_while_nothing_is_attached(make_enterprise):
    data = csv_bytes([["企业名称", "统一社会信用代码"], ["撤销甲有限公司", new_uscc()], ["撤销乙有限公司", new_uscc()]])
    batch, analysis = run(data, "undo.csv")
    imports.commit(batch, analysis)
    db.session.commit()
    assert imports.undo_blockers(batch) == []
    created = db.session.scalars(select(Enterprise).where(Enterprise.import_batch_id == batch.id)).all()
    services.add_note(created[0], "已电话联系")
    db.session.commit()
    blockers = imports.undo_blockers(batch)
    assert blockers and "备忘" in blockers[0]
    with pytest.raises(imports.ImportRefusedError):
        imports.undo(batch)


def test_undo_after_a_clean_import_removes_everything(make_enterprise):
    data = csv_bytes(
        [["企业名称", "统一社会信用代码", "联系人", "手机"], ["撤销丙有限公司", new_uscc(), "赵强", "13700137000"]]
    )
    batch, analysis = run(data, "undo.csv")
    imports.commit(batch, analysis)
    db.session.commit()
    removed = imports.undo(batch)
    db.session.commit()
    assert removed == 1
    assert db.session.scalar(select(func.count()).where(Enterprise.import_batch_id == batch.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_error_report_returns_the_rejected_rows_with_a_reason(make_enterprise):
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    data, _code = _mixed_file(existing.uscc)
    batch, analysis = run(data, "mixed.xlsx", valid_only=True)
    imports.store_error_report(batch, analysis)
    assert batch.error_report is not None
    with open(batch.error_report.path, "rb") as fh:
        workbook = load_workbook(fh)
        rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("原行号", "错误原因", "企业名称")
    assert len(rows) == 2 and rows[1][0] == 4 and "校验码" in rows[1][1] and rows[1][2] == "坏代码有限公司"
    workbook.close()


def test_a_new_row_found_in_the_crm_at_commit_time_is_not_created_twice():
    code = new_uscc()
    batch, analysis = run(csv_bytes([["企业名称", "统一社会信用代码"], ["并发甲有限公司", code]]), "race.csv")
    assert analysis.rows[0].label == RowLabel.NEW
    services.create_enterprise({"name": "并发甲有限公司", "uscc": code, "area": None} | _quanzhou())
    imports.commit(batch, analysis)
    assert batch.created_count == 0 and batch.skipped_count == 1


def test_an_import_keeps_one_row_per_spreadsheet_row(make_enterprise):
    """The preview pages an import's rows by row number: a second row of the same number is refused."""
    data, _code = _mixed_file(make_enterprise(area="350500", office="xm-quanzhou").uscc)
    batch, analysis = run(data, "mixed.xlsx")
    other, _ = run(data, "again.xlsx")
    imports.store_analysis(batch, analysis)
    imports.store_analysis(batch, analysis)  # checked again: replaces the rows
    imports.store_analysis(other, analysis)  # another import has its own numbers
    numbers = db.session.scalars(
        select(EnterpriseImportRow.row_number).where(EnterpriseImportRow.import_id == batch.id)
    ).all()
    assert sorted(numbers) == [2, 3, 4] == [r.row_number for r in imports.stored_analysis(batch).rows]
    savepoint = db.session.begin_nested()
    db.session.add(EnterpriseImportRow(import_id=batch.id, row_number=3, label=RowLabel.NEW))
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()


def test_two_checks_of_one_import_stored_at_once_leave_one_set_of_rows(postgres, real_db, app, make_enterprise):
    """A mapping form sent twice: the second check waits for the first and replaces its rows (PostgreSQL)."""
    import threading

    data, _code = _mixed_file(make_enterprise(area="350500", office="xm-quanzhou").uscc)
    batch, analysis = run(data, "twice.xlsx")
    db.session.commit()
    batch_id = batch.id
    first_stored = threading.Event()
    errors: list[BaseException] = []

    def check(first: bool) -> None:
        with app.app_context():  # its own session, connection and transaction
            try:
                if not first:
                    first_stored.wait(timeout=10)
                imports.store_analysis(db.session.get(EnterpriseImport, batch_id), analysis)
                db.session.flush()
                if first:
                    first_stored.set()
                    time.sleep(0.5)  # the second check starts while this one is not committed yet
                db.session.commit()
            except BaseException as exc:  # reported to the main thread below
                errors.append(exc)
                first_stored.set()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=check, args=(first,)) for first in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    numbers = db.session.scalars(
        select(EnterpriseImportRow.row_number).where(EnterpriseImportRow.import_id == batch_id)
    ).all()
    assert sorted(numbers) == [2, 3, 4]


def _quanzhou():
    from crm.reference.models import Area

    return {"area": db.session.scalars(select(Area).where(Area.code == "350500")).one()}


# --- the pages ------------------------------------------------------------------------------------------


def upload(client, data: bytes, filename: str):
    return client.post_form(
        "/enterprises/import", {"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def test_import_through_mapping_and_preview_screens(client, make_user, make_enterprise):
    user = make_user("bureau", areas=["350500"])
    existing = make_enterprise(area="350500", office="xm-quanzhou")
    client.login(user)
    data, code = _mixed_file(existing.uscc)
    response = upload(client, data, "推荐名单.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)
    batch = db.session.scalars(select(EnterpriseImport)).one()
    mapping_page = client.get(response.location).get_data(as_text=True)
    assert "导入甲有限公司" in mapping_page and "企业名称" in mapping_page
    form = {f"col_{i}": key for i, key in batch.mapping.items()}
    form["col_8"] = ""  # the user chooses not to import the 行业 column
    preview = client.post_form(response.location, form)
    assert preview.status_code == 302
    page = client.get(preview.location).get_data(as_text=True)
    assert "坏代码有限公司" in page and "校验码" in page and "系统中已有" in page
    assert batch.status == ImportStatus.ANALYSED and batch.invalid_rows == 1
    refused = client.post_form(f"/enterprises/imports/{batch.id}/commit", {"existing_action": "skip"})
    assert refused.status_code == 302
    assert batch.status == ImportStatus.ANALYSED and "未导入任何数据" in batch.message
    assert db.session.scalar(select(func.count()).where(Enterprise.uscc == code)) == 0
    done = client.post_form(
        f"/enterprises/imports/{batch.id}/commit", {"existing_action": "skip", "valid_rows_only": "y"}
    )
    assert done.status_code == 302 and batch.status == ImportStatus.COMMITTED
    created = db.session.scalars(select(Enterprise).where(Enterprise.uscc == code)).one()
    assert created.industry == "" and created.created_by_id == user.id
    with client.get(f"/enterprises/imports/{batch.id}/errors") as report:
        assert report.status_code == 200
    assert client.post_form(f"/enterprises/imports/{batch.id}/undo").status_code == 302
    assert batch.status == ImportStatus.UNDONE
    assert db.session.get(Enterprise, created.id) is None
    history = client.get("/enterprises/imports").get_data(as_text=True)
    assert "推荐名单.xlsx" in history


def test_upload_refusals_are_shown_at_the_field_and_change_nothing(client, make_user):
    client.login(make_user("bureau", areas=["350500"]))
    body = upload(client, b"%PDF-1.4 not a list", "list.pdf").get_data(as_text=True)
    assert 'id="file-error"' in body and "不是电子表格" in body
    assert count(EnterpriseImport) == 0


def test_mapping_must_include_name_and_code(client, make_user):
    client.login(make_user("bureau", areas=["350500"]))
    response = upload(client, csv_bytes([["企业名称", "统一社会信用代码"], ["甲", new_uscc()]]), "a.csv")
    body = client.post_form(response.location, {"col_0": "name", "col_1": ""}).get_data(as_text=True)
    assert "统一社会信用代码" in body and "没有列对应" in body


def test_imports_of_others_are_hidden(client, app, make_user):
    client.login(make_user("bureau", areas=["350500"]))
    response = upload(client, csv_bytes([["企业名称", "统一社会信用代码"], ["甲", new_uscc()]]), "a.csv")
    batch = db.session.scalars(select(EnterpriseImport)).one()
    assert response.status_code == 302
    other = app.test_client()
    other.login(make_user("bureau", areas=["350500"]))
    assert other.get(f"/enterprises/imports/{batch.id}").status_code == 404
    manager = app.test_client()
    manager.login(make_user("manager"))
    assert manager.get(f"/enterprises/imports/{batch.id}").status_code == 200
    assert manager.get("/enterprises/import").status_code == 403


def test_large_files_are_checked_and_imported_by_jobs(client, make_user, monkeypatch):
    monkeypatch.setattr(imports, "BACKGROUND_ROWS", 2)
    client.login(make_user("bureau", areas=["350500"]))
    rows = [["企业名称", "统一社会信用代码"]] + [[f"批量{n}有限公司", new_uscc()] for n in range(5)]
    response = upload(client, csv_bytes(rows), "big.csv")
    batch = db.session.scalars(select(EnterpriseImport)).one()
    client.post_form(response.location, {"col_0": "name", "col_1": "uscc"})
    assert batch.status == ImportStatus.ANALYSED and batch.new_rows == 5, batch.message
    status = client.get(f"/enterprises/imports/{batch.id}?format=json").json
    assert status["running"] is False and status["percent"] == 100
    client.post_form(f"/enterprises/imports/{batch.id}/commit", {"existing_action": "skip"})
    db.session.refresh(batch)
    assert batch.status == ImportStatus.COMMITTED and batch.created_count == 5
    from crm.core.jobs import QueuedJob

    assert {j.task_name for j in db.session.scalars(select(QueuedJob))} == {
        "enterprises.analyse_import",
        "enterprises.commit_import",
    }
    assert count(Recommendation) == 0


def test_the_usual_area_headings_are_recognised():
    for heading in ("所在地市", "所属地区", "设区市"):
        assert imports.guess_mapping(["企业名称", heading]) == {"0": "name", "1": "area"}, heading
