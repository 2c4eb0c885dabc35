"""CLI: ``flask crm run-job NAME``: run one periodic job of ``workers/schedule.py`` now, in this process."""

from __future__ import annotations

import click
from flask import current_app

from crm.extensions import db
from crm.operations.models import JobRun, RunStatus, RunTrigger
from workers.schedule import BEAT_SCHEDULE


@click.command("run-job")
@click.argument("name", type=click.Choice(sorted(BEAT_SCHEDULE)))
def run_job_command(name):
    """Run a periodic job synchronously (cron runs these when there is no Celery beat)."""
    task = current_app.extensions["celery"].tasks[BEAT_SCHEDULE[name]["task"]]
    run = db.session.get(JobRun, task.run(trigger=RunTrigger.COMMAND.value))
    click.echo(f"{name}: {run.status.label} in {run.duration_ms} ms {run.counts or ''}".rstrip())
    if run.status != RunStatus.SUCCEEDED:
        click.echo(run.error or "", err=True)
        raise SystemExit(1)
