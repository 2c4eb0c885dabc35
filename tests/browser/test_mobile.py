"""A phone in the field: 375 px wide, nothing scrolls sideways, the menu folds away."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import assert_no_horizontal_scroll, page_path

pytestmark = pytest.mark.browser


def test_enterprise_list_at_375px_has_no_horizontal_scroll(new_page):
    page = new_page("customs", viewport=PHONE)
    page.goto("/enterprises/?stage=cultivating")
    expect(page.locator("main table tbody tr").first).to_be_visible()
    assert_no_horizontal_scroll(page)

    menu = page.get_by_role("button", name="切换导航")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="首页", exact=True)).to_be_hidden()
    menu.click()
    expect(page.get_by_role("link", name="首页", exact=True)).to_be_visible()
    assert_no_horizontal_scroll(page)


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/",
        "/enterprises/{in_scope}",
        "/profile",
        "/my-work/",
        "/visits/",
        "/calendar/",
        "/enterprises/{in_scope}/visits/new",
        "/pipeline/",
        "/plans/{plan_id}",
        "/visits/{visit_id}",
    ],
)
def test_main_pages_at_375px_have_no_horizontal_scroll(new_page, facts, path):
    role = None if path == "/login" else "customs"
    page = new_page(role, viewport=PHONE)
    response = page.goto(page_path(path, facts, role))
    assert response is not None and response.ok, f"{page.url} answered {response and response.status}"
    assert_no_horizontal_scroll(page)
