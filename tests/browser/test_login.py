"""Logging in through the Chinese login page, and the language switch remembered on the account."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import expect_field_error

pytestmark = pytest.mark.browser


def test_log_in_in_chinese_switch_to_english_and_back(page, facts):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()

    page.get_by_label("用户名").fill(facts["users"]["language"])
    page.get_by_role("button", name="登录", exact=True).click()
    expect_field_error(page, "password", re.compile(r"\S"))

    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")

    page.get_by_label("密码").fill(facts["password"])
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="我管辖范围内的培育进度")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Pipeline in my jurisdiction")).to_be_visible()
    page.get_by_role("link", name="Enterprises", exact=True).click()
    expect(page.get_by_role("heading", name="Enterprises")).to_be_visible()

    # The choice is kept on the account: logging out shows the default (Chinese) login page again, and
    # logging back in brings English back.
    page.get_by_role("button", name=re.compile("浏览器测试")).click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("用户名").fill(facts["users"]["language"])
    page.get_by_label("密码").fill(facts["password"])
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="Pipeline in my jurisdiction")).to_be_visible()

    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="我管辖范围内的培育进度")).to_be_visible()
