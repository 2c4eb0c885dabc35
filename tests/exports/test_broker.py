"""An export job through the real Redis broker and a worker process, as in production (skips without REDIS_URL,
fails under CRM_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from crm.auth.models import User
from crm.core import jobs
from crm.exports import services
from crm.exports.models import ExportJob, ExportJobStatus
from crm.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.workers.test_workers import ROOT, service_app  # noqa: F401  (the fixture)


def test_an_export_goes_through_a_real_redis_broker_and_worker(
    real_db,
    redis_url,
    service_app,  # noqa: F811
    app_environ,
    tmp_path,
    make_enterprise,
):
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
        "celery",
        "-A",
        "workers.celery_app",
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
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with broker_app.app_context():
            for n in range(3):
                make_enterprise(name=f"经由队列导出{n}号有限公司", area="350500", office="xm-quanzhou")
            user = User(username=f"export-{queue}", display_name="队列导出测试", role="manager", email="e@example.test")
            user.set_password(TEST_PASSWORD)
            db.session.add(user)
            db.session.commit()
            job = services.start_export(user, "enterprises", "csv", {"area": "350500"})
            db.session.commit()
            job_id = job.id
            assert jobs.dispatch_ready() >= 1  # handed to Redis, not run here
            assert db.session.get(ExportJob, job_id).status == ExportJobStatus.QUEUED
            db.session.remove()

        deadline = time.monotonic() + 90
        finished = None
        while time.monotonic() < deadline and finished is None:
            assert worker.poll() is None, log_path.read_text(errors="replace")
            with broker_app.app_context():
                job = db.session.get(ExportJob, job_id)
                finished = job if job.status in (ExportJobStatus.DONE, ExportJobStatus.FAILED) else None
                if finished is not None:
                    path = job.file.path if job.file else None
                db.session.remove()
            if finished is None:
                time.sleep(0.5)
        assert finished is not None, log_path.read_text(errors="replace")
        assert finished.status == ExportJobStatus.DONE, (finished.error, log_path.read_text(errors="replace"))
        assert finished.row_count == 3 and finished.progress_total == 3
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "经由队列导出0号有限公司".encode() in data
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()
