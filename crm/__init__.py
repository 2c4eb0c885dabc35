"""AEO Cultivation CRM: the application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Config, config_from_env
from crm.core.collector import collections_paused

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None) -> Flask:
    # Start-up makes some 170,000 objects that live as long as the process (modules, models, routes), and no
    # garbage: collections during it only walked them again (0.1-0.2 s of each start-up).
    with collections_paused():
        return _build_app(config)


def _build_app(config: Config | None) -> Flask:
    config = config or config_from_env()
    config.check()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(config.INSTANCE_PATH),
    )
    app.config.from_object(config)
    from crm.core.routing import LazyBuilderRule

    app.url_rule_class = LazyBuilderRule
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_template_helpers(app)
    from workers import celery_init_app

    celery_init_app(app)
    return app


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    from crm.core import connections, i18n, jobs, security
    from crm.extensions import babel, csrf, db, limiter, login_manager, migrate

    @app.before_request
    def _fresh_request_state():
        """Per-request caches live on ``g``; start every request without them (tests reuse one app context)."""
        for key in (
            "_login_user",
            "_flask_babel",
            "_crm_scopes",
            "crm_jobs_ready",
            "_crm_language",
            "_crm_data_versions",
            "_crm_unread_count",
        ):
            g.pop(key, None)

    import crm.models  # noqa: F401  (every model, so the metadata is complete)

    db.init_app(app)
    connections.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "crm" / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.compile_catalogs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(i18n.translation_directories())
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: app.config["CRM_TIMEZONE"])
    i18n.install_request_domain(app, babel)
    app.before_request(i18n.share_wtforms_translations)
    login_manager.init_app(app)
    security.init_app(app)
    jobs.init_app(app)

    from crm.auth.views import init_login

    init_login(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, let SQLAlchemy (not pysqlite) manage transactions and savepoints, and add
    the functions local dates in SQL need (``crm.core.timeutil``)."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        from crm.core.timeutil import register_sqlite_functions

        register_sqlite_functions(dbapi_connection)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


def register_blueprints(app: Flask) -> None:
    from crm.api import bp as api_bp
    from crm.api.docs import bp as api_docs_bp
    from crm.audit.views import bp as audit_bp
    from crm.auth.views import admin_bp as users_admin_bp
    from crm.auth.views import bp as auth_bp
    from crm.cohorts.views import bp as cohorts_bp
    from crm.dashboard.views import admin_bp as dashboard_admin_bp
    from crm.dashboard.views import bp as dashboard_bp
    from crm.enterprises.views import bp as enterprises_bp
    from crm.events.public import public_bp as events_public_bp
    from crm.events.views import bp as events_bp
    from crm.exports.views import bp as exports_bp
    from crm.main.views import bp as main_bp
    from crm.notifications.views import bp as notifications_bp
    from crm.notifications.views import rules_bp as reminder_rules_bp
    from crm.operations.views import bp as operations_bp
    from crm.pipeline.views import admin_bp as pipeline_admin_bp
    from crm.pipeline.views import bp as pipeline_bp
    from crm.plans.views import bp as plans_bp
    from crm.reference.views import bp as reference_bp
    from crm.reports.views import bp as reports_bp
    from crm.standards.views import bp as standards_bp
    from crm.visits.views import bp as visits_bp
    from crm.visits.views import calendar_bp, my_work_bp

    for blueprint in (
        main_bp,
        auth_bp,
        users_admin_bp,
        reference_bp,
        enterprises_bp,
        standards_bp,
        plans_bp,
        visits_bp,
        calendar_bp,
        my_work_bp,
        notifications_bp,
        reminder_rules_bp,
        operations_bp,
        events_bp,
        events_public_bp,
        exports_bp,
        audit_bp,
        pipeline_bp,
        pipeline_admin_bp,
        cohorts_bp,
        reports_bp,
        dashboard_bp,
        dashboard_admin_bp,
        api_bp,
        api_docs_bp,
    ):
        app.register_blueprint(blueprint)

    from crm.main.views import register_error_handlers

    register_error_handlers(app)


def register_cli(app: Flask) -> None:
    from crm.cli import crm_cli

    app.cli.add_command(crm_cli)


def register_template_helpers(app: Flask) -> None:
    from crm.core import filters
    from crm.core.navigation import inject_navigation

    filters.register(app)
    app.context_processor(inject_navigation)
