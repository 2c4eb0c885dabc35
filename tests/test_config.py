from datetime import timedelta

import pytest

from config import DevelopmentConfig, ProductionConfig, TestingConfig, config_from_env, database_url


def test_development_defaults_need_no_environment(tmp_path):
    config = DevelopmentConfig({"CRM_INSTANCE_PATH": str(tmp_path)})
    config.check()
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    assert config.REDIS_URL is None
    assert config.CELERY["task_always_eager"] is True
    assert config.CRM_TIMEZONE == "Asia/Shanghai"
    assert config.CRM_DEFAULT_LANGUAGE == "zh_CN"
    assert config.MAIL_SERVER is None
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"
    assert config.SESSION_COOKIE_SECURE is False


def test_development_generates_and_keeps_a_secret(tmp_path):
    first = DevelopmentConfig({"CRM_INSTANCE_PATH": str(tmp_path)})
    first.check()
    second = DevelopmentConfig({"CRM_INSTANCE_PATH": str(tmp_path)})
    second.check()
    assert len(first.SECRET_KEY) == 64
    assert first.SECRET_KEY == second.SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig({"CRM_INSTANCE_PATH": str(tmp_path)}).check()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig({"SECRET_KEY": "short"}).check()
    config = ProductionConfig({"SECRET_KEY": "x" * 40})
    config.check()
    assert config.SESSION_COOKIE_SECURE is True


def test_environment_overrides():
    config = DevelopmentConfig(
        {
            "DATABASE_URL": "postgres://crm:pw@db.example:5432/crm",
            "REDIS_URL": "redis://cache:6379/1",
            "CRM_TIMEZONE": "UTC",
            "CRM_DEFAULT_LANGUAGE": "en",
            "MAIL_SERVER": "smtp.example",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "true",
            "MAIL_SENDER": "crm@example.gov.cn",
            "CRM_SESSION_IDLE_MINUTES": "30",
        }
    )
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://crm:pw@db.example:5432/crm"
    assert config.CELERY["broker_url"] == "redis://cache:6379/1"
    assert config.CELERY["task_always_eager"] is False
    assert config.CRM_TIMEZONE == "UTC"
    assert config.BABEL_DEFAULT_LOCALE == "en"
    assert (config.MAIL_SERVER, config.MAIL_PORT, config.MAIL_USE_TLS) == ("smtp.example", 587, True)
    assert config.PERMANENT_SESSION_LIFETIME == timedelta(minutes=30)
    assert config.RATELIMIT_STORAGE_URI == "redis://cache:6379/1"


def test_postgres_urls_are_accepted():
    assert database_url("postgres://u@h/d", "x") == "postgresql+psycopg://u@h/d"
    assert database_url("postgresql://u@h/d", "x") == "postgresql+psycopg://u@h/d"
    assert database_url(None, "sqlite:///x.db") == "sqlite:///x.db"


def test_testing_config_runs_jobs_in_process_even_with_redis():
    config = TestingConfig({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert config.CELERY["task_always_eager"] is True


def test_crm_env_selects_the_config(tmp_path):
    assert isinstance(config_from_env({"CRM_ENV": "production", "SECRET_KEY": "y" * 40}), ProductionConfig)
    assert isinstance(config_from_env({"CRM_INSTANCE_PATH": str(tmp_path)}), DevelopmentConfig)
    with pytest.raises(RuntimeError, match="CRM_ENV"):
        config_from_env({"CRM_ENV": "staging"})


def test_bad_numbers_are_refused():
    with pytest.raises(RuntimeError, match="MAIL_PORT"):
        DevelopmentConfig({"MAIL_PORT": "twenty-five"})
