"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi``."""

from crm import create_app
from crm.core.collector import freeze_application

app = create_app()
# The application lives as long as the worker: out of the garbage collector's walks (on average 0.35 ms of each
# enterprise-list request, in pauses of tens of milliseconds), as for flask crm commands.
freeze_application()
