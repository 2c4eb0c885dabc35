"""Thin Celery jobs that call the CRM's services. Each module is imported here so its jobs register."""

from workers.jobs import core, enterprises, exports, notifications, operations, reminders, standards  # noqa: F401
