"""CLI: ``flask crm seed-demo``."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import func, select

from crm.core.audit import acting_as
from crm.demo.services import seed_demo
from crm.enterprises.models import Enterprise
from crm.extensions import db

LOGINS_FILE = "demo-logins.txt"


@click.command("seed-demo")
@click.option("--enterprises", "count", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing when enterprises already exist (for `make run`).")
def seed_demo_command(count, seed, if_empty):
    """Create demo users of every role and realistic enterprises; prints the logins."""
    if if_empty and (db.session.scalar(select(func.count(Enterprise.id))) or 0) > 0:
        click.echo("Demo data already present; nothing to do.")
        return
    with acting_as("cli:seed-demo"):
        ctx = seed_demo(enterprises=count, seed=seed)
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
