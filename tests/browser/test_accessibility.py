"""axe-core on the main pages: no serious or critical violation, in Chinese and in English."""

import pytest

from tests.browser.helpers import describe_violations, run_axe

pytestmark = pytest.mark.browser

#: (role or None for logged out, path); ``{in_scope}`` is an enterprise the role may see. Add each new main
#: page here as its feature lands (board, dashboard, forms, visit log, event registration, ...).
MAIN_PAGES = [
    (None, "/login"),
    ("bureau", "/"),
    ("bureau", "/enterprises/"),
    ("bureau", "/enterprises/?stage=cultivating&page=2"),
    ("bureau", "/enterprises/?q=no-such-enterprise"),
    ("bureau", "/enterprises/{in_scope}"),
    ("bureau", "/profile"),
    ("admin", "/admin/users/"),
    ("admin", "/admin/reference/"),
    ("manager", "/exports/"),
    ("manager", "/exports/subscriptions"),
    ("manager", "/exports/subscriptions/new?kind=enterprises&format=xlsx&params=area%3D350500"),
]


@pytest.mark.parametrize(("role", "path"), MAIN_PAGES)
def test_main_pages_have_no_serious_accessibility_violation(new_page, facts, role, path):
    page = new_page(role)
    page.goto(path.format(**facts["enterprises"][role or "admin"]))
    violations = run_axe(page)
    assert not violations, describe_violations(violations)


@pytest.mark.parametrize("path", ["/", "/enterprises/", "/enterprises/{in_scope}", "/profile"])
def test_english_pages_have_no_serious_accessibility_violation(new_page, facts, path):
    page = new_page("english")
    page.goto(path.format(**facts["enterprises"]["english"]))
    assert page.locator("html").get_attribute("lang") == "en"
    violations = run_axe(page)
    assert not violations, describe_violations(violations)


def test_the_english_login_page_has_no_serious_accessibility_violation(page):
    page.goto("/login")
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    violations = run_axe(page)
    assert not violations, describe_violations(violations)
