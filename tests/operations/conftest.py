"""The reminder tests' factories, for the operations tests."""

from tests.notifications.conftest import make_task  # noqa: F401
