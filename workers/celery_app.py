"""The Celery app of ``python -m workers worker`` (see ``workers/__main__.py``) and of ``celery beat``."""

from crm import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
app = celery
