"""Enterprise jobs: checking and committing large spreadsheet imports."""

from __future__ import annotations

from celery import shared_task

from crm.enterprises import jobs


@shared_task(name="enterprises.analyse_import", ignore_result=True)
def analyse_import(import_id: int) -> None:
    jobs.analyse_import(import_id)


@shared_task(name="enterprises.commit_import", ignore_result=True)
def commit_import(import_id: int) -> None:
    jobs.commit_import(import_id)
