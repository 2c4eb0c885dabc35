"""Response headers every page carries: a strict Content-Security-Policy and friends."""

from __future__ import annotations

from flask import Flask, Response, current_app
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
    """``<int:id>`` limited to the database's integer range unless a rule says otherwise (``max=...``)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_URL_INTEGER)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    # Before any blueprint adds its rules: converters are bound when a rule is added.
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.after_request(set_security_headers)
    proxies = app.config.get("CRM_TRUSTED_PROXIES", 0)
    if proxies:
        # Behind a reverse proxy: take the client's address (audit trail, rate limits) and scheme from the
        # X-Forwarded-* headers the given number of proxies set, and no more (a client could forge extra ones).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
