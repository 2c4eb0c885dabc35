"""A second application for a test that must configure one differently (or add a route before the first
request), disposed of afterwards so no database connection outlives the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from config import TestingConfig
from crm.extensions import db


@contextmanager
def fresh_app(environ: dict[str, str]) -> Iterator[Flask]:
    from crm import create_app

    app = create_app(TestingConfig(environ))
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
