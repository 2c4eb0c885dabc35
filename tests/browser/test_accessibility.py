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
    ("bureau", "/enterprises/new"),
    ("bureau", "/enterprises/import"),
    ("bureau", "/enterprises/imports"),
    ("bureau", "/pipeline/"),
    ("bureau", "/pipeline/?q={board_query}"),
    ("bureau", "/visits/"),
    ("bureau", "/enterprises/{in_scope}/visits/new"),
    ("bureau", "/calendar/"),
    ("bureau", "/my-work/"),
    ("bureau", "/events/"),
    ("bureau", "/events/{event_id}"),
    ("bureau", "/events/{event_id}/checkin"),
    (None, "{registration_url}"),
    ("manager", "/"),
    ("manager", "/dashboard/"),
    ("bureau", "/dashboard/"),
    ("customs", "/dashboard/"),
    ("admin", "/admin/targets/"),
    ("admin", "/admin/targets/new"),
    ("manager", "/exports/"),
    ("manager", "/exports/subscriptions"),
    ("manager", "/exports/subscriptions/new?kind=enterprises&format=xlsx&params=area%3D350500"),
]


def fill(path: str, facts: dict, role: str | None) -> str:
    """The path with the facts it names: the role's enterprises, the journeys' event and board."""
    values = {
        **facts["enterprises"][role or "admin"],
        "event_id": facts["event"]["id"],
        "registration_url": facts["event"]["registration_url"],
        "board_query": facts["board"]["query"],
    }
    return path.format(**values)


@pytest.mark.parametrize(("role", "path"), MAIN_PAGES)
def test_main_pages_have_no_serious_accessibility_violation(new_page, facts, role, path):
    page = new_page(role)
    page.goto(fill(path, facts, role))
    violations = run_axe(page)
    assert not violations, describe_violations(violations)


@pytest.mark.parametrize("path", ["/", "/enterprises/", "/enterprises/{in_scope}", "/profile", "/dashboard/"])
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
