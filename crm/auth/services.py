"""Accounts: authentication with lockout, user management, scopes and API tokens."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.auth.models import ApiToken, LoginAttempt, User, hash_token
from crm.core.audit import Actor, AuditAction, record_event
from crm.core.models import utcnow
from crm.core.permissions import Role
from crm.core.scope import forget_scope
from crm.extensions import db
from crm.reference.models import Area, CustomsOffice

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "crm_"


class AccountError(ValueError):
    """A user-management request that cannot be carried out; the message is shown to the user."""


@dataclass
class LoginResult:
    user: User | None
    #: "ok", "invalid", "locked" or "inactive".
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def find_user(username: str) -> User | None:
    return db.session.scalars(select(User).where(func.lower(User.username) == username.strip().lower())).first()


def authenticate(username: str, password: str, ip: str | None = None, now: datetime | None = None) -> LoginResult:
    """Check a login. Five failures within the lock window lock the account for that window.

    A locked account refuses even the right password, and says so without revealing whether it was right.
    """
    now = now or utcnow()
    user = find_user(username)
    window = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    if user is not None and user.is_locked(now):
        _record_attempt(username, user, ip, now, succeeded=False)
        return LoginResult(user, "locked")
    if user is None or not user.check_password(password):
        _record_attempt(username, user, ip, now, succeeded=False)
        if user is not None and _recent_failures(user, now - window, now) >= current_app.config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + window
            logger.warning("Account %s locked after repeated failed logins", user.username)
        return LoginResult(user, "invalid")
    if not user.is_active:
        _record_attempt(username, user, ip, now, succeeded=False)
        return LoginResult(user, "inactive")
    _record_attempt(username, user, ip, now, succeeded=True)
    user.last_login_at = now
    return LoginResult(user, "ok")


def unlock(user: User) -> None:
    """End a lock now; failures before this moment no longer count towards the next lock."""
    user.locked_until = utcnow()


def _recent_failures(user: User, since: datetime, now: datetime) -> int:
    """Failures since the window began, the last successful login, or the end of the last lock."""
    last_success = db.session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(LoginAttempt.user_id == user.id, LoginAttempt.succeeded)
    )
    for moment in (last_success, user.locked_until):
        if moment is not None and since < moment <= now:
            since = moment
    return (
        db.session.scalar(
            select(func.count()).where(
                LoginAttempt.user_id == user.id,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at > since,
            )
        )
        or 0
    )


def _record_attempt(username: str, user: User | None, ip: str | None, now: datetime, *, succeeded: bool) -> None:
    db.session.add(
        LoginAttempt(
            username=username[:64], user_id=user.id if user else None, ip=ip, attempted_at=now, succeeded=succeeded
        )
    )
    db.session.flush()
    ip_label = username[:64] if user is None else user.username
    record_event(
        AuditAction.LOGIN if succeeded else AuditAction.LOGIN_FAILED,
        username[:64],
        record=user,
        record_type="User",
        actor=Actor(user.id if user is not None else None, ip_label, ip),
    )


def create_user(
    username: str,
    *,
    role: Role | str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    mobile: str | None = None,
    area_codes: list[str] | tuple[str, ...] = (),
    office_codes: list[str] | tuple[str, ...] = (),
    language: str | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise AccountError(_("A username is required."))
    if find_user(username) is not None:
        raise AccountError(_("A user named %(name)s already exists.", name=username))
    user = User(
        username=username,
        display_name=(display_name or username).strip(),
        email=email or None,
        mobile=mobile or None,
        role=Role(role),
        language=language,
    )
    user.set_password(password)
    set_scope(user, area_codes=area_codes, office_codes=office_codes)
    db.session.add(user)
    db.session.flush()
    logger.info("Created user %s with role %s", user.username, user.role)
    return user


def set_scope(
    user: User, *, area_codes: list[str] | tuple[str, ...] = (), office_codes: list[str] | tuple[str, ...] = ()
) -> None:
    """Give a user their areas and offices; codes that do not exist are refused."""
    areas = _lookup(Area, area_codes, _("area"))
    offices = _lookup(CustomsOffice, office_codes, _("customs office"))
    role = Role(user.role)
    if role == Role.BUREAU and offices:
        raise AccountError(_("Commerce-bureau staff are scoped to areas, not customs offices."))
    if role == Role.CUSTOMS and areas:
        raise AccountError(_("Customs officers are scoped to customs offices, not areas."))
    if role.sees_everything and (areas or offices):
        raise AccountError(_("Administrators and managers see everything; they take no areas or offices."))
    user.areas = areas
    user.offices = offices
    forget_scope(user)


def _lookup(model, codes, what) -> list:
    codes = [c.strip() for c in codes if c and c.strip()]
    if not codes:
        return []
    found = {row.code: row for row in db.session.scalars(select(model).where(model.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise AccountError(_("Unknown %(what)s code(s): %(codes)s", what=what, codes=", ".join(missing)))
    return [found[c] for c in dict.fromkeys(codes)]


def create_token(user: User, name: str = "API") -> tuple[ApiToken, str]:
    """Create an API token; the plain token is returned once and only its hash is kept."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip() or "API", token_hash=hash_token(plain), prefix=plain[:10])
    db.session.add(token)
    db.session.flush()
    return token, plain


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def user_for_token(plain: str) -> User | None:
    """The active user a token belongs to, or None for an unknown, revoked or deactivated token."""
    if not plain or not plain.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(plain))).first()
    if token is None or token.is_revoked or not token.user.is_active:
        return None
    now = utcnow()
    # Touch last_used_at at most once a minute so busy integrations do not write on every call.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        ip = request.remote_addr if has_request_context() else None
        record_event(
            AuditAction.TOKEN_USE, token.name, record=token, actor=Actor(token.user_id, token.user.username, ip)
        )
    return token.user
