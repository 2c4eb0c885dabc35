"""Logging a visit on a phone (375 px): the form fits the screen, and the visit is saved."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import assert_no_horizontal_scroll

pytestmark = pytest.mark.browser


def test_log_a_visit_at_375px(new_page, facts):
    enterprise_id = facts["enterprises"]["bureau"]["in_scope"]
    page = new_page("bureau", viewport=PHONE)
    page.goto(f"/enterprises/{enterprise_id}")
    page.get_by_role("link", name="登记走访").first.click()
    expect(page).to_have_url(re.compile(rf"/enterprises/{enterprise_id}/visits/new"))
    expect(page.get_by_role("heading", name="登记走访")).to_be_visible()
    assert_no_horizontal_scroll(page)

    page.get_by_label(re.compile(r"^日期")).fill(date.today().isoformat())
    page.get_by_label(re.compile(r"^时间")).fill("09:30")
    page.get_by_label("地点", exact=True).fill("企业关务部会议室")
    summary = "手机端走访：了解企业内部控制制度建设情况，企业已指定关务负责人。"
    page.get_by_label("概要", exact=True).fill(summary)
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="保存走访记录").click()

    expect(page).to_have_url(re.compile(r"/visits/\d+$"))
    expect(page.get_by_text("走访已登记。")).to_be_visible()
    expect(page.locator("main")).to_contain_text(summary)
    assert_no_horizontal_scroll(page)
