"""Users, their jurisdiction scope (areas, customs offices), API tokens and login attempts."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from crm.core.models import TimestampMixin, UTCDateTime, enum_type, utcnow
from crm.core.permissions import Permission, Role, has_permission
from crm.extensions import db

user_areas = Table(
    "user_areas",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True),
)

user_offices = Table(
    "user_offices",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("office_id", ForeignKey("customs_offices.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __audit__ = True
    __audit_mask__ = ("password_hash",)
    #: Each login is recorded as a login event already.
    __audit_exclude__ = ("last_login_at",)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(enum_type(Role, 20))
    is_active: Mapped[bool] = mapped_column(default=True)
    #: "zh_CN" or "en"; NULL follows the configured default.
    language: Mapped[str | None] = mapped_column(String(10))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set after too many failed logins; the account refuses logins until then.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The person who receives escalations about this user's overdue work.
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    areas = relationship("Area", secondary=user_areas, order_by="(Area.sort_order, Area.code)")
    offices = relationship(
        "CustomsOffice", secondary=user_offices, order_by="(CustomsOffice.sort_order, CustomsOffice.code)"
    )
    manager: Mapped[User | None] = relationship(remote_side="User.id")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def can(self, permission: Permission) -> bool:
        return has_permission(self, permission)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def __str__(self) -> str:
        return self.display_name or self.username

    def __repr__(self) -> str:
        return f"<User {self.username}>"


def hash_token(token: str) -> str:
    """Tokens carry 256 bits of randomness, so a fast hash is safe and lets us look them up by index."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(TimestampMixin, db.Model):
    __tablename__ = "api_tokens"
    __audit__ = True
    __audit_mask__ = ("token_hash",)
    #: Token use is recorded as a token_use event already.
    __audit_exclude__ = ("last_used_at",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, shown so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginAttempt(db.Model):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    succeeded: Mapped[bool] = mapped_column(default=False)
