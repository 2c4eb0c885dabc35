"""An export job through the real Redis broker and a worker process, as in production (skips without REDIS_URL,
fails under CRM_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import uuid

from crm.auth.models import User
from crm.core import jobs
from crm.exports import services
from crm.exports.models import ExportJob, ExportJobStatus
from crm.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.workers.test_workers import running_worker, service_app  # noqa: F401  (the fixture)


def test_an_export_goes_through_a_real_redis_broker_and_worker(
    real_db,
    redis_url,
    service_app,  # noqa: F811
    app_environ,
    tmp_path,
    make_enterprise,
):
    with running_worker(service_app, redis_url, app_environ, tmp_path) as worker:
        with worker.app.app_context():
            for n in range(3):
                make_enterprise(name=f"经由队列导出{n}号有限公司", area="350500", office="xm-quanzhou")
            user = User(
                username=f"export-{uuid.uuid4().hex[:8]}",
                display_name="队列导出测试",
                role="manager",
                email="e@example.test",
            )
            user.set_password(TEST_PASSWORD)
            db.session.add(user)
            db.session.commit()
            job = services.start_export(user, "enterprises", "csv", {"area": "350500"})
            db.session.commit()
            job_id = job.id
            assert jobs.dispatch_ready() >= 1  # handed to Redis, not run here
            assert db.session.get(ExportJob, job_id).status == ExportJobStatus.QUEUED
            db.session.remove()

        def finished_job():
            job = db.session.get(ExportJob, job_id)
            if job.status not in (ExportJobStatus.DONE, ExportJobStatus.FAILED):
                return None
            return job.status, job.error, job.row_count, job.progress_total, job.file.path if job.file else None

        status, error, row_count, total, path = worker.wait_for(finished_job)
        assert status == ExportJobStatus.DONE, (error, worker.log())
        assert row_count == 3 and total == 3
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "经由队列导出0号有限公司".encode() in data
