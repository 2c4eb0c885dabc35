"""Response headers every page carries: a strict Content-Security-Policy and friends."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, current_app, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

#: The largest id an ``<int:...>`` URL argument accepts: PostgreSQL's INTEGER. A larger number answers 404
#: instead of reaching the database as an out-of-range value (a server error).
MAX_URL_INTEGER = 2**31 - 1

#: No inline scripts or styles anywhere; every asset is served from this host.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def set_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Served over HTTPS only: browsers must not fall back to plain HTTP for a year.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


class BoundedIntegerConverter(IntegerConverter):
    """``<int:id>`` limited to the database's integer range unless a rule says otherwise (``max=...``).

    The range is part of the rule's pattern, not only a check after matching: a path whose number is out of range
    then matches no rule, whatever the method, and answers 404 (after a failed check Werkzeug would answer 405
    when another rule serves the same path with another method)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_URL_INTEGER)
        super().__init__(url_map, *args, **kwargs)
        if self.max is not None and not self.signed and not self.fixed_digits:
            self.regex = f"0*(?:{digits_up_to(int(self.max))})"


def digits_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0 to ``limit`` (no leading zeros)."""
    text = str(limit)
    size = len(text)
    if size == 1:
        return f"[0-{text}]"
    options = ["[0-9]"]
    if size > 2:
        options.append(f"[1-9][0-9]{{1,{size - 2}}}")
    for position, digit in enumerate(text):
        low, high = (1 if position == 0 else 0), int(digit) - 1
        if high >= low:
            rest = size - position - 1
            options.append(f"{text[:position]}[{low}-{high}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(text)
    return "|".join(options)


def refuse_nul_characters() -> None:
    """No text may hold a NUL character (PostgreSQL cannot store one): a request carrying one in its path, query,
    form fields or JSON body answers 400 before any view reads it, on every database alike."""
    texts: list[str] = [request.path]
    texts.extend(item for pair in request.args.items(multi=True) for item in pair)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        texts.extend(item for pair in request.form.items(multi=True) for item in pair)
    if any("\x00" in text for text in texts) or (request.is_json and _holds_nul(request.get_json(silent=True))):
        abort(400, _("The request contains a NUL character, which no text may hold."))


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def init_app(app: Flask) -> None:
    # Before any blueprint adds its rules: converters are bound when a rule is added.
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(refuse_nul_characters)
    app.after_request(set_security_headers)
    proxies = app.config.get("CRM_TRUSTED_PROXIES", 0)
    if proxies:
        # Behind a reverse proxy: take the client's address (audit trail, rate limits) and scheme from the
        # X-Forwarded-* headers the given number of proxies set, and no more (a client could forge extra ones).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
