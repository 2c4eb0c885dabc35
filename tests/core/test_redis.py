"""The caches' Redis client: one per URL, and none for a while after Redis failed to answer."""

import pytest

from crm.core import redis
from crm.enterprises import counts_cache
from crm.reference import cache as reference_cache

#: Nothing listens on port 1: every command fails at once.
DEAD_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def dead_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", DEAD_URL)
    redis.reset()
    yield
    redis.reset()


def test_no_client_without_a_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    assert redis.client() is None


def test_one_client_per_url(dead_redis):
    assert redis.client() is not None
    assert redis.client() is redis.client()


def test_a_failure_pauses_the_client_for_every_cache(dead_redis, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(redis.time, "monotonic", lambda: now[0])
    with pytest.raises(Exception):  # noqa: B017 (whatever redis-py raises for a refused connection)
        redis.client().get("key")
    redis.failed(ConnectionError("refused"), "testing")
    assert redis.client() is None
    now[0] += redis.PAUSE_SECONDS - 1
    assert redis.client() is None
    now[0] += 2
    assert redis.client() is not None


def test_the_stage_counts_are_counted_while_redis_is_down(dead_redis, monkeypatch):
    monkeypatch.setitem(counts_cache.current_app.config, "ENTERPRISE_COUNTS_CACHE", True)
    counted = []

    def compute():
        counted.append(1)
        return {"candidate": 1}

    assert counts_cache.cached_counts({"scope": "all"}, compute) == {"candidate": 1}
    assert counted == [1]
    # The failure paused the shared client: the reference cache does not try the dead server either.
    assert redis.client() is None
    assert counts_cache.data_version() is None


def test_the_reference_cache_works_while_redis_is_down(dead_redis, monkeypatch):
    monkeypatch.setitem(reference_cache.current_app.config, "REFERENCE_CACHE", True)
    monkeypatch.setitem(reference_cache._state, "checked", 0.0)
    reference_cache.clear()
    loads = []
    try:
        assert reference_cache.cached("key", lambda: loads.append(1) or len(loads)) == 1
        assert reference_cache.cached("key", lambda: loads.append(1) or len(loads)) == 1
    finally:
        reference_cache.clear()
    assert redis.client() is None
