"""Every cohort route as every role, in and out of the caller's scope (one parametrised test for the blueprint)."""

from __future__ import annotations

import pytest

#: role -> (areas, offices) giving a scope that contains the Fuzhou (马尾海关) enterprises of the test
IN_SCOPE = {
    "admin": ((), ()),
    "manager": ((), ()),
    "bureau": (["350100"], ()),
    "customs": ((), ["fz-mawei"]),
    "viewer": (["350100"], ()),
}
OUT_OF_SCOPE = {
    "bureau": (["350200"], ()),
    "customs": ((), ["xm-dongdu"]),
    "viewer": (["350200"], ()),
}
EDIT = {"admin", "bureau", "customs"}
TRANSITION = {"admin", "manager", "bureau", "customs"}


def _routes(cohort, member):
    base = f"/cohorts/{cohort.id}"
    return [
        ("GET", base, None),
        ("GET", f"{base}/edit", "edit"),
        ("POST", f"{base}/edit", "edit"),
        ("POST", f"{base}/members", "edit"),
        ("POST", f"{base}/members/{member.id}/delete", "edit"),
        ("POST", f"{base}/joint-visit", "edit"),
        ("POST", f"{base}/training", "edit"),
        ("POST", f"{base}/plan-template", "edit"),
        ("GET", f"{base}/transition", "transition"),
        ("POST", f"{base}/transition", "transition"),
        ("POST", f"{base}/delete", "edit"),
    ]


def _allowed(role: str, needs: str | None) -> bool:
    return needs is None or role in (EDIT if needs == "edit" else TRANSITION)


@pytest.mark.parametrize("role", sorted(IN_SCOPE))
def test_every_route_in_scope(client, make_user, make_enterprise, make_cohort, role):
    areas, offices = IN_SCOPE[role]
    user = make_user(role, areas=areas, offices=offices)
    cohort = make_cohort(members=[(make_enterprise(), "subsidiary")])
    member = cohort.members[0]
    client.login(user)
    for method, url, needs in _routes(cohort, member):
        response = client.get(url) if method == "GET" else client.post_form(url)
        if _allowed(role, needs):
            assert response.status_code in (200, 302), (role, method, url, response.status_code)
        else:
            assert response.status_code == 403, (role, method, url, response.status_code)
    assert client.get("/cohorts/").status_code == 200
    assert client.get("/cohorts/new").status_code == (200 if role in EDIT else 403)


@pytest.mark.parametrize("role", sorted(OUT_OF_SCOPE))
def test_every_route_out_of_scope_answers_404(client, make_user, make_enterprise, make_cohort, role):
    areas, offices = OUT_OF_SCOPE[role]
    user = make_user(role, areas=areas, offices=offices)
    cohort = make_cohort(members=[(make_enterprise(), "subsidiary")])
    member = cohort.members[0]
    client.login(user)
    for method, url, needs in _routes(cohort, member):
        response = client.get(url) if method == "GET" else client.post_form(url)
        expected = 404 if _allowed(role, needs) else 403
        assert response.status_code == expected, (role, method, url, response.status_code)
    assert cohort.name not in client.get("/cohorts/").get_data(as_text=True)


def test_anonymous_callers_are_sent_to_the_login_page(client, make_cohort):
    cohort = make_cohort()
    response = client.get(f"/cohorts/{cohort.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
