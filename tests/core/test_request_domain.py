"""The request's catalog is looked up once per locale, and ``force_locale`` still switches it."""

from flask import render_template_string
from flask_babel import force_locale, gettext, refresh


def test_force_locale_switches_and_restores(app):
    with app.test_request_context("/"), force_locale("en"):
        assert gettext("Enterprises") == "Enterprises"
        with force_locale("zh_CN"):
            assert gettext("Enterprises") == "企业"
            assert render_template_string("{{ _('Enterprises') }}") == "企业"
        assert gettext("Enterprises") == "Enterprises"
        assert render_template_string("{{ _('Enterprises') }}") == "Enterprises"


def test_refresh_picks_the_new_language(app):
    with app.test_request_context("/"):
        assert gettext("Enterprises") == "企业"  # the default language
        app.config["CRM_DEFAULT_LANGUAGE"] = "en"
        try:
            refresh()
            assert gettext("Enterprises") == "Enterprises"
        finally:
            app.config["CRM_DEFAULT_LANGUAGE"] = "zh_CN"


def test_template_gettext_matches_jinjas_new_style_gettext(app, monkeypatch):
    """The templates' one-call ``_()`` gives what Jinja's own new-style gettext gives, escaping included."""
    from jinja2.ext import _make_new_gettext

    from crm.extensions import babel

    cases = [
        "{{ _('Enterprises') }}",
        "{{ _('Unread: %(n)s', n='<b>3</b>') }}",
        "{{ _('100%%') }}",
        "{{ gettext('Notifications') }}",
        "{% autoescape false %}{{ _('Unread: %(n)s', n='<b>') }}{% endautoescape %}",
    ]

    def render_all() -> list[str]:
        rendered = []
        for language in ("zh_CN", "en"):
            with app.test_request_context("/"), force_locale(language):
                rendered.extend(render_template_string(source) for source in cases)
        return rendered

    ours = render_all()
    assert "&lt;b&gt;3&lt;/b&gt;" in ours[1] and ours[2] == "100%" and ours[0] == "企业"
    domain = babel.domain_instance
    jinja_gettext = _make_new_gettext(lambda s: domain.get_translations().ugettext(s))
    monkeypatch.setitem(app.jinja_env.globals, "gettext", jinja_gettext)
    monkeypatch.setitem(app.jinja_env.globals, "_", jinja_gettext)
    assert render_all() == ours
