"""Languages: the locale of each request, and the message catalogs.

Each package keeps its own catalog (``crm/<package>/translations/zh/LC_MESSAGES/messages.po``; Babel
resolves zh_CN to zh_Hans_CN and gettext falls back from that to ``zh``) for the
strings of its code and its templates folder; Flask-Babel merges them. Compiled ``.mo`` files are not
committed: they are built from the ``.po`` files when missing or older (at start-up and by ``make``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Domain
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

logger = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PROJECT_ROOT = PACKAGE_ROOT.parent
SUPPORTED = ("zh_CN", "en")
#: Where ``current_language`` keeps the request's language (like flask-babel keeps its locale per request).
LANGUAGE_KEY = "_crm_language"


def translation_directories() -> list[str]:
    """Every package's ``translations`` folder, core first."""
    dirs = sorted(p for p in PACKAGE_ROOT.glob("*/translations") if p.is_dir())
    dirs.sort(key=lambda p: p.parent.name != "core")
    return [str(p) for p in dirs]


def po_files() -> list[Path]:
    return sorted(PACKAGE_ROOT.glob("*/translations/*/LC_MESSAGES/messages.po"))


def compile_catalogs(force: bool = False) -> int:
    """Compile each ``.po`` whose ``.mo`` is missing or older; atomic, so parallel workers are safe."""
    compiled = 0
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.parent.parent.name)
        fd, tmp_name = tempfile.mkstemp(dir=mo_path.parent, prefix=".messages-", suffix=".mo")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        os.replace(tmp_name, mo_path)
        compiled += 1
    if compiled:
        logger.info("Compiled %d message catalog(s)", compiled)
    return compiled


def normalise_language(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    for code in SUPPORTED:
        if value.lower() == code.lower() or value.lower().split("_")[0] == code.lower().split("_")[0]:
            return code
    return None


def select_locale() -> str:
    """The user's saved language, else the session's choice, else the configured default."""
    default = current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")
    if not has_request_context():
        return default
    if getattr(current_user, "is_authenticated", False) and getattr(current_user, "language", None):
        return normalise_language(current_user.language) or default
    return normalise_language(session.get("language")) or default


def current_language() -> str:
    """The request's language, worked out once per request (templates ask for it hundreds of times a page)."""
    if not has_request_context():
        return select_locale()
    language = g.get(LANGUAGE_KEY)
    if language is None:
        language = g.setdefault(LANGUAGE_KEY, select_locale())
    return language


def is_chinese() -> bool:
    return current_language().startswith("zh")


def request_prefers(value: str | None = None) -> str | None:
    """Normalise an explicitly requested language (query string or form)."""
    return normalise_language(value or (request.args.get("lang") if has_request_context() else None))


class RequestDomain(Domain):
    """Flask-Babel's message domain, looking the request's catalog up once per locale instead of once per
    message (Flask-Babel resolves the request context, the locale and its name for every ``_()``; a list page
    translates a few hundred strings). ``force_locale`` swaps the locale object, which looks the catalog up again."""

    def get_translations(self) -> Any:
        ctx = g.get("_flask_babel") if has_app_context() else None
        locale = getattr(ctx, "babel_locale", None)
        if locale is None:
            return super().get_translations()
        kept = getattr(ctx, "crm_translations", None)
        if kept is not None and kept[0] is locale:
            return kept[1]
        translations = super().get_translations()
        ctx.crm_translations = (locale, translations)
        return translations


def install_request_domain(app: Flask, babel: Any) -> None:
    """Use ``RequestDomain`` for Python's ``_()`` and the templates' (call after ``babel.init_app``)."""
    domain = RequestDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    babel.domain_instance = domain
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
    )
    template_gettext = _template_gettext(domain)
    app.jinja_env.globals.update(gettext=template_gettext, _=template_gettext)


def _template_gettext(domain: RequestDomain) -> Callable[..., str]:
    """The templates' ``_()`` and ``gettext()``: what Jinja's new-style gettext does (the message escaped as
    markup under autoescape, then always formatted with its keyword arguments), in one call instead of three
    (Jinja's ``_`` looks ``gettext`` up and calls it, which calls the installed function: a few microseconds each,
    and a list page translates over a hundred messages)."""

    @pass_context
    def gettext(__context: Any, __string: str, **variables: Any) -> str:
        rv = domain.get_translations().ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        # Formatting without arguments changes only a message holding "%" ("%%" becomes "%"): skip it otherwise.
        return rv % variables if variables or "%" in rv else rv

    return gettext


class SharedWtformsTranslations:
    """WTForms' own messages ("This field is required.") for Flask-WTF, loaded once per language per process.

    Flask-WTF reads WTForms' catalog from disk on every request that builds a form; ``share_wtforms_translations``
    (a ``before_request`` hook) hands it this object instead, which looks the language up when a message is
    translated, so a language chosen later in the request still applies."""

    _catalogs: ClassVar[dict[str, Any]] = {}

    def _catalog(self) -> Any:
        from babel import support
        from flask_babel import get_locale
        from wtforms.i18n import messages_path

        locale = get_locale()
        key = str(locale)
        if key not in self._catalogs:
            self._catalogs[key] = support.Translations.load(messages_path(), [locale], domain="wtforms")
        return self._catalogs[key]

    def ugettext(self, string: str) -> str:
        return self._catalog().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog().ungettext(singular, plural, n)


_SHARED_WTFORMS = SharedWtformsTranslations()


def share_wtforms_translations() -> None:
    request.wtforms_translations = _SHARED_WTFORMS
