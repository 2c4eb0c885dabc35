"""Rate limits: login attempts per address, and the shared limit for public pages reached with a token.
Counters live in Redis when REDIS_URL is set (shared by every web process) and in memory otherwise."""

from __future__ import annotations

import pytest
from flask import Blueprint

from config import Config
from crm.core.permissions import LOGIN_LIMIT, PUBLIC_LINK_LIMIT, declared_access, public
from crm.extensions import limiter
from tests.conftest import extract_csrf
from tests.security.apps import fresh_app


def login_attempt(client, token: str, n: int):
    return client.post("/login", data={"username": f"nobody{n}", "password": "wrong", "csrf_token": token})


def test_login_attempts_are_limited_per_address(client):
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    allowed = int(LOGIN_LIMIT.split()[0])
    for n in range(allowed):
        response = login_attempt(client, token, n)
        assert response.status_code == 200, n  # a wrong login, answered normally
    refused = login_attempt(client, token, allowed)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert "Content-Security-Policy" in refused.headers
    # Reading the login page is not limited: only attempts are.
    assert client.get("/login").status_code == 200


def test_another_address_is_not_affected(client):
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    allowed = int(LOGIN_LIMIT.split()[0])
    for n in range(allowed + 1):
        login_attempt(client, token, n)
    other = client.post(
        "/login",
        data={"username": "nobody", "password": "wrong", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 200


def test_storage_is_redis_when_configured_and_memory_otherwise():
    assert Config({"REDIS_URL": "redis://127.0.0.1:6379/3"}).RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/3"
    assert Config({}).RATELIMIT_STORAGE_URI == "memory://"


@pytest.mark.redis
def test_with_redis_the_counters_live_in_redis(app_environ, redis_url):
    """Every web process shares the counters: a login attempt leaves its counter in Redis."""
    import redis

    with fresh_app(app_environ) as test_app, test_app.app_context():
        assert test_app.config["RATELIMIT_STORAGE_URI"] == redis_url
        assert type(limiter.storage).__name__ == "RedisStorage"
        limiter.reset()
        client = test_app.test_client()
        token = extract_csrf(client.get("/login").get_data(as_text=True))
        assert login_attempt(client, token, 1).status_code == 200
        with redis.Redis.from_url(redis_url) as connection:
            keys = connection.keys("LIMITS*")
        assert any(b"login" in key for key in keys), keys
        limiter.reset()


def test_public_pages_declare_their_access_and_the_link_limit_applies(app_environ):
    """A registration link declared ``@public(limit=PUBLIC_LINK_LIMIT)`` answers 429 past the limit."""
    bp = Blueprint("link_test", __name__)

    @bp.route("/r/<token>", methods=["GET", "POST"])
    @public(limit=PUBLIC_LINK_LIMIT)
    def registration(token: str):
        return f"ok {len(token)}"

    assert declared_access(registration).public
    per_minute = int(PUBLIC_LINK_LIMIT.split()[0])
    with fresh_app(app_environ) as test_app, test_app.app_context():
        test_app.register_blueprint(bp)
        limiter.reset()
        client = test_app.test_client()
        answers = [client.get(f"/r/token{n}").status_code for n in range(per_minute)]
        assert answers == [200] * per_minute
        assert client.get("/r/another").status_code == 429
        limiter.reset()


def test_the_configured_link_limit_applies_to_every_link_page_together(app_environ):
    """``CRM_EVENT_LINK_RATE_LIMIT`` changes the limit of pages declared ``@public(limit=PUBLIC_LINK_LIMIT)``, and
    the pages share one budget: a script cannot spread its guesses over several of them."""
    bp = Blueprint("link_setting_test", __name__)

    @bp.get("/r/<token>")
    @public(limit=PUBLIC_LINK_LIMIT)
    def opened(token: str):
        return "opened"

    @bp.get("/r/<token>/more")
    @public(limit=PUBLIC_LINK_LIMIT)
    def more(token: str):
        return "more"

    with fresh_app({**app_environ, "CRM_EVENT_LINK_RATE_LIMIT": "3 per minute"}) as test_app, test_app.app_context():
        test_app.register_blueprint(bp)
        limiter.reset()
        client = test_app.test_client()
        answers = [client.get("/r/a").status_code, client.get("/r/b/more").status_code, client.get("/r/c").status_code]
        assert answers == [200, 200, 200]
        assert client.get("/r/d/more").status_code == 429
        assert client.get("/r/e").status_code == 429
        limiter.reset()
