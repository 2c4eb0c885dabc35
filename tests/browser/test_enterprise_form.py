"""Creating an enterprise: a mistyped 统一社会信用代码 gets its message beside the field, then is corrected."""

import re

import pytest
from playwright.sync_api import expect

from crm.demo.names import uscc_for
from tests.browser.helpers import expect_field_error

pytestmark = pytest.mark.browser


def test_a_wrong_credit_code_is_explained_at_the_field_then_corrected(new_page):
    page = new_page("bureau")  # 泉州市商务局
    page.goto("/enterprises/")
    page.get_by_role("link", name=re.compile("新增企业|添加企业|新建企业")).first.click()
    expect(page).to_have_url(re.compile(r"/enterprises/new$"))

    valid = uscc_for(880_010, "350502")
    mistyped = valid[:-1] + ("0" if valid[-1] != "0" else "1")  # the last character is the check character
    page.get_by_label("企业名称").fill("泉州浏览器测试进出口有限公司")
    page.get_by_label("统一社会信用代码").fill(mistyped)
    page.get_by_label(re.compile(r"^地区")).select_option(label="泉州")
    page.get_by_role("button", name="保存", exact=True).click()

    expect_field_error(page, "uscc", "校验码")
    expect(page.get_by_label("企业名称")).to_have_value("泉州浏览器测试进出口有限公司")  # nothing typed is lost

    page.get_by_label("统一社会信用代码").fill(valid)
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page).to_have_url(re.compile(r"/enterprises/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("泉州浏览器测试进出口有限公司")
    expect(page.locator("main")).to_contain_text(valid)
