"""Celery, bound to the Flask application: every job runs inside an app context.

With ``REDIS_URL`` unset Celery runs jobs eagerly in-process, so the embedded default needs no broker.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask, has_app_context


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Inside an app context already (eager mode, tests, CLI): run there; in a worker: push one.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    from workers.schedule import BEAT_SCHEDULE

    celery.conf.beat_schedule = BEAT_SCHEDULE
    celery.set_default()
    app.extensions["celery"] = celery
    # Import the job modules so their shared tasks bind to this app.
    import workers.jobs  # noqa: F401

    return celery
