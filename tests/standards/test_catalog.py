"""Catalog import: a small YAML version, a broken one refused whole, XLSX, replacing, verifying."""

import io

import pytest
import yaml
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.standards import catalog, services
from crm.standards.models import StandardItem, StandardVersion

SMALL = """
code: aeo-2026-test
title: 认证企业标准（测试）
instrument: 海关总署公告2026年第34号 附件
effective_on: 2026-04-01
tier: aeo
rules:
  pass_line: 90
  max_basic: 2
  max_basic_categories: [internal_control]
  financial:
    solvency:
      - {ratio: debt_ratio, op: "<=", production: 0.95, non_production: 0.85}
      - {ratio: current_ratio, op: ">=", value: 0.8}
categories:
  - code: internal_control
    name_zh: 内部控制
    clauses:
      - number: 1
        title_zh: 关企合作
        items:
          - {number: 1, title_zh: 关务负责人, title_en: Customs contact}
          - {number: 2, title_zh: 单证复核, business_types: [consignee]}
  - code: finance
    name_zh: 财务状况
    clauses:
      - number: 2
        title_zh: 财务状况
        items:
          - {number: 3, title_zh: 偿债能力, computed_from: solvency}
  - code: bonus
    name_zh: 附加标准
    bonus: true
    clauses:
      - number: 3
        title_zh: 附加标准
        items:
          - {number: 4, title_zh: 专精特新}
"""


def versions_count() -> int:
    return db.session.scalar(select(func.count(StandardVersion.id)))


def test_import_a_small_yaml_version():
    version, created = catalog.import_catalog(catalog.read_yaml(SMALL))
    assert created and version.code == "aeo-2026-test" and not version.is_verified
    assert [i.number for i in version.items] == [1, 2, 3, 4]
    assert [c.code for c in version.categories] == ["internal_control", "finance", "bonus"]
    items = {i.number: i for i in version.items}
    assert items[4].is_bonus and not items[1].is_bonus
    assert [t.code for t in items[2].business_types] == ["consignee"]
    assert items[3].computed_from == "solvency"
    assert version.rules["pass_line"] == 90 and version.rules["base"] == 100 and version.rules["bonus_cap"] == 2
    assert version.rules["financial"]["solvency"][1] == {"ratio": "current_ratio", "op": ">=", "value": 0.8}
    assert services.current_version("aeo").id == version.id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(tier="gold"), "tier"),
        (lambda d: d["categories"][0]["clauses"][0]["items"].append({"number": 1, "title_zh": "重复"}), "第1项"),
        (lambda d: d["categories"][0]["clauses"][0]["items"][0].pop("title_zh"), "title_zh"),
        (lambda d: d["categories"][0]["clauses"][0]["items"][1].update(business_types=["spaceport"]), "spaceport"),
        (lambda d: d["categories"][1]["clauses"][0]["items"][0].update(computed_from="luck"), "computed_from"),
        (lambda d: d["rules"].update(max_basic_categories=["nowhere"]), "nowhere"),
        (lambda d: d["rules"]["financial"]["solvency"].append({"ratio": "vibes", "op": ">", "value": 1}), "vibes"),
        (lambda d: d["rules"].pop("financial"), "financial"),
        (lambda d: d.update(categories=[]), "categories"),
    ],
)
def test_a_broken_catalog_is_refused_with_a_clear_message_and_changes_nothing(change, message):
    before = versions_count()
    data = yaml.safe_load(SMALL)
    change(data)
    with pytest.raises(catalog.CatalogError) as excinfo:
        catalog.import_catalog(data)
    assert any(message in error for error in excinfo.value.errors), excinfo.value.errors
    assert versions_count() == before


def test_every_problem_is_listed_at_once():
    data = yaml.safe_load(SMALL)
    data["tier"] = "gold"
    data["code"] = "has spaces"
    with pytest.raises(catalog.CatalogError) as excinfo:
        catalog.import_catalog(data)
    assert len(excinfo.value.errors) == 2


