"""Fixtures of the generic security tests."""

from __future__ import annotations

import pytest

from crm.extensions import limiter
from tests.security.world import World, build_world


@pytest.fixture
def world(app) -> World:
    """One row per table (two for records of an enterprise, area or office), texts full of script payloads,
    and a user and API token of every role; committed (the test's transaction still rolls it back)."""
    return build_world()


@pytest.fixture
def no_rate_limits():
    """The matrix calls the login page more often than its rate limit allows."""
    enabled = limiter.enabled
    limiter.enabled = False
    yield
    limiter.enabled = enabled
