"""CLI: ``flask crm seed-demo``."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import func, select

from crm.core.audit import acting_as
from crm.demo.services import DEMO_VOLUMES, seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db

LOGINS_FILE = "demo-logins.txt"


def parse_volume(ctx, param, values: tuple[str, ...]) -> dict[str, int]:
    """``--volume stage_changes=1000000`` (repeatable) as ``{"stage_changes": 1000000}``."""
    volumes: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        name = name.strip()
        if not sep or not name or not number.strip().isdigit():
            raise click.BadParameter(f"expected NAME=COUNT with a whole COUNT, not {value!r}")
        volumes[name] = int(number)
    return volumes


@click.command("seed-demo")
@click.option("--enterprises", "count", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing when enterprises already exist (for `make run`).")
@click.option(
    "--volume",
    "volumes",
    multiple=True,
    metavar="NAME=COUNT",
    callback=parse_volume,
    help="Total rows of one kind, e.g. stage_changes=1000000 (repeatable). Known: " + ", ".join(DEMO_VOLUMES) + ".",
)
def seed_demo_command(count, seed, if_empty, volumes):
    """Create demo users of every role and realistic enterprises; prints the logins."""
    if if_empty and (db.session.scalar(select(func.count(Enterprise.id))) or 0) > 0:
        click.echo("Demo data already present; nothing to do.")
        return
    for name in sorted(set(volumes) - set(DEMO_VOLUMES)):
        # The benchmark passes every volume it wants; a feature's seeder starts honouring its own once merged.
        click.echo(f"Note: no demo seeder uses the volume {name!r} yet; it is ignored.", err=True)
    with acting_as("cli:seed-demo"):
        ctx = seed_demo(enterprises=count, seed=seed, volumes=volumes)
        db.session.commit()
    click.echo(f"Created {count} enterprises.")
    if ctx.passwords:
        lines = [f"{username:32} {password}" for username, password in ctx.passwords.items()]
        path = Path(current_app.instance_path) / LOGINS_FILE
        existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(existing + lines) + "\n")
        click.echo("Demo logins (username, password), also kept in instance/" + LOGINS_FILE + ":")
        for line in lines:
            click.echo("  " + line)
