"""Export jobs: the file (XLSX read back, CSV with BOM) with who and when, progress, audit, failures that leave
nothing behind, downloads by the owner only, "my exports", and the 7-day purge."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.core.audit import AuditAction, AuditLog
from crm.core.files import StoredFile, store_bytes_from
from crm.core.models import utcnow
from crm.enterprises.exports import EXPORT_COLUMNS
from crm.exports import registry, services
from crm.exports.models import ExportJob, ExportJobStatus
from crm.exports.registry import Exporter, ExportParamsError
from crm.exports.writers import write_enterprises
from crm.extensions import db
from crm.notifications.models import Channel, OutboxMessage


def file_rows(job: ExportJob) -> list[tuple]:
    with job.file.path.open("rb") as fh:
        return list(load_workbook(fh).active.iter_rows(values_only=True))


def test_background_export_from_the_list_writes_the_scoped_xlsx_and_reports_progress(client, make_user, listed):
    user = make_user("bureau", areas=["350500"], display_name="导出测试员")
    client.login(user)
    response = client.post_form("/exports/", {"kind": "enterprises", "format": "xlsx", "query": "sort=name"})
    assert response.status_code == 302
    job = db.session.scalars(select(ExportJob)).one()
    assert response.location.endswith(f"/exports/{job.id}")
    assert job.status == ExportJobStatus.DONE  # in-process Celery ran it after the request
    assert job.row_count == 2 and job.progress_done == 2 and job.progress_total == 2 and job.percent == 100
    assert job.params == {"sort": "name"} and job.user_id == user.id
    assert job.expires_at - job.created_at == timedelta(days=7)
    rows = file_rows(job)
    assert rows[0][0] == "企业名单"
    assert rows[1][:2] == ("导出人", "导出测试员")
    assert rows[2][0] == "生成时间" and "Asia/Shanghai" in rows[2][1]
    assert list(rows[3]) == [c.header for c in EXPORT_COLUMNS]
    assert [r[0] for r in rows[4:]] == ["泉州乙导出有限公司", "泉州甲导出有限公司"], "only the caller's scope, sorted"
    assert job.file.owner_type == "export_job" and job.file.owner_id == job.id and job.file.kind == "xlsx"

    status = client.get(f"/exports/{job.id}/status").json
    assert status["done"] and status["percent"] == 100 and status["progress"] == {"done": 2, "total": 2}
    assert status["download"] == f"/exports/{job.id}/download"
    page = client.get(response.location).get_data(as_text=True)
    assert "data-export-download" in page and f'href="/exports/{job.id}/download"' in page
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == Channel.IN_APP)).one()
    assert message.user_id == user.id and message.url == f"/exports/{job.id}"


def test_csv_export_has_a_bom_title_lines_and_the_filtered_rows(make_user, listed, run_job):
    user = make_user("manager", display_name="省级经理")
    job = run_job(user, "enterprises", "csv", {"area": "350100"})
    data = job.file.path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["企业名单"] and rows[1] == ["导出人", "省级经理"] and rows[2][0] == "生成时间"
    assert rows[3][:2] == ["企业名称", "统一社会信用代码"]
    assert [r[0] for r in rows[4:]] == ["福州丙导出有限公司"]
    assert job.row_count == 1 and job.file.kind == "csv" and job.file.filename.endswith(".csv")


def test_every_export_is_audited_with_who_filters_and_rows(make_user, listed, run_job):
    user = make_user("manager")
    job = run_job(user, "enterprises", "xlsx", {"area": "350500", "q": "泉州"})
    event = db.session.scalars(select(AuditLog).where(AuditLog.action == AuditAction.EXPORT)).one()
    assert event.actor_id == user.id
    assert event.changes["kind"] == "enterprises" and event.changes["format"] == "xlsx"
    assert event.changes["filters"] == {"area": "350500", "q": "泉州"} and event.changes["rows"] == 2
    assert event.record_id == str(job.id)


def test_the_writer_reports_progress_and_refuses_bad_filters_before_writing(app, make_user, listed):
    user = make_user("manager")
    calls: list[tuple[int, int | None]] = []
    out = io.BytesIO()
    rows = write_enterprises(
        {"area": "350500"}, "csv", out, user=user, generated_at=utcnow(), progress=lambda d, t: calls.append((d, t))
    )
    assert rows == 2 and calls[0] == (0, 2) and calls[-1] == (2, 2)
    for params in ({"nope": "1"}, {"area": ["350500"]}, {"sort": "bogus"}):
        out = io.BytesIO()
        with pytest.raises(ExportParamsError):
            write_enterprises(params, "xlsx", out, user=user, generated_at=utcnow(), progress=lambda d, t: None)
        assert out.getvalue() == b""


def broken_writer(params, fmt, out, *, user, generated_at, progress):
    """Writes half a file, then fails (as a writer whose query dies halfway would)."""
    out.write(b"half a file")
    progress(500, 1000)
    raise RuntimeError("the database went away")


@pytest.fixture
def broken(monkeypatch):
    exporter = Exporter("broken", "Broken", ("csv",), "tests.exports.test_jobs:broken_writer")
    monkeypatch.setitem(registry.EXPORTERS_BY_KEY, "broken", exporter)
    return exporter


def test_a_failing_job_is_marked_failed_and_leaves_no_file_row_or_audit(app, make_user, broken):
    user = make_user("manager")
    store = app.config["CRM_FILE_STORE"]
    from pathlib import Path

    before = {p for p in Path(store).rglob("*") if p.is_file()}
    job = services.new_job(user, "broken", "csv", {})
    db.session.commit()
    with pytest.raises(RuntimeError):
        services.run_export(job.id)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.status == ExportJobStatus.FAILED and job.finished_at is not None
    assert job.error and "database" not in job.error  # the user's message, not the exception
    assert job.file_id is None and job.row_count is None
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0
    assert {p for p in Path(store).rglob("*") if p.is_file()} == before
    assert db.session.scalar(select(func.count()).where(AuditLog.action == AuditAction.EXPORT)) == 0
    notice = db.session.scalars(select(OutboxMessage)).one()
    assert notice.user_id == user.id and notice.url == f"/exports/{job.id}"


def test_a_job_with_invalid_filters_fails_with_the_reason(make_user, run_job):
    job = run_job(make_user("manager"), "enterprises", "xlsx", {"colour": "blue"})
    assert job.status == ExportJobStatus.FAILED and "colour" in job.error and job.file_id is None


def test_a_job_runs_once_even_when_sent_twice(make_user, listed, run_job):
    job = run_job(make_user("manager"))
    assert services.run_export(job.id) is None  # already claimed: nothing happens
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 1


def test_only_the_owner_sees_and_downloads_an_export(app, client, make_user, listed, run_job):
    owner = make_user("bureau", areas=["350500"])
    job = run_job(owner)
    client.login(owner)
    with client.get(f"/exports/{job.id}/download") as response:
        assert response.status_code == 200
        assert load_workbook(io.BytesIO(response.get_data())).active.max_row == 6
    for other in (make_user("bureau", areas=["350500"]), make_user("admin")):
        stranger = app.test_client()
        stranger.login(other)
        for url in (f"/exports/{job.id}", f"/exports/{job.id}/status", f"/exports/{job.id}/download"):
            assert stranger.get(url).status_code == 404, (other.role, url)
    viewer = app.test_client()
    viewer.login(make_user("viewer"))
    assert viewer.get("/exports/").status_code == 403


def test_my_exports_lists_the_last_seven_days_with_size_and_download(client, make_user, listed, run_job):
    user = make_user("manager")
    recent = run_job(user)
    old = run_job(user, "enterprises", "csv")
    old.created_at = utcnow() - timedelta(days=8)
    db.session.commit()
    other = run_job(make_user("manager"))
    client.login(user)
    page = client.get("/exports/").get_data(as_text=True)
    assert f'data-export-row="{recent.id}"' in page and f"/exports/{recent.id}/download" in page
    assert f'data-export-row="{old.id}"' not in page and f'data-export-row="{other.id}"' not in page
    assert " KB" in page or " B<" in page
    assert "我的导出" in page  # the navigation entry


def test_an_unknown_kind_or_format_starts_nothing(client, make_user):
    client.login(make_user("manager"))
    for data in ({"kind": "nope", "format": "xlsx"}, {"kind": "enterprises", "format": "pdf"}):
        response = client.post_form("/exports/", data)
        assert response.status_code == 302 and response.location.endswith("/exports/")
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0


def test_expired_exports_are_purged_with_their_files(app, make_user, listed, run_job):
    user = make_user("manager")
    expired = run_job(user)
    kept = run_job(user)
    path = expired.file.path
    assert path.exists()
    expired.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert services.purge_expired() == {"deleted": 1, "files": 1, "retired_files": 0}
    db.session.commit()
    assert not path.exists()
    assert db.session.get(ExportJob, expired.id) is None
    assert db.session.get(ExportJob, kept.id) is not None and kept.file.path.exists()
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 1


def test_the_purge_deletes_files_left_by_the_retired_enterprise_exports(app, make_user, listed, run_job):
    kept = run_job(make_user("manager"))
    left = [
        store_bytes_from(
            io.BytesIO(b"name\n"),
            filename=f"enterprises-{n}.csv",
            kind="csv",
            owner_type="enterprise_export",
            owner_id=n,
            enterprise_id=None,
        )
        for n in (1, 2, 3)
    ]
    paths = [stored.path for stored in left]
    db.session.commit()
    assert all(path.exists() for path in paths)
    assert services.purge_expired(batch=2)["retired_files"] == 2
    db.session.commit()
    assert services.purge_expired(batch=2)["retired_files"] == 1
    db.session.commit()
    assert not any(path.exists() for path in paths)
    assert db.session.scalars(select(StoredFile.owner_type)).all() == ["export_job"]
    assert db.session.get(ExportJob, kept.id) is not None and kept.file.path.exists()


def test_the_purge_runs_from_the_schedule(app, make_user, listed, run_job):
    job = run_job(make_user("manager"))
    job.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "run-job", "exports.purge_expired"])
    assert result.exit_code == 0, result.output
    assert db.session.get(ExportJob, job.id) is None


def test_the_list_offers_a_background_export_of_its_filters_to_those_who_may_export(app, client, make_user):
    client.login(make_user("manager"))
    page = client.get("/enterprises/?area=350500&sort=name").get_data(as_text=True)
    assert 'action="/exports/"' in page and 'name="kind" value="enterprises"' in page
    assert 'name="query" value="area=350500&amp;sort=name"' in page
    assert "/exports/subscriptions/new?kind=enterprises&amp;format=xlsx&amp;params=area%3D350500%26sort%3Dname" in page
    viewer = app.test_client()
    viewer.login(make_user("viewer"))
    assert 'action="/exports/"' not in viewer.get("/enterprises/").get_data(as_text=True)
