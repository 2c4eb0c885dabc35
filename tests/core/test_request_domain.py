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
