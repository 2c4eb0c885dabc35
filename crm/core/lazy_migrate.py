"""Flask-Migrate, imported only when a migration command runs.

Importing ``flask_migrate`` imports Alembic, and with it Mako and Pygments: about 8 MB and half a second in
every process (web workers, job workers, every ``flask crm`` command), none of which ever migrates. ``LazyMigrate``
registers the same ``flask db`` group and ``app.extensions["migrate"]`` that ``Migrate.init_app`` does, and
builds the real ``Migrate`` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask
    from flask_migrate import Migrate


class LazyMigrate:
    def __init__(self) -> None:
        self.db: Any = None
        self.directory = "migrations"
        self.alembic_ctx_kwargs: dict[str, Any] = {}
        self._migrate: Migrate | None = None

    def init_app(self, app: Flask, db: Any, *, directory: str, **alembic_ctx_kwargs: Any) -> None:
        self.db = db
        self.directory = str(directory)
        self.alembic_ctx_kwargs.update(alembic_ctx_kwargs)
        self._migrate = None
        app.extensions["migrate"] = MigrateConfig(self)
        app.cli.add_command(MigrationCommands())

    @property
    def migrate(self) -> Migrate:
        """The real ``flask_migrate.Migrate`` (what its commands call ``get_config`` on)."""
        if self._migrate is None:
            from flask_migrate import Migrate

            self._migrate = Migrate(db=self.db, directory=self.directory, **self.alembic_ctx_kwargs)
        return self._migrate


class MigrateConfig:
    """What Flask-Migrate's commands and ``crm/migrations/env.py`` read from ``app.extensions["migrate"]``."""

    def __init__(self, lazy: LazyMigrate) -> None:
        self._lazy = lazy
        self.db = lazy.db
        self.directory = lazy.directory
        self.configure_args = dict(lazy.alembic_ctx_kwargs)

    @property
    def migrate(self) -> Migrate:
        return self._lazy.migrate

    @property
    def metadata(self) -> Any:
        return self.db.metadata


class MigrationCommands(click.Group):
    """``flask db``: Flask-Migrate's own group, imported when one of its commands (or its help) is asked for."""

    def __init__(self) -> None:
        super().__init__("db", help="Perform database migrations.")

    @staticmethod
    def _group() -> click.Group:
        from flask_migrate.cli import db

        return db

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        return self._group().make_context(info_name, args, parent=parent, **extra)
