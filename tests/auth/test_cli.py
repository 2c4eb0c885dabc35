"""``flask crm create-user`` and ``flask crm create-token``."""

from sqlalchemy import select

from crm.auth.models import ApiToken, User, hash_token
from crm.core.audit import AuditLog
from crm.extensions import db


def test_create_user_with_scope_from_stdin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "crm",
            "create-user",
            "qz.bureau",
            "--role",
            "bureau",
            "--email",
            "qz@example.test",
            "--area",
            "350500",
            "--password-stdin",
        ],
        input="Luoyang-Bridge-4417\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User).where(User.username == "qz.bureau")).one()
    assert user.role == "bureau"
    assert [a.code for a in user.areas] == ["350500"]
    assert user.check_password("Luoyang-Bridge-4417")
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.record_type == "User", AuditLog.action == "create")
    ).all()
    assert any(row.actor_label == "cli:create-user" for row in audit)
    assert all(row.changes["password_hash"] == [None, "***"] for row in audit if row.record_id == str(user.id))


def test_create_customs_user_with_offices(app):
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-user",
            "officer.x",
            "--role",
            "customs",
            "--office",
            "fuzhou",
            "--office",
            "fz-mawei",
            "--password-stdin",
        ],
        input="Luoyang-Bridge-4417\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User).where(User.username == "officer.x")).one()
    assert sorted(o.code for o in user.offices) == ["fuzhou", "fz-mawei"]


def test_create_user_refuses_bad_input(app, make_user):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["crm", "create-user", "a", "--role", "admin", "--password-stdin"], input="123456\n")
    assert weak.exit_code != 0 and "10" in weak.output
    unknown = runner.invoke(
        args=["crm", "create-user", "b", "--role", "bureau", "--area", "999999", "--password-stdin"],
        input="Luoyang-Bridge-4417\n",
    )
    assert unknown.exit_code != 0 and "999999" in unknown.output
    wrong_kind = runner.invoke(
        args=["crm", "create-user", "c", "--role", "bureau", "--office", "fuzhou", "--password-stdin"],
        input="Luoyang-Bridge-4417\n",
    )
    assert wrong_kind.exit_code != 0
    existing = make_user("viewer", areas=["350100"])
    duplicate = runner.invoke(
        args=["crm", "create-user", existing.username, "--role", "viewer", "--area", "350100", "--password-stdin"],
        input="Luoyang-Bridge-4417\n",
    )
    assert duplicate.exit_code != 0 and existing.username in duplicate.output
    assert db.session.scalars(select(User).where(User.username.in_(["a", "b", "c"]))).first() is None


def test_create_token_prints_it_once_and_stores_only_a_hash(app, client, make_user):
    user = make_user("bureau", areas=["350500"])
    result = app.test_cli_runner().invoke(args=["crm", "create-token", user.username, "--name", "ERP"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip()
    token = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert token.token_hash == hash_token(plain) and plain not in token.token_hash
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.status_code == 200
    assert me.json["username"] == user.username
    assert me.json["scope"] == {"all": False, "areas": ["350500"], "offices": []}


def test_create_token_for_unknown_user_fails(app):
    result = app.test_cli_runner().invoke(args=["crm", "create-token", "nobody"])
    assert result.exit_code != 0 and "nobody" in result.output
