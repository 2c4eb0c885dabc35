"""Every route and API operation, called as every role and anonymously, in and out of the caller's scope.

The expected answer is read from the code (each view's declared access and the scope rule), so a new route
is checked the day it is added, and a route that declares no access fails here until it does.
"""

from __future__ import annotations

import pytest

from crm.core.permissions import declared_access
from tests.security import routes
from tests.security.routes import ANONYMOUS, UnresolvedArgumentError, rolled_back
from tests.security.world import ROLES


def test_every_route_declares_who_may_call_it(app):
    undeclared = [
        f"{method} {rule.rule} ({rule.endpoint})"
        for rule in routes.app_rules(app)
        for method in routes.rule_methods(rule)
        if routes.access_of(app, rule, method) is None
    ]
    assert not undeclared, (
        "These routes declare no access: decorate the view with @permission_required(...) (no argument: any "
        "logged-in user) or @public:\n  " + "\n  ".join(undeclared)
    )


def test_declared_access_survives_other_decorators(app):
    login = app.view_functions["auth.login"]
    assert declared_access(login).public
    assert declared_access(app.view_functions["users_admin.list_users"]).permissions == {"manage_users"}


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_permission_matrix(app, client, world, role, no_rate_limits):
    failures: list[str] = []
    checked = 0
    for call in routes.calls(app, world):
        access = routes.access_of(app, call.rule, call.method)
        if access is None:
            continue  # reported by test_every_route_declares_who_may_call_it
        try:
            values, enterprise_id = routes.url_values(call, world, role)
            url = routes.build_url(call, values)
        except UnresolvedArgumentError as exc:
            failures.append(str(exc))
            continue
        expected = routes.expectation(call, access, role, enterprise_id)
        with rolled_back():
            try:
                response = routes.perform(client, call, url, role, world)
            except Exception as exc:  # a crash is a failure of this call, not of the whole matrix
                failures.append(f"{call} as {role}: raised {type(exc).__name__}: {exc}")
                continue
            checked += 1
            if not routes.meets(expected, response):
                where = response.headers.get("Location", "")
                failures.append(
                    f"{call} as {role}: expected {expected.describe()}, got {response.status_code} {where}".rstrip()
                )
            failures.extend(f"{call} as {role}: {problem}" for problem in routes.page_problems(response))
            if not access.public:
                # A public page shows anyone what anonymous callers see (a registration link shows its invited
                # enterprise to whoever holds the token): the caller's jurisdiction is not what grants it.
                failures.extend(f"{call} as {role}: {p}" for p in routes.scope_leaks(response, world, role))
    assert checked, "the matrix called nothing"
    assert not failures, f"{len(failures)} problem(s) in {checked} calls:\n  " + "\n  ".join(failures)
