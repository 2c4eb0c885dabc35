"""Response headers, the URL integer range, and the trusted-proxy setting."""

from __future__ import annotations

from crm.core.security import CONTENT_SECURITY_POLICY, MAX_URL_INTEGER


def test_every_response_carries_the_policy_and_friends(client):
    for url in ("/login", "/healthz", "/api/v1/openapi.json", "/no-such-page"):
        headers = client.get(url).headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_hsts_only_when_cookies_are_secure(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    assert client.get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


def test_ids_beyond_the_database_range_are_not_found(client, make_user, api_token):
    headers = api_token(make_user("admin"))
    assert client.get(f"/api/v1/enterprises/{MAX_URL_INTEGER + 1}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/enterprises/{MAX_URL_INTEGER}", headers=headers).status_code == 404
    assert client.get("/api/v1/enterprises?page=1000001", headers=headers).status_code == 400
    # Whatever the method, even where another rule serves the same path with another method (no 405).
    for method in ("PATCH", "POST"):
        for url in (f"/api/v1/enterprises/{MAX_URL_INTEGER + 1}/plan", "/api/v1/enterprises/99999999999999999999/plan"):
            assert client.open(url, method=method, json={}, headers=headers).status_code == 404, (method, url)
    assert client.get(f"/enterprises/{MAX_URL_INTEGER + 1}/plan", headers=headers).status_code == 404


def test_the_url_range_pattern_accepts_exactly_the_numbers_up_to_the_limit():
    import re

    from crm.core.security import digits_up_to

    for limit in (7, 10, 99, 100, 2024, MAX_URL_INTEGER):
        pattern = re.compile(digits_up_to(limit))
        for number in (*range(150), limit - 1, limit, limit + 1, limit * 10, limit + 999):
            assert bool(pattern.fullmatch(str(number))) == (0 <= number <= limit), (limit, number)


def test_a_405_says_which_methods_are_allowed(client, make_user, api_token):
    response = client.delete("/api/v1/me", headers=api_token(make_user("admin")))
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert "GET" in client.put("/login").headers["Allow"]


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(app_environ):
    from tests.security.apps import fresh_app

    with fresh_app({**app_environ, "CRM_TRUSTED_PROXIES": "1"}) as proxied:

        @proxied.get("/_test/address")
        def address():
            from flask import request

            return request.remote_addr or ""

        client = proxied.test_client()
        assert client.get("/_test/address", headers={"X-Forwarded-For": "203.0.113.9"}).text == "203.0.113.9"
        # A client cannot add addresses in front of the one the proxy appended.
        forged = client.get("/_test/address", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.9"})
        assert forged.text == "203.0.113.9"


def test_a_nul_character_anywhere_in_a_request_is_refused_before_any_view(client, make_user, api_token):
    """PostgreSQL cannot store NUL: a request carrying one answers 400 on every database, never a server error."""
    headers = api_token(make_user("admin"))
    assert client.get("/api/v1/events?organiser=a%00b", headers=headers).status_code == 400
    assert client.get("/api/v1/standards/a%00b/items", headers=headers).status_code == 400
    response = client.post("/api/v1/events", json={"title": "x\x00", "organisers": []}, headers=headers)
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    assert client.post("/api/v1/events", json={"x\x00": 1}, headers=headers).status_code == 400
    page = client.post_form("/login", {"username": "a\x00", "password": "b"})
    assert page.status_code == 400 and "text/html" in page.content_type
    assert client.get("/api/v1/events?organiser=ab", headers=headers).status_code == 200
