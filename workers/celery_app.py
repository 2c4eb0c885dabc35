"""Entry point for ``celery -A workers.celery_app worker`` and ``celery -A workers.celery_app beat``."""

from crm import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
app = celery
