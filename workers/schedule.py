"""Every periodic job, in one place. Times are Asia/Shanghai (Celery's ``timezone`` setting)."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # Re-send jobs whose hand-off to the broker failed (Redis was down) or got lost.
    "jobs.dispatch_pending": {"task": "jobs.dispatch_pending", "schedule": crontab(minute="*")},
}
