"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi``."""

import gc

from crm import create_app

app = create_app()
# The application's objects (modules, models, routes, some 200,000 of them) live as long as the worker: keep them
# out of the garbage collector, whose full collections otherwise walk them all again every few hundred requests
# (on average 0.35 ms of each enterprise-list request, in pauses of tens of milliseconds). As for flask crm commands
# (crm.core.cli); with gunicorn --preload it also keeps the forked workers from copying the pages the collector
# would touch.
gc.freeze()
