"""CLI: ``flask crm run-reminders [--date YYYY-MM-DD] [--rule CODE ...]``."""

from __future__ import annotations

from datetime import date, datetime

import click

from crm.core.timeutil import local_tz
from crm.notifications.reminders import run_sweep
from crm.operations.models import RunStatus, RunTrigger
from crm.operations.services import run_tracked


def sweep_instant(day: date | None, now: datetime | None = None) -> datetime | None:
    """The instant a sweep "for day D" runs at: D at the current local time of day (None: now)."""
    if day is None:
        return None
    local_now = (now or datetime.now(local_tz())).astimezone(local_tz())
    return datetime.combine(day, local_now.timetz().replace(tzinfo=None), tzinfo=local_tz())


@click.command("run-reminders")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run the sweep as if today (Asia/Shanghai) were this date. Default: today.",
)
@click.option("--rule", "rules", multiple=True, metavar="CODE", help="Only this rule (repeatable).")
def run_reminders_command(day, rules):
    """Run the reminder sweep now, synchronously (for cron on the embedded setup, operators and tests)."""
    as_of = sweep_instant(day.date() if day else None)
    run = run_tracked("reminders.sweep", lambda: run_sweep(as_of, rule_codes=rules or None), trigger=RunTrigger.COMMAND)
    if run.status != RunStatus.SUCCEEDED:
        click.echo(run.error or "failed", err=True)
        raise SystemExit(1)
    report = run.counts or {}
    click.echo(f"Reminder sweep for {report.get('date')}:")
    for code, result in (report.get("rules") or {}).items():
        details = ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("status", "error") and v)
        status = {"unavailable": "watcher not available", "unknown": "unknown watcher"}.get(
            result["status"], result["status"]
        )
        line = f"  {code:28} {status}"
        if details:
            line += f" ({details})"
        if result.get("error"):
            line += f": {result['error']}"
        click.echo(line)
    click.echo(
        f"Sent {report.get('sent', 0)}, waiting for digest {report.get('digest', 0)}, "
        f"skipped {report.get('skipped', 0)}, already sent {report.get('duplicate', 0)}."
    )
    if report.get("failed_rules"):
        raise SystemExit(1)
