"""CLI: ``flask crm seed-reference``."""

from __future__ import annotations

import click

from crm.core.audit import acting_as
from crm.extensions import db
from crm.reference.services import seed_reference


@click.command("seed-reference")
@click.option("--update", is_flag=True, help="Overwrite rows an administrator may have edited with the shipped values.")
def seed_reference_command(update):
    """Load the reference data (areas, offices, categories, units, measures, MRA partners, stages)."""
    with acting_as("cli:seed-reference"):
        created = seed_reference(update=update)
        db.session.commit()
    for name, count in created.items():
        click.echo(f"{name}: {count} created")
