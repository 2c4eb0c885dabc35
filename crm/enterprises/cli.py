"""CLI: ``flask crm import-enterprises FILE [--dry-run] [--commit-valid] [--as USERNAME]``."""

from __future__ import annotations

import os
import sys

import click
from flask_babel import force_locale

from crm.core.audit import acting_as
from crm.core.collector import collections_paused
from crm.core.files import store_bytes_from
from crm.enterprises import imports
from crm.enterprises.models import EnterpriseImport, ExistingAction, ImportStatus, RowLabel
from crm.enterprises.spreadsheets import SpreadsheetError, check_spreadsheet
from crm.extensions import db


@click.command("import-enterprises")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and report every row; write nothing.")
@click.option(
    "--commit-valid", is_flag=True, help="Import the valid rows and reject the others (default: all or nothing)."
)
@click.option("--as", "username", metavar="USERNAME", help="Import on this user's behalf, within their jurisdiction.")
@click.option(
    "--fill-empty",
    is_flag=True,
    help="For enterprises already in the CRM, fill their empty fields (default: skip them).",
)
def import_enterprises_command(path: str, dry_run: bool, commit_valid: bool, username: str | None, fill_empty: bool):
    """Import enterprises from an XLSX or CSV file (UTF-8, UTF-8 with BOM or GB18030).

    Exits with status 1 when the file is refused or, without --commit-valid, when any row is invalid.
    """
    # The rows read and checked (some 100,000 objects) live until the command ends, and the import makes next to
    # no garbage (2,000 objects for 10,000 rows): collections during it only walked the rows again.
    with collections_paused():
        _import(path, dry_run, commit_valid, username, fill_empty)


def _import(path: str, dry_run: bool, commit_valid: bool, username: str | None, fill_empty: bool) -> None:
    from crm.auth.services import find_user

    user = None
    if username:
        user = find_user(username)
        if user is None or not user.is_active:
            raise click.ClickException(f"No active user called {username!r}.")
    filename = os.path.basename(path)
    language = imports.language_of(user)
    with force_locale(language), acting_as("cli:import-enterprises", user), open(path, "rb") as fh:
        try:
            kind = check_spreadsheet(fh, filename)
            batch = EnterpriseImport(
                filename=filename,
                kind=kind,
                created_by_id=getattr(user, "id", None),
                existing_action=ExistingAction.FILL_EMPTY if fill_empty else ExistingAction.SKIP,
                valid_rows_only=commit_valid,
            )
            table = imports.read_batch_table(batch, fh)
        except SpreadsheetError as exc:
            raise click.ClickException(str(exc)) from None
        mapping = imports.guess_mapping(table.headers)
        problems = imports.mapping_problems(mapping)
        if problems:
            click.echo(f"Headings found (row {table.header_row}): {', '.join(h for h in table.headers if h)}")
            raise click.ClickException(" ".join(problems))
        click.echo(f"{filename}: heading row {table.header_row}, {len(table.rows)} data rows.")
        for index, key in sorted(mapping.items(), key=lambda item: int(item[0])):
            click.echo(f"  {table.headers[int(index)]} -> {imports.FIELDS_BY_KEY[key].label}")
        analysis = imports.analyse(table, mapping, user=user)
        _report(analysis)
        if dry_run:
            click.echo("Dry run: nothing was written.")
            db.session.rollback()
            return
        batch.sheet, batch.header_row, batch.headers, batch.mapping = (
            table.sheet,
            table.header_row,
            table.headers,
            mapping,
        )
        db.session.add(batch)
        db.session.flush()
        fh.seek(0)
        stored = store_bytes_from(
            fh,
            filename=filename,
            kind=kind,
            owner_type="enterprise_import",
            owner_id=batch.id,
            enterprise_id=None,
            uploaded_by=user,
        )
        batch.file_id = stored.id
        imports.store_error_report(batch, analysis, user)
        try:
            imports.commit(batch, analysis, user=user)
        except imports.ImportRefusedError as exc:
            db.session.rollback()
            _record_refusal(batch, analysis, kind, user, str(exc), fh)
            click.echo(str(exc), err=True)
            sys.exit(1)
        db.session.commit()
    click.echo(
        f"Import {batch.id}: {batch.created_count} created, {batch.updated_count} updated, "
        f"{batch.skipped_count} skipped, {batch.rejected_count} rejected."
    )
    if batch.rejected_count:
        click.echo(f"The rejected rows with their reasons: /enterprises/imports/{batch.id} (error report).")


def _report(analysis: imports.Analysis) -> None:
    counts = {label: analysis.count(label) for label in RowLabel}
    click.echo(
        "New: {new}, already in the CRM: {existing}, duplicate within the file: {duplicate}, invalid: {invalid}".format(
            **{label.value: count for label, count in counts.items()}
        )
    )
    for row in analysis.rows:
        if row.label in (RowLabel.INVALID, RowLabel.DUPLICATE):
            click.echo(f"  row {row.row_number}: " + "; ".join(row.errors))
        for warning in row.warnings:
            click.echo(f"  row {row.row_number} (warning): {warning}")


def _record_refusal(batch, analysis, kind, user, message, fh) -> None:
    """Keep a record of the refused import (who, when, file, counts) with its error report; no enterprise."""
    refused = EnterpriseImport(
        filename=batch.filename,
        kind=kind,
        created_by_id=getattr(user, "id", None),
        sheet=batch.sheet,
        header_row=batch.header_row,
        headers=batch.headers,
        mapping=batch.mapping,
        existing_action=batch.existing_action,
        valid_rows_only=False,
        status=ImportStatus.REFUSED,
        message=message,
    )
    imports.set_counts(refused, analysis)
    refused.rejected_count = len(analysis.rejected)
    db.session.add(refused)
    db.session.flush()
    fh.seek(0)
    refused.file_id = store_bytes_from(
        fh,
        filename=batch.filename,
        kind=kind,
        owner_type="enterprise_import",
        owner_id=refused.id,
        enterprise_id=None,
        uploaded_by=user,
    ).id
    imports.store_error_report(refused, analysis, user)
    db.session.commit()
