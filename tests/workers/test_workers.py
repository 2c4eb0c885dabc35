"""Celery for real: a job through a Redis broker and a worker process, and the web application with Redis down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from celery.schedules import crontab
from flask import Flask
from sqlalchemy import select

from config import Config, TestingConfig
from crm import create_app
from crm.auth.models import User
from crm.core import jobs
from crm.core.jobs import QueuedJob
from crm.core.models import utcnow
from crm.extensions import db, limiter
from crm.notifications.models import Notification, OutboxMessage, OutboxStatus
from crm.notifications.services import notify
from tests.conftest import TEST_PASSWORD, CrmClient, extract_csrf
from workers.schedule import BEAT_SCHEDULE

ROOT = Path(__file__).resolve().parents[2]


class BrokerConfig(TestingConfig):
    """The test configuration with Celery as in production: jobs go to the broker of REDIS_URL."""

    def celery_config(self) -> dict:
        return Config.celery_config(self)


@pytest.fixture
def service_app(app: Flask, app_environ: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """``service_app(REDIS_URL=...)``: a second app on the same database whose jobs go to a real broker."""
    created: list[Flask] = []

    def factory(**environ: str) -> Flask:
        new = create_app(BrokerConfig({**app_environ, **environ}))
        new.test_client_class = CrmClient
        created.append(new)
        return new

    yield factory
    for new in created:
        with new.app_context():
            db.session.remove()
            db.engine.dispose()
    # Extensions are shared singletons: give them back to the suite's app.
    app.extensions["celery"].set_default()
    limiter.init_app(app)
    limiter._storage_dead = False


def delivery_job(message_id: int) -> QueuedJob:
    jobs_ = db.session.scalars(select(QueuedJob).where(QueuedJob.task_name == "notifications.deliver")).all()
    return next(j for j in jobs_ if j.args == [message_id])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_periodic_job_is_a_registered_task_on_shanghai_time(app):
    celery = app.extensions["celery"]
    assert celery.conf.timezone == "Asia/Shanghai"
    assert set(BEAT_SCHEDULE) >= {
        "jobs.dispatch_pending",
        "notifications.deliver_pending",
        "reminders.sweep",
        "notifications.send_digests",
    }
    for name, entry in BEAT_SCHEDULE.items():
        assert entry["task"] in celery.tasks, name
        assert isinstance(entry["schedule"], crontab)
    assert celery.conf.beat_schedule == BEAT_SCHEDULE
    assert BEAT_SCHEDULE["reminders.sweep"]["schedule"]._orig_hour == "7-20"


def test_publishing_fails_fast_without_retries(app):
    options = Config({"REDIS_URL": "redis://127.0.0.1:6379/7"}).celery_config()
    assert options["task_always_eager"] is False
    assert options["broker_transport_options"]["max_retries"] == 0
    assert options["broker_connection_timeout"] <= 2


def test_a_web_action_succeeds_while_redis_is_down(real_db, service_app, make_user):
    down = service_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/7")  # nothing listens there
    admin = make_user("admin")
    officer = make_user("customs", offices=["fz-mawei"])
    with down.app_context():
        message = notify(db.session.get(User, officer.id), "复核准备提醒")
        message.status = OutboxStatus.FAILED
        db.session.commit()
        message_id = message.id
        jobs.dispatch_ready()  # its delivery job cannot reach the broker either: it waits, like the web's

    client = down.test_client()
    started = time.monotonic()
    # Logging in touches the rate limiter's Redis storage; retrying the message enqueues a job.
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post_form(f"/admin/operations/outbox/{message_id}/retry")
    assert response.status_code == 302
    assert time.monotonic() - started < 10
    assert client.get("/healthz").json == {"database": "ok", "redis": "down"}

    with down.app_context():
        job = db.session.scalars(select(QueuedJob).where(QueuedJob.task_name == "notifications.deliver")).all()[-1]
        assert job.args == [message_id] and job.sent_at is None and job.started_at is None
        assert db.session.get(OutboxMessage, message_id).status == OutboxStatus.PENDING

    # Redis is back (here: the suite's in-process Celery): the periodic re-send runs the waiting job.
    later = utcnow().replace(year=utcnow().year + 1)
    with mock.patch("crm.core.jobs.utcnow", return_value=later):
        assert job.id in jobs.unsent_jobs()
        from workers.jobs.core import send_unsent_jobs

        assert send_unsent_jobs()["sent"] >= 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message_id).status == OutboxStatus.SENT
    assert db.session.scalars(select(Notification.title).where(Notification.user_id == officer.id)).all() == [
        "复核准备提醒"
    ]


@dataclass
class RunningWorker:
    """A Celery worker process consuming a queue of its own, and an app whose jobs go to that queue."""

    app: Flask
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, probe: Callable[[], Any], seconds: float = 90) -> Any:
        """Call ``probe()`` in the app's context until it returns something other than None (the worker alive)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            with self.app.app_context():
                result = probe()
                db.session.remove()
            if result is not None:
                return result
            time.sleep(0.5)
        raise AssertionError(f"the worker did not finish in {seconds} s:\n{self.log()}")


