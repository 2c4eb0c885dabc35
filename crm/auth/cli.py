"""CLI: ``flask crm create-user`` and ``flask crm create-token``."""

from __future__ import annotations

import sys

import click
from flask_babel import gettext as _

from crm.auth import services
from crm.auth.passwords import password_problems
from crm.core.audit import acting_as
from crm.core.permissions import Role
from crm.extensions import db


@click.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="The user's role.")
@click.option("--email", default=None, help="Email address for notifications.")
@click.option("--name", "display_name", default=None, help="Display name (defaults to the username).")
@click.option("--area", "areas", multiple=True, help="Area code in the user's scope (repeatable), e.g. 350500.")
@click.option("--office", "offices", multiple=True, help="Customs office code in the scope (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def create_user_command(username, role, email, display_name, areas, offices, password_stdin):
    """Create a user with a role and a jurisdiction scope."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, [username, email or ""])
    if problems:
        raise click.ClickException(problems[0])
    with acting_as("cli:create-user"):
        try:
            user = services.create_user(
                username,
                role=role,
                password=password,
                display_name=display_name,
                email=email,
                area_codes=areas,
                office_codes=offices,
            )
        except services.AccountError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(_("Created user %(name)s (%(role)s).", name=user.username, role=user.role))


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="CLI", help="What the token is for.")
def create_token_command(username, name):
    """Create an API token for a user and print it once."""
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(_("No user named %(name)s.", name=username))
    if not user.is_active:
        raise click.ClickException(_("User %(name)s is deactivated.", name=username))
    with acting_as("cli:create-token"):
        _token, plain = services.create_token(user, name)
        db.session.commit()
    click.echo(plain)
