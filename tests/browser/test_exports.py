"""A large export in the background: started from the enterprise list, followed on its progress page until the
download link appears, downloaded, and listed under "my exports"; then a scheduled report subscribed to."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.helpers import expect_progress_complete

pytestmark = pytest.mark.browser


def test_a_background_export_reaches_its_download_link(new_page, facts):
    page = new_page("bureau")  # 泉州市商务局
    page.goto("/enterprises/?sort=name")
    page.get_by_role("button", name="后台导出").click()
    page.get_by_role("button", name="大批量导出（XLSX）").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("企业名单 (XLSX)")

    expect_progress_complete(page.locator("[data-progress]"))
    link = page.get_by_role("link", name="下载")
    expect(link).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("可以下载")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert re.fullmatch(r"enterprises-\d{8}-\d{4}\.xlsx", download.suggested_filename)
    with open(download.path(), "rb") as fh:
        rows = list(load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))
    assert rows[0][0] == "企业名单" and rows[1][0] == "导出人" and rows[3][0] == "企业名称"
    assert len(rows) > 4 and all(row[3] == "泉州" for row in rows[4:]), "only the bureau's area"

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的导出").click()
    expect(page.get_by_role("heading", name="我的导出")).to_be_visible()
    row = page.locator("main table tbody tr").first
    expect(row).to_contain_text("企业名单")
    expect(row).to_contain_text("可以下载")
    expect(row.get_by_role("link", name="下载")).to_be_visible()


def test_subscribe_to_the_filtered_list_by_email(new_page):
    page = new_page("manager")
    page.goto("/enterprises/?area=350500")
    page.get_by_role("button", name="后台导出").click()
    page.get_by_role("link", name="定时邮件发送此名单").click()
    expect(page.get_by_role("heading", name="新建订阅")).to_be_visible()
    expect(page.locator("main")).to_contain_text("area = 350500")
    page.get_by_label("名称").fill("泉州企业周报")
    page.get_by_label("频率").select_option("weekly")
    page.get_by_label("星期").select_option("0")
    page.get_by_label("时间（北京时间）").select_option("8")
    page.get_by_role("button", name="订阅").click()
    expect(page.get_by_role("heading", name="定时报表")).to_be_visible()
    row = page.locator("main table tbody tr", has_text="泉州企业周报")
    expect(row).to_contain_text("每周一 08:00")
    row.get_by_role("button", name="暂停").click()
    expect(page.locator("main table tbody tr", has_text="泉州企业周报")).to_contain_text("已暂停")
