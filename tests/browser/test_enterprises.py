"""Browsing the enterprise list in a user's jurisdiction and opening an enterprise."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def column(page, heading: str) -> str:
    """The ``td:nth-child(N)`` selector of the list column whose heading is ``heading``."""
    headings = page.locator("main table thead th").all_inner_texts()
    return f"td:nth-child({[h.strip() for h in headings].index(heading) + 1})"


def test_browse_filter_and_page_the_list_then_open_an_enterprise(new_page):
    page = new_page("bureau")  # 泉州市商务局
    page.goto("/")
    page.get_by_role("link", name="企业", exact=True).click()
    expect(page.get_by_role("heading", name="企业", exact=True)).to_be_visible()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.get_by_text(re.compile(r"第 1–50 条，共 [\d,]+ 条"))).to_be_visible()
    areas = rows.locator(column(page, "地区")).all_inner_texts()
    assert set(areas) == {"泉州"}, "a bureau user sees only the enterprises of their area"

    page.get_by_label("阶段", exact=True).select_option("cultivating")
    page.get_by_role("button", name="筛选", exact=True).click()
    expect(page).to_have_url(re.compile(r"stage=cultivating"))
    stages = [text.splitlines()[0] for text in rows.locator(column(page, "阶段")).all_inner_texts()]
    assert stages and set(stages) == {"培育辅导"}

    first_on_page_one = rows.first.locator("td a").first.inner_text()
    pager = page.get_by_role("navigation", name="分页")
    if pager.count():
        pager.get_by_role("link", name="2", exact=True).click()
        expect(page).to_have_url(re.compile(r"page=2"))
        expect(page).to_have_url(re.compile(r"stage=cultivating"))
        assert rows.first.locator("td a").first.inner_text() != first_on_page_one

    link = rows.first.locator("td a").first
    name = link.inner_text()
    uscc = rows.first.locator(column(page, "统一社会信用代码")).locator("code").inner_text()
    link.click()
    expect(page).to_have_url(re.compile(r"/enterprises/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("main")).to_contain_text(uscc)
    expect(page.locator("main")).to_contain_text("泉州")

    page.get_by_role("navigation", name="导航路径").get_by_role("link", name="企业").click()
    expect(page.get_by_role("heading", name="企业", exact=True)).to_be_visible()


def test_an_enterprise_outside_the_jurisdiction_is_not_found(new_page, facts):
    page = new_page("bureau")
    outside = facts["enterprises"]["bureau"]["out_of_scope"]
    from tests.browser.helpers import guard_of

    guard_of(page).expect_console_error(r"status of 404")
    response = page.goto(f"/enterprises/{outside}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("未找到")
