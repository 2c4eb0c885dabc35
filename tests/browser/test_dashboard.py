"""The dashboard: its charts are drawn (the guard fails the test on any console error or CSP violation), each
with its numbers in a table, and the filters narrow the figures."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import drawn_canvases, guard_of

pytestmark = pytest.mark.browser


def test_the_dashboard_draws_its_charts(new_page):
    page = new_page("manager")
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="数据看板", level=1)).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('canvas')].every(c => c.width > 0)")
    page.wait_for_timeout(1500)  # ECharts animates the first drawing
    assert drawn_canvases(page) >= 2
    charts = page.locator("[data-chart]").count()
    assert charts >= 5
    assert page.locator(".dashboard-table table").count() == charts
    expect(page.get_by_role("table", name="培育进度漏斗（分阶段）")).to_be_visible()


def test_managers_land_on_the_dashboard(new_page):
    page = new_page("manager")
    page.goto("/")
    expect(page.get_by_role("heading", name="我管辖范围内的培育进度")).to_be_visible()
    page.wait_for_function("() => document.querySelectorAll('canvas').length > 0")


def test_a_bureau_user_narrows_to_nothing_outside_the_scope_and_sees_a_message_for_bad_dates(new_page):
    page = new_page("bureau")  # 泉州
    page.goto("/dashboard/")
    areas = page.locator("#chart-areas-table tbody th").all_inner_texts()
    assert set(areas) <= {"泉州"}
    page.get_by_label("起始日期").fill("2026-05-01")
    page.get_by_label("截止日期").fill("2026-04-01")
    guard_of(page).expect_console_error(r"status of 400")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"start=2026-05-01"))
    expect(page.locator("#end-error")).to_contain_text("早于")
