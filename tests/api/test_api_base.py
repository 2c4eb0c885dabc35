"""The API's authentication, error shape and list envelope."""

from crm.auth.services import revoke_token
from crm.extensions import db


def test_missing_token_is_401_json(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_and_revoked_tokens_are_refused(client, make_user):
    from crm.auth.services import create_token

    user = make_user("viewer", areas=["350100"])
    token, plain = create_token(user, "x")
    db.session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer crm_nope"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    revoke_token(token)
    db.session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_deactivated_users_token_is_refused(client, make_user, api_token):
    user = make_user("viewer", areas=["350100"])
    headers = api_token(user)
    user.is_active = False
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(client, make_user):
    client.login(make_user("admin"))
    assert client.get("/api/v1/me").status_code == 401


def test_token_requests_need_no_csrf_and_unknown_paths_are_json(client, make_user, api_token):
    headers = api_token(make_user("admin"))
    response = client.post("/api/v1/me", headers=headers)
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    missing = client.get("/api/v1/no-such-thing", headers=headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_list_envelope_and_per_page_cap(client, make_user, api_token, make_enterprise):
    for _ in range(3):
        make_enterprise()
    headers = api_token(make_user("manager"))
    body = client.get("/api/v1/enterprises?per_page=500", headers=headers).json
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["per_page"] == 200
    assert body["total"] >= 3
    page2 = client.get("/api/v1/enterprises?per_page=1&page=2", headers=headers).json
    assert page2["page"] == 2 and len(page2["items"]) == 1
    bad = client.get("/api/v1/enterprises?page=zero", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_page"


def test_me_for_admin_reports_full_scope(client, make_user, api_token):
    body = client.get("/api/v1/me", headers=api_token(make_user("admin"))).json
    assert body["role"] == "admin"
    assert body["scope"]["all"] is True


def test_token_use_is_recorded(client, make_user, api_token):
    from sqlalchemy import select

    from crm.auth.models import ApiToken
    from crm.core.audit import AuditLog
    from crm.extensions import db

    user = make_user("viewer", areas=["350100"])
    client.get("/api/v1/me", headers=api_token(user))
    token = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert token.last_used_at is not None
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "token_use")).first() is not None


def test_openapi_document_is_public_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")
    assert "/me" in response.json["paths"]
