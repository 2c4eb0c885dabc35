"""Report exports as background jobs: the report pages start them, the registry runs the reports' writers."""

from __future__ import annotations

from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.exports.models import ExportJob, ExportJobStatus
from crm.exports.registry import EXPORTERS_BY_KEY
from crm.extensions import db


def test_every_report_writer_is_an_exporter():
    for key in ("pipeline_report", "monthly_progress", "certified_list", "measure_uptake"):
        exporter = EXPORTERS_BY_KEY[key]
        assert callable(exporter.writer()) and set(exporter.formats) == {"xlsx", "csv", "pdf"}


def test_the_pipeline_report_page_starts_a_background_export(client, make_user, make_enterprise):
    make_enterprise(name="报表导出测试有限公司")
    user = make_user("manager", display_name="报表经理")
    client.login(user)
    page = client.get("/reports/pipeline?group_by=office").get_data(as_text=True)
    assert 'name="kind" value="pipeline_report"' in page and "group_by=office" in page
    assert "/exports/subscriptions/new?kind=pipeline_report" in page

    response = client.post_form("/exports/", {"kind": "pipeline_report", "format": "xlsx", "query": "group_by=office"})
    assert response.status_code == 302
    job = db.session.scalars(select(ExportJob)).one()
    assert job.status == ExportJobStatus.DONE and job.params == {"group_by": "office"}
    with job.file.path.open("rb") as fh:
        workbook = load_workbook(fh)
    assert len(workbook.sheetnames) > 1, "a sheet per grouping plus the detail rows"


def test_a_bad_grouping_is_refused_before_a_job_is_recorded(client, make_user):
    client.login(make_user("manager"))
    response = client.post_form("/exports/", {"kind": "pipeline_report", "format": "xlsx", "query": "group_by=nope"})
    assert response.status_code == 302 and response.location.endswith("/exports/")
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0