def test_unreadable_yaml_is_refused():
    with pytest.raises(catalog.CatalogError) as excinfo:
        catalog.read_yaml("code: [unclosed")
    assert "YAML" in excinfo.value.errors[0]


def test_an_existing_code_needs_replace_and_replacing_keeps_used_items(make_enterprise):
    version, _ = catalog.import_catalog(catalog.read_yaml(SMALL))
    services.set_verified(version, True)
    with pytest.raises(catalog.CatalogError):
        catalog.import_catalog(catalog.read_yaml(SMALL))
    assessment = services.create_assessment(make_enterprise(), version=version, kind="self")
    item_ids = {r.item.number: r.item_id for r in assessment.results}
    data = yaml.safe_load(SMALL)
    data["categories"][0]["clauses"][0]["items"][0]["title_zh"] = "关务负责人（修订）"
    replaced, created = catalog.import_catalog(data, replace=True)
    assert not created and replaced.id == version.id and not replaced.is_verified
    first = db.session.scalars(select(StandardItem).where(StandardItem.id == item_ids[1])).one()
    assert first.title_zh == "关务负责人（修订）"
    # An item used by an assessment cannot be dropped: refused, nothing changed.
    data["categories"][0]["clauses"][0]["items"].pop(0)
    with pytest.raises(catalog.CatalogError) as excinfo:
        catalog.import_catalog(data, replace=True)
    assert "1" in excinfo.value.errors[0]
    assert db.session.get(StandardItem, item_ids[1]).title_zh == "关务负责人（修订）"


def xlsx_catalog() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "version"
    for row in [
        ("code", "aeo-xlsx"),
        ("title", "认证企业标准（XLSX）"),
        ("tier", "aeo"),
        ("effective_on", "2026-04-01"),
        ("pass_line", 95),
        ("max_basic_categories", "internal_control"),
    ]:
        sheet.append(row)
    items = workbook.create_sheet("items")
    items.append(catalog.ITEM_COLUMNS)
    items.append(
        ("internal_control", "内部控制", "Internal control", 1, "关企合作", "", 1, "关务负责人", "", "", "", "", "")
    )
    items.append(
        (
            "internal_control",
            "内部控制",
            "Internal control",
            1,
            "关企合作",
            "",
            2,
            "单证复核",
            "",
            "",
            "consignee, customs_broker",
            "",
            "",
        )
    )
    items.append(("finance", "财务状况", "", 2, "财务状况", "", 3, "偿债能力", "", "", "", "solvency", ""))
    items.append(("bonus", "附加标准", "", 3, "附加标准", "", 4, "绿色工厂", "", "", "", "", "yes"))
    financial = workbook.create_sheet("financial")
    financial.append(("group", "ratio", "op", "value", "production", "non_production"))
    financial.append(("solvency", "debt_ratio", "<=", None, 0.95, 0.85))
    financial.append(("solvency", "cash_ratio", ">=", 0.1, None, None))
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return buffer


def test_import_from_xlsx():
    data = catalog.read_catalog(xlsx_catalog(), "catalog.xlsx")
    version, created = catalog.import_catalog(data)
    assert created and version.tier.value == "aeo"
    items = {i.number: i for i in version.items}
    assert sorted(t.code for t in items[2].business_types) == ["consignee", "customs_broker"]
    assert items[4].is_bonus and items[3].computed_from == "solvency"
    assert version.rules["financial"]["solvency"][0]["non_production"] == 0.85


def test_export_round_trips(version):
    exported = catalog.export_catalog(version)
    exported["code"] = "aeo-advanced-2026-copy"
    copy, created = catalog.import_catalog(yaml.safe_load(catalog.dump_yaml(exported)))
    assert created and len(copy.items) == 74 and copy.rules == version.rules


def test_seeding_twice_changes_nothing():
    assert catalog.seed_standards() == 0
    assert (
        db.session.scalar(select(func.count(StandardVersion.id)).where(StandardVersion.code == "aeo-advanced-2026"))
        == 1
    )
