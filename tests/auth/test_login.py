"""Logging in, lockout, CSRF, logout and idle-session expiry."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.auth import services
from crm.auth.models import LoginAttempt
from crm.core.audit import AuditLog
from crm.extensions import db
from tests.conftest import TEST_PASSWORD, extract_csrf


def login(client, username, password):
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_login_with_form_fields_username_and_password(client, make_user):
    user = make_user("bureau", areas=["350500"])
    response = login(client, user.username, TEST_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert user.last_login_at is not None
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.actor_id == user.id)).all()
    assert "login" in actions


def test_wrong_password_is_refused_in_chinese(client, make_user):
    user = make_user("bureau", areas=["350500"])
    response = login(client, user.username, "wrong-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "login_failed")).first() is not None


def test_form_post_without_csrf_token_is_rejected(client, make_user):
    user = make_user("bureau", areas=["350500"])
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    client.login(user)
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/").status_code == 200


def test_five_failures_within_fifteen_minutes_lock_the_account(app, make_user):
    user = make_user("customs", offices=["xm-quanzhou"])
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for minute in range(5):
        assert services.authenticate(user.username, "nope", now=start + timedelta(minutes=minute)).status == "invalid"
    assert user.is_locked(start + timedelta(minutes=5))
    # Locked: even the right password is refused ...
    assert services.authenticate(user.username, TEST_PASSWORD, now=start + timedelta(minutes=10)).status == "locked"
    # ... until the lock window has passed.
    assert services.authenticate(user.username, TEST_PASSWORD, now=start + timedelta(minutes=20)).ok


def test_failures_spread_beyond_the_window_do_not_lock(app, make_user):
    user = make_user("customs", offices=["xm-quanzhou"])
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for step in range(6):
        services.authenticate(user.username, "nope", now=start + timedelta(minutes=4 * step))
    assert not user.is_locked(start + timedelta(minutes=21))


def test_a_success_resets_the_failure_count(app, make_user):
    user = make_user("customs", offices=["xm-quanzhou"])
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for minute in range(4):
        services.authenticate(user.username, "nope", now=start + timedelta(minutes=minute))
    assert services.authenticate(user.username, TEST_PASSWORD, now=start + timedelta(minutes=5)).ok
    services.authenticate(user.username, "nope", now=start + timedelta(minutes=6))
    assert not user.is_locked(start + timedelta(minutes=7))


def test_locked_account_shows_the_lock_message(client, make_user):
    user = make_user("bureau", areas=["350500"])
    for _ in range(5):
        login(client, user.username, "nope")
    response = login(client, user.username, TEST_PASSWORD)
    assert "已锁定" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    attempts = db.session.scalars(select(LoginAttempt).where(LoginAttempt.user_id == user.id)).all()
    assert len(attempts) == 6


def test_admin_can_unlock(client, make_user):
    admin = make_user("admin")
    user = make_user("bureau", areas=["350500"])
    for _ in range(5):
        services.authenticate(user.username, "nope")
    assert user.is_locked()
    client.login(admin)
    assert client.post_form(f"/admin/users/{user.id}/unlock").status_code == 302
    assert not user.is_locked()
    assert services.authenticate(user.username, TEST_PASSWORD).ok


def test_deactivated_user_cannot_log_in(client, make_user):
    user = make_user("bureau", areas=["350500"])
    user.is_active = False
    response = login(client, user.username, TEST_PASSWORD)
    assert "已停用" in response.get_data(as_text=True)


def test_logout(client, make_user):
    client.login(make_user("viewer", areas=["350500"]))
    assert client.post_form("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_idle_session_expires(client, app, make_user):
    client.login(make_user("viewer", areas=["350500"]))
    idle = app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1)
    with client.session_transaction() as session:
        session["_seen"] = (datetime.now(UTC) - idle).timestamp()
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_login_never_redirects_off_site(client, make_user, target):
    user = make_user("viewer", areas=["350500"])
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        f"/login?next={target}", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_change_password_checks_strength_and_current_password(client, make_user):
    user = make_user("viewer", areas=["350500"])
    client.login(user)
    weak = client.post_form(
        "/profile/password",
        {
            "password-current_password": TEST_PASSWORD,
            "password-new_password": "password123",
            "password-confirm_password": "password123",
        },
    )
    assert weak.status_code == 422
    assert user.check_password(TEST_PASSWORD)
    ok = client.post_form(
        "/profile/password",
        {
            "password-current_password": TEST_PASSWORD,
            "password-new_password": "Minjiang-Harbour-8812",
            "password-confirm_password": "Minjiang-Harbour-8812",
        },
    )
    assert ok.status_code == 302
    assert user.check_password("Minjiang-Harbour-8812")
