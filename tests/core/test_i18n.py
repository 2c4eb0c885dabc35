"""Languages: Chinese by default, English by a remembered switch, and every string translated."""

from datetime import date

from crm.core.cli import TEMPLATES, missing_translations, packages
from crm.core.filters import format_date
from crm.extensions import db


def test_every_user_facing_string_has_a_chinese_translation():
    missing = missing_translations()
    assert missing == {}, "untranslated strings (run `flask crm update-translations` and fill the catalogs)"


def test_every_template_folder_belongs_to_a_catalog():
    shared = {"_macros", "errors"}
    folders = {p.name for p in TEMPLATES.iterdir() if p.is_dir()}
    assert folders - shared <= set(packages()), "templates/<folder> must be named after a crm/<package>"


def test_chinese_is_the_default(client):
    body = client.get("/login").get_data(as_text=True)
    assert "登录" in body and 'lang="zh-CN"' in body


def test_language_switch_before_login_uses_the_session(client):
    token = client.csrf_token()
    response = client.post("/language", data={"language": "en", "next": "/login", "csrf_token": token})
    assert response.status_code == 302
    body = client.get("/login").get_data(as_text=True)
    assert "Log in" in body and 'lang="en"' in body


def test_language_switch_is_remembered_per_user(client, app, make_user):
    user = make_user("viewer", areas=["350100"])
    client.login(user)
    client.post_form("/language", {"language": "en", "next": "/"})
    assert user.language == "en"
    # A new browser session for the same user starts in English.
    other = app.test_client()
    other.login(user)
    assert "Pipeline in my jurisdiction" in other.get("/").get_data(as_text=True)
    client.post_form("/language", {"language": "zh_CN"})
    assert user.language == "zh_CN"
    assert "我管辖范围内的培育进度" in client.get("/").get_data(as_text=True)
    db.session.flush()


def test_dates_display_in_chinese(app):
    with app.test_request_context():
        assert format_date(date(2025, 6, 5)) == "2025年6月5日"


def test_dates_display_in_english(app, client, make_user):
    user = make_user("viewer", areas=["350100"], language="en")
    with app.test_request_context():
        from flask_login import login_user

        login_user(user)
        assert format_date(date(2025, 6, 5)) == "Jun 5, 2025"


def test_a_string_has_one_translation_across_catalogs():
    """Catalogs are merged, so a string translated differently in two packages would silently pick one."""
    from crm.core.cli import catalog_path, read_catalog

    translations: dict[str, set[str]] = {}
    for package in packages():
        for message in read_catalog(catalog_path(package)):
            if message.id and message.string:
                translations.setdefault(message.id, set()).add(message.string)
    conflicts = {msgid: sorted(strings) for msgid, strings in translations.items() if len(strings) > 1}
    assert conflicts == {}
