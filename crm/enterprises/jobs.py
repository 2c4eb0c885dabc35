"""Background work of the enterprise feature: checking and committing large imports (large exports are
background exports of ``crm.exports``).

Each function takes an id, is safe to run twice (it acts only on a record in the expected state), commits
once, and on failure leaves nothing half-written: the transaction is rolled back and the record is marked
failed with a message. Progress (for the progress bar) is written through a separate short connection so
the page can read it while the job's own transaction is still open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import update

from crm.enterprises import imports
from crm.enterprises.models import EnterpriseImport, ImportStatus
from crm.enterprises.spreadsheets import SpreadsheetError
from crm.extensions import db

logger = logging.getLogger(__name__)


def progress_reporter(model: type, row_id: int) -> Callable[..., None] | None:
    """A callback writing ``processed_rows`` in its own transaction; None when jobs run in-process."""
    if current_app.config["CELERY"].get("task_always_eager") or db.engine.dialect.name == "sqlite":
        return None

    def report(processed: int, **values: Any) -> None:
        try:
            with db.engine.begin() as connection:
                connection.execute(update(model).where(model.id == row_id).values(processed_rows=processed, **values))
        except Exception as exc:  # progress is informative only; never let it break the job
            logger.warning("Could not record progress of %s %s: %s", model.__name__, row_id, exc)

    return report


def _fail(model: type, row_id: int, message: str) -> None:
    db.session.rollback()
    db.session.execute(update(model).where(model.id == row_id).values(status="failed", message=message[:2000]))
    db.session.commit()


def analyse_import(import_id: int) -> None:
    """Check the rows of an uploaded file against the CRM and keep them for the preview."""
    batch = db.session.get(EnterpriseImport, import_id)
    if batch is None or batch.status != ImportStatus.ANALYSING:
        return
    user = batch.created_by
    try:
        with force_locale(imports.language_of(user)):
            try:
                with open(batch.file.path, "rb") as fh:
                    table = imports.read_batch_table(batch, fh)
                analysis = imports.analyse(
                    table, batch.mapping or {}, user=user, progress=progress_reporter(EnterpriseImport, import_id)
                )
                batch.headers = table.headers
                imports.store_analysis(batch, analysis)
                imports.store_error_report(batch, analysis, user)
                batch.message = ""
            except SpreadsheetError as exc:
                batch.status = ImportStatus.FAILED
                batch.message = str(exc)
        db.session.commit()
    except Exception:
        logger.exception("Import %s could not be checked", import_id)
        with force_locale(imports.language_of(user)):
            _fail(EnterpriseImport, import_id, _("The file could not be checked; nothing was imported."))
        raise


def commit_import(import_id: int) -> None:
    """Write the checked rows of an import (all-or-nothing unless the user chose valid rows only)."""
    batch = db.session.get(EnterpriseImport, import_id)
    if batch is None or batch.status != ImportStatus.COMMITTING:
        return
    user = batch.created_by
    try:
        with force_locale(imports.language_of(user)):
            analysis = imports.stored_analysis(batch)
            try:
                imports.commit(batch, analysis, user=user, progress=progress_reporter(EnterpriseImport, import_id))
            except imports.ImportRefusedError as exc:
                db.session.rollback()
                batch = db.session.get(EnterpriseImport, import_id)
                batch.status = ImportStatus.ANALYSED
                batch.message = str(exc)
        db.session.commit()
    except Exception:
        logger.exception("Import %s failed", import_id)
        with force_locale(imports.language_of(user)):
            _fail(EnterpriseImport, import_id, _("The import failed and was rolled back: nothing was imported."))
        raise
