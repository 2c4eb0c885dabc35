"""Importing a spreadsheet of enterprises: upload, say which column holds what, look at the preview, import."""

import re

import pytest
from playwright.sync_api import expect

from crm.demo.names import uscc_for
from tests.browser.helpers import write_xlsx

pytestmark = pytest.mark.browser


def test_import_through_the_mapping_and_preview_screens(new_page, tmp_path):
    names = [f"导入测试{n}号进出口有限公司" for n in range(1, 4)]
    rows = [(name, uscc_for(881_000 + n, "350502"), "泉州") for n, name in enumerate(names)]
    rows.append(("导入测试无效代码有限公司", "91350500NOTACODE1", "泉州"))
    # "报送企业" is no heading the CRM knows: the user says it holds the enterprise's name.
    file = write_xlsx(tmp_path / "推荐企业名单.xlsx", ["报送企业", "统一社会信用代码", "地区"], rows)

    page = new_page("bureau")
    page.goto("/enterprises/")
    page.get_by_role("link", name="导入", exact=True).click()
    expect(page.get_by_role("heading", name="导入企业")).to_be_visible()
    page.get_by_label("电子表格").set_input_files(file)
    page.get_by_role("button", name="上传并继续").click()

    # The mapping screen: the known headings are guessed, the unknown one is left for the user.
    expect(page.get_by_role("heading", name="各列分别是什么内容？")).to_be_visible()
    expect(page.get_by_label("统一社会信用代码", exact=True)).to_have_value("uscc")
    name_column = page.get_by_label("报送企业", exact=True)
    expect(name_column).to_have_value("")
    name_column.select_option(label="企业名称")
    page.get_by_role("button", name="检查各行").click()

    # The preview: every row labelled, the invalid one with its reason.
    expect(page.get_by_role("heading", name="推荐企业名单.xlsx")).to_be_visible(timeout=30_000)
    table = page.locator("main table").last
    expect(table.locator("tbody tr")).to_have_count(4, timeout=30_000)
    for name in names:
        expect(table.locator("tr", has_text=name).locator(".badge")).to_have_text(re.compile(r"^新"))
    invalid = table.locator("tr", has_text="导入测试无效代码有限公司")
    expect(invalid.locator(".badge")).to_have_text("无效")
    expect(invalid.locator(".text-danger")).not_to_be_empty()

    page.get_by_label("只导入有效的行，其余行不导入").check()
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="新增企业 3 家")).to_be_visible(timeout=30_000)

    page.goto("/enterprises/?q=" + names[0])
    expect(page.locator("main table tbody tr", has_text=names[0])).to_have_count(1)
    page.goto("/enterprises/?q=导入测试无效代码")
    expect(page.locator("main table tbody tr", has_text="导入测试无效代码有限公司")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q="))
