"""The navigation bar: the entries each role may see, and the fixed links built once."""

import pytest
from flask import url_for

from crm.core.navigation import ADMIN_NAVIGATION, MAIN_NAVIGATION, fixed_url, visible
from crm.core.permissions import Role, has_permission


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_the_entries_its_permissions_allow(app, make_user, role):
    scope = {Role.BUREAU: {"areas": ["350100"]}, Role.CUSTOMS: {"offices": ["fz-mawei"]}}.get(role, {})
    user = make_user(role, **scope)
    for items in (MAIN_NAVIGATION, ADMIN_NAVIGATION):
        expected = tuple(i for i in items if i.permission is None or has_permission(user, i.permission))
        assert visible(items, user) == expected
        assert visible(items, user) == expected  # the second time from what the first worked out


def test_a_deactivated_user_sees_only_the_open_entries(make_user):
    user = make_user(Role.ADMIN)
    user.is_active = False
    assert all(item.permission is None for item in visible(ADMIN_NAVIGATION + MAIN_NAVIGATION, user))


def test_fixed_links_are_the_same_as_url_for_under_any_script_root(app):
    for root in ("", "/crm"):
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            for endpoint, values in (("main.home", {}), ("static", {"filename": "css/app.css"})):
                assert fixed_url(endpoint, **values) == url_for(endpoint, **values)
                assert fixed_url(endpoint, **values).startswith(f"{root}/")


def test_the_layout_marks_the_current_section(client, make_user):
    client.login(make_user(Role.ADMIN))
    body = client.get("/notifications/").get_data(as_text=True)
    assert 'href="/enterprises/"' in body and 'active" aria-current="page" href="/enterprises/"' not in body
    body = client.get("/enterprises/").get_data(as_text=True)
    assert 'active" aria-current="page" href="/enterprises/"' in body


def test_the_labels_are_translated_once_per_language(app, make_user):
    from flask_babel import force_locale

    from crm.core.navigation import inject_navigation

    user = make_user(Role.ADMIN)
    with app.test_request_context("/"):
        from flask_login import login_user

        login_user(user)
        for locale, home in (("zh_CN", "首页"), ("en", "Home"), ("zh_CN", "首页")):
            with force_locale(locale):
                entries = inject_navigation()["main_navigation"]
                assert [str(item.label) for item in entries] == [str(item.label) for item in visible(MAIN_NAVIGATION)]
                assert str(entries[0].label) == home
