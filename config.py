"""Configuration, read from the environment.

Development needs no environment at all: SQLite under ``instance/``, Celery jobs run eagerly in-process,
mail kept in the outbox table. Production refuses to start without a real ``SECRET_KEY``.

Each config class reads an environment mapping when it is instantiated (never at import time), so tests
can build one from a dict: ``ProductionConfig({"SECRET_KEY": "..."})``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class Env:
    """Small typed readers over an environment mapping; blank values count as unset."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        return value.lower() in {"1", "true", "yes", "on"}

    def number(self, name: str, default: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise RuntimeError(f"{name} must be a whole number, not {value!r}") from None


def database_url(value: str | None, default: str) -> str:
    """Accept ``postgres://`` URLs and use the psycopg 3 driver for PostgreSQL."""
    url = value or default
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def development_secret_key(instance_dir: Path) -> str:
    """Generate a secret once and keep it under ``instance/`` so sessions survive restarts."""
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    ENV_NAME = "base"
    TESTING = False
    DEBUG = False

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = Env(os.environ if environ is None else environ)
        self.INSTANCE_PATH = Path(env.text("CRM_INSTANCE_PATH", str(ROOT / "instance")))
        self.SECRET_KEY = env.text("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = database_url(
            env.text("DATABASE_URL"), f"sqlite:///{self.INSTANCE_PATH / 'crm.sqlite3'}"
        )
        # PostgreSQL's pooled connections are checked without a round trip (crm.core.connections); others pinged.
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_pre_ping": not self.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg")
        }
        self.REDIS_URL = env.text("REDIS_URL")

        self.CRM_TIMEZONE = env.text("CRM_TIMEZONE", "Asia/Shanghai")
        self.CRM_DEFAULT_LANGUAGE = env.text("CRM_DEFAULT_LANGUAGE", "zh_CN")
        self.CRM_LANGUAGES = ("zh_CN", "en")
        self.BABEL_DEFAULT_LOCALE = self.CRM_DEFAULT_LANGUAGE
        self.BABEL_DEFAULT_TIMEZONE = self.CRM_TIMEZONE

        self.MAIL_SERVER = env.text("MAIL_SERVER")
        self.MAIL_PORT = env.number("MAIL_PORT", 25)
        self.MAIL_USE_TLS = env.flag("MAIL_USE_TLS")
        self.MAIL_USERNAME = env.text("MAIL_USERNAME")
        self.MAIL_PASSWORD = env.text("MAIL_PASSWORD")
        self.MAIL_SENDER = env.text("MAIL_SENDER", "aeo-crm@localhost")

        #: Uploaded attachments and generated files; never served without an access check.
        self.CRM_FILE_STORE = env.text("CRM_FILE_STORE", str(self.INSTANCE_PATH / "files"))
        self.MAX_CONTENT_LENGTH = env.number("CRM_MAX_UPLOAD_MB", 20) * 1024 * 1024

        #: Under CRM_REQUIRE_SERVICES=1 a test that would skip for a missing service fails instead.
        self.CRM_REQUIRE_SERVICES = env.flag("CRM_REQUIRE_SERVICES")

        secure_cookies = env.flag("SESSION_COOKIE_SECURE", self.ENV_NAME == "production")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = secure_cookies
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = secure_cookies
        #: Reverse proxies in front of the app (nginx: 1). Their X-Forwarded-For gives the client address that the
        #: audit trail records and the rate limits count; 0 trusts no such header.
        self.CRM_TRUSTED_PROXIES = env.number("CRM_TRUSTED_PROXIES", 0)
        #: Sessions expire after this much inactivity.
        self.PERMANENT_SESSION_LIFETIME = timedelta(minutes=env.number("CRM_SESSION_IDLE_MINUTES", 120))
        self.WTF_CSRF_TIME_LIMIT = None

        #: An account is locked for LOGIN_LOCK_MINUTES after LOGIN_MAX_FAILURES failures in that window.
        self.LOGIN_MAX_FAILURES = 5
        self.LOGIN_LOCK_MINUTES = 15

        self.RATELIMIT_ENABLED = True
        #: Counters shared by every web process in Redis; in memory on the embedded default.
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        #: A moving window: no burst of twice the limit across a window boundary.
        self.RATELIMIT_STRATEGY = "moving-window"
        self.RATELIMIT_HEADERS_ENABLED = True
        # Redis down must not break the web application: fail fast, fall back to in-process counters, and
        # never turn a storage error into a failed request (the account lockout still guards logins).
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1} if self.REDIS_URL else {}
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        #: Requests per client address to the public registration links, all link pages together (Flask-Limiter
        #: notation; the default is crm.core.permissions.PUBLIC_LINK_LIMIT).
        self.CRM_EVENT_LINK_RATE_LIMIT = env.text("CRM_EVENT_LINK_RATE_LIMIT", "30 per minute;300 per hour")

        self.API_MAX_PER_PAGE = 200
        self.UI_PER_PAGE = 50

        self.CELERY = self.celery_config()

    def celery_config(self) -> dict:
        broker = self.REDIS_URL
        return {
            "broker_url": broker or "memory://",
            "result_backend": broker,
            "task_always_eager": broker is None,
            "task_eager_propagates": True,
            "task_ignore_result": True,
            "timezone": self.CRM_TIMEZONE,
            "enable_utc": True,
            "broker_connection_retry_on_startup": True,
            # Publishing never blocks a web request or a job for long when Redis is down: one short connection
            # attempt, no retries (the queued_jobs row waits for jobs.dispatch_pending). A worker's consumer
            # reconnects on its own schedule (broker_connection_max_retries).
            "broker_connection_timeout": 2,
            "broker_transport_options": {"socket_connect_timeout": 2, "socket_timeout": 10, "max_retries": 0},
            "redis_socket_connect_timeout": 2,
            "redis_socket_timeout": 10,
            "task_acks_late": True,
            "worker_prefetch_multiplier": 1,
        }

    def check(self) -> None:
        """Refuse to start with an unsafe configuration; subclasses say what is unsafe for them."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the reloader and debugger are opt-in through `flask run --debug`

    def check(self) -> None:
        if not self.SECRET_KEY:
            self.SECRET_KEY = development_secret_key(self.INSTANCE_PATH)


class TestingConfig(Config):
    __test__ = False  # not a pytest test class
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, environ: Mapping[str, str] | None = None):
        super().__init__(environ)
        self.SECRET_KEY = "testing-secret-key-not-for-production"
        # Tests never reach a real mail server unless a test configures one.
        self.MAIL_SERVER = None

    def celery_config(self) -> dict:
        config = super().celery_config()
        # The suite runs jobs in-process even when REDIS_URL points at a real server; the broker test
        # starts its own worker with its own configuration.
        config.update(task_always_eager=True, broker_url="memory://", result_backend=None)
        return config


class ProductionConfig(Config):
    ENV_NAME = "production"

    def check(self) -> None:
        if not self.SECRET_KEY or len(self.SECRET_KEY) < 32:
            raise RuntimeError("SECRET_KEY must be set to a random value of at least 32 characters in production")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env(environ: Mapping[str, str] | None = None) -> Config:
    """The config named by ``CRM_ENV`` (development when unset), read from the environment."""
    environ = os.environ if environ is None else environ
    name = Env(environ).text("CRM_ENV", "development")
    try:
        config_class = CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"CRM_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
    return config_class(environ)