@contextmanager
def running_worker(service_app, redis_url: str, app_environ: dict[str, str], tmp_path: Path) -> Iterator[RunningWorker]:
    """Start ``python -m workers worker`` (as the Procfile does) on a queue of its own; stop it and clear its keys
    after."""
    queue = f"crm-test-{uuid.uuid4().hex[:10]}"
    broker_app = service_app(REDIS_URL=redis_url)
    broker_app.extensions["celery"].conf.task_default_queue = queue
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        **app_environ,
        "CRM_ENV": "development",
        "REDIS_URL": redis_url,
        "CRM_INSTANCE_PATH": str(tmp_path / "worker-instance"),
    }
    command = [
        sys.executable,
        "-m",
        "workers",
        "worker",
        "--pool=solo",
        f"--queues={queue}",
        f"--hostname={queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield RunningWorker(broker_app, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()


def test_a_job_goes_through_a_real_redis_broker_and_worker(real_db, redis_url, service_app, app_environ, tmp_path):
    with running_worker(service_app, redis_url, app_environ, tmp_path) as worker:
        with worker.app.app_context():
            user = User(
                username=f"worker-{uuid.uuid4().hex[:8]}",
                display_name="工作进程测试",
                role="bureau",
                email="w@example.test",
            )
            user.set_password(TEST_PASSWORD)
            db.session.add(user)
            db.session.commit()
            user_id = user.id
            message = notify(user, "经由 Redis 投递的提醒")
            db.session.commit()
            message_id = message.id
            assert jobs.dispatch_ready() == 1  # handed to Redis, not run here
            job = delivery_job(message_id)
            assert job.sent_at is not None and job.started_at is None
            db.session.remove()

        def finished_job():
            job = delivery_job(message_id)
            return job if job.finished_at is not None else None

        finished = worker.wait_for(finished_job)
        assert finished.attempts == 1 and finished.failed_at is None
        with worker.app.app_context():
            assert db.session.get(OutboxMessage, message_id).status == OutboxStatus.SENT
            titles = db.session.scalars(select(Notification.title).where(Notification.user_id == user_id)).all()
            assert titles == ["经由 Redis 投递的提醒"]
            db.session.remove()


def test_python_m_workers_is_the_celery_command_line_without_its_interactive_shell(tmp_path):
    script = (
        "import sys\n"
        "from workers.__main__ import main\n"
        "try:\n"
        "    main(['worker', '--help'])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'prompt_toolkit' in sys.modules)\n"
    )
    env = {**os.environ, "CRM_ENV": "development", "CRM_INSTANCE_PATH": str(tmp_path)}
    env.pop("REDIS_URL", None)
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "--concurrency" in run.stdout, run.stderr
    assert run.stdout.splitlines()[-1] == "exit 0 False"
