from crm.core.settings import get_setting


def test_settings_have_defaults_and_admins_change_them(client, make_user):
    assert get_setting("reverification_cycle_years") == 5
    client.login(make_user("admin"))
    assert client.get("/admin/reference/settings").status_code == 200
    response = client.post_form(
        "/admin/reference/settings",
        {
            "reverification_cycle_years": "3",
            "unvisited_days": "45",
            "reminder_catch_up_hours": "24",
            "event_link_valid_days": "30",
            "history_retention_days": "730",
        },
    )
    assert response.status_code == 302
    assert get_setting("reverification_cycle_years") == 3
    assert get_setting("unvisited_days") == 45
    assert get_setting("history_retention_days") == 730


def test_out_of_range_settings_are_refused_and_nothing_changes(client, make_user):
    client.login(make_user("admin"))
    response = client.post_form(
        "/admin/reference/settings",
        {"reverification_cycle_years": "0", "unvisited_days": "45", "reminder_catch_up_hours": "x"},
    )
    assert response.status_code == 200
    assert get_setting("reverification_cycle_years") == 5
    assert get_setting("unvisited_days") == 60


def test_settings_are_admin_only(client, make_user):
    client.login(make_user("manager"))
    assert client.get("/admin/reference/settings").status_code == 403
