"""``GET /healthz``: 200 when the database answers, 503 when it does not; Redis ok, eager or down."""

from unittest import mock

from sqlalchemy.exc import OperationalError


def test_healthz_ok_with_eager_celery(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"database": "ok", "redis": "eager"}


def test_healthz_reports_redis_down(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"database": "ok", "redis": "down"}


def test_healthz_reports_redis_ok(client, app, monkeypatch, redis_url):
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    assert client.get("/healthz").json["redis"] == "ok"


def test_healthz_is_503_when_the_database_is_down(client, app, monkeypatch):
    from crm.extensions import db

    monkeypatch.setitem(app.config, "REDIS_URL", None)
    failing = mock.Mock(side_effect=OperationalError("SELECT 1", {}, Exception("connection refused")))
    with mock.patch.object(type(db.session()), "execute", failing):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"database": "down", "redis": "eager"}


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_flags(client, make_user):
    from tests.conftest import TEST_PASSWORD, extract_csrf

    user = make_user("viewer", areas=["350100"])
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_error_pages(client, make_user):
    client.login(make_user("viewer", areas=["350100"]))
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "未找到" in response.get_data(as_text=True)
    assert client.get("/admin/users/").status_code == 403
