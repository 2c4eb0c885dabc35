"""axe-core on the main pages: no serious or critical violation, in Chinese and in English."""

import pytest

from tests.browser.helpers import describe_violations, page_path, run_axe

pytestmark = pytest.mark.browser

#: (role or None for logged out, path), each page opened by the role that uses it; the records in braces are
#: those seeding recorded (``helpers.page_path``). Add each new main page here as its feature lands.
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
    # enterprises: the pool, one enterprise's timeline and history, an import's preview
    ("bureau", "/enterprises/pool"),
    ("bureau", "/enterprises/{in_scope}/timeline"),
    ("bureau", "/enterprises/{in_scope}/history"),
    ("bureau", "/enterprises/imports/{import_id}"),
    # 1+N cohorts
    ("bureau", "/cohorts/"),
    ("bureau", "/cohorts/{cohort_id}"),
    ("bureau", "/cohorts/new"),
    # plans and cultivation tasks
    ("bureau", "/plans/"),
    ("bureau", "/plans/tasks"),
    ("bureau", "/plans/{plan_id}"),
    ("bureau", "/plans/{plan_id}/print"),
    ("bureau", "/plans/{plan_id}/edit"),
    ("bureau", "/enterprises/{in_scope}/plan/new"),
    ("bureau", "/enterprises/{plan_enterprise}/plan"),
    ("bureau", "/tasks/{task_id}/edit"),
    ("customs", "/plans/"),
    ("admin", "/admin/plan-templates/"),
    ("admin", "/admin/plan-templates/{plan_template_id}"),
    # the standard and assessments against it
    ("bureau", "/standards/"),
    ("bureau", "/standards/{standard_code}"),
    ("bureau", "/enterprises/{assessed_enterprise}/assessments/"),
    ("bureau", "/assessments/{assessment_id}"),
    ("bureau", "/assessments/{assessment_id}/items/{assessment_item}"),
    ("bureau", "/assessments/{assessment_id}/compare"),
    ("bureau", "/assessments/{assessment_id}/financials"),
    ("bureau", "/assessments/{assessment_id}/edit"),
    ("bureau", "/enterprises/{assessed_enterprise}/assessments/new"),
    # reports and statistics
    ("manager", "/reports/"),
    ("manager", "/reports/certified"),
    ("manager", "/reports/measures"),
    ("manager", "/reports/monthly"),
    ("manager", "/reports/pipeline"),
    ("manager", "/events/statistics"),
    ("manager", "/visits/statistics"),
    ("bureau", "/visits/statistics"),
    # visits and notifications
    ("customs", "/visits/{visit_id}"),
    ("bureau", "/events/new"),
    ("bureau", "/notifications/"),
    # administration
    ("admin", "/admin/audit/"),
    ("admin", "/admin/reminders/"),
    ("admin", "/admin/reminders/{reminder_rule_id}"),
    ("admin", "/admin/pipeline/stages/"),
    ("admin", "/admin/pipeline/reasons/"),
    ("admin", "/admin/operations/"),
    ("admin", "/admin/operations/jobs/reminders.sweep"),
    ("admin", "/admin/operations/outbox"),
    ("admin", "/admin/operations/queued-jobs"),
    ("admin", "/admin/operations/reminders"),
    ("admin", "/admin/reference/offices/"),
    ("admin", "/admin/users/{bureau_user_id}"),
]

#: The most used pages, in English as well.
ENGLISH_PAGES = [
    "/",
    "/enterprises/",
    "/enterprises/{in_scope}",
    "/profile",
    "/dashboard/",
    "/plans/",
    "/plans/{plan_id}",
    "/cohorts/{cohort_id}",
    "/reports/",
    "/assessments/{assessment_id}",
    "/events/statistics",
]


@pytest.mark.parametrize(("role", "path"), MAIN_PAGES)
def test_main_pages_have_no_serious_accessibility_violation(new_page, facts, role, path):
    page = new_page(role)
    response = page.goto(page_path(path, facts, role))
    assert response is not None and response.ok, f"{page.url} answered {response and response.status}"
    violations = run_axe(page)
    assert not violations, describe_violations(violations)


@pytest.mark.parametrize("path", ENGLISH_PAGES)
def test_english_pages_have_no_serious_accessibility_violation(new_page, facts, path):
    page = new_page("english")
    response = page.goto(page_path(path, facts, "english"))
    assert response is not None and response.ok, f"{page.url} answered {response and response.status}"
    assert page.locator("html").get_attribute("lang") == "en"
    violations = run_axe(page)
    assert not violations, describe_violations(violations)


def test_the_english_login_page_has_no_serious_accessibility_violation(page):
    page.goto("/login")
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    violations = run_axe(page)
    assert not violations, describe_violations(violations)
