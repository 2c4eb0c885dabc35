"""Every periodic job, in one place. Times are Asia/Shanghai (Celery's ``timezone`` setting is CRM_TIMEZONE).

Each entry's task records its runs (``job_runs``: start, duration, counts, failure) for the operations page.
Without Redis (the embedded default) there is no beat: cron runs the same jobs with ``flask crm run-reminders``
and ``flask crm run-job NAME`` (see the README).
"""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Every minute: re-send jobs whose hand-off to the broker failed (Redis was down) or got lost.
    "jobs.dispatch_pending": {"task": "jobs.dispatch_pending", "schedule": crontab(minute="*")},
    # Every minute: deliver outbox messages that are due, including retries after a failed send (back-off).
    "notifications.deliver_pending": {"task": "notifications.deliver_pending", "schedule": crontab(minute="*")},
    # 07:00, then every hour until 20:00: the reminder sweep. Running it often is safe (each reminder goes out
    # once); the first run of the day does the work, later ones pick up records entered during the day.
    "reminders.sweep": {"task": "reminders.sweep", "schedule": crontab(minute=0, hour="7-20")},
    # 08:00: one digest email per user who prefers it, bundling the reminders waiting for it.
    "notifications.send_digests": {"task": "notifications.send_digests", "schedule": crontab(minute=0, hour=8)},
    # Every 15 minutes: start the scheduled reports that are due (each runs once per period, however often).
    "exports.send_scheduled": {"task": "exports.send_scheduled", "schedule": crontab(minute="*/15")},
    # 03:10: delete exports older than 7 days, their files with them.
    "exports.purge_expired": {"task": "exports.purge_expired", "schedule": crontab(minute=10, hour=3)},
    # 03:30: delete job-run records older than 30 days.
    "operations.prune": {"task": "operations.prune", "schedule": crontab(minute=30, hour=3)},
}
