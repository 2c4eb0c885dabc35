"""The export API: 202 with the export's representation, its progress and download URL, the owner only,
and 422 errors naming the field for an unknown kind or format or bad filters."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.exports.models import ExportJob
from crm.extensions import db

EXPORT_KEYS = {
    "id",
    "kind",
    "format",
    "filters",
    "status",
    "progress",
    "row_count",
    "error",
    "created_at",
    "finished_at",
    "expires_at",
    "url",
    "download_url",
}


def test_post_starts_an_export_and_get_follows_it_to_the_download(client, make_user, api_token, listed):
    headers = api_token(make_user("bureau", areas=["350500"]))
    response = client.post(
        "/api/v1/exports", json={"kind": "enterprises", "format": "xlsx", "filters": {"sort": "name"}}, headers=headers
    )
    assert response.status_code == 202, response.json
    body = response.json
    assert set(body) == EXPORT_KEYS
    assert body["kind"] == "enterprises" and body["format"] == "xlsx" and body["filters"] == {"sort": "name"}
    assert body["status"] == "queued" and body["download_url"] is None
    assert body["progress"] == {"done": 0, "total": None}
    assert response.headers["Location"] == body["url"] == f"/api/v1/exports/{body['id']}"

    done = client.get(body["url"], headers=headers).json  # the in-process job ran after the response
    assert done["status"] == "done" and done["row_count"] == 2 and done["progress"] == {"done": 2, "total": 2}
    assert done["error"] is None and done["finished_at"]
    assert done["download_url"] == f"/api/v1/exports/{body['id']}/download"
    with client.get(done["download_url"], headers=headers) as download:
        assert download.status_code == 200
        rows = list(load_workbook(io.BytesIO(download.get_data())).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[4:]] == ["泉州乙导出有限公司", "泉州甲导出有限公司"]


def test_another_users_export_is_not_found(client, make_user, api_token, listed):
    owner = api_token(make_user("manager"))
    export_id = client.post("/api/v1/exports", json={"kind": "enterprises", "format": "csv"}, headers=owner).json["id"]
    stranger = api_token(make_user("admin"))
    for url in (f"/api/v1/exports/{export_id}", f"/api/v1/exports/{export_id}/download"):
        response = client.get(url, headers=stranger)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nope", "format": "xlsx"}, "kind"),
        ({"format": "xlsx"}, "kind"),
        ({"kind": "enterprises", "format": "pdf"}, "format"),
        ({"kind": "enterprises", "format": 3}, "format"),
        ({"kind": "enterprises", "format": "csv", "filters": {"colour": "blue"}}, "filters"),
        ({"kind": "enterprises", "format": "csv", "filters": {"area": ["350500"]}}, "filters"),
        ({"kind": "enterprises", "format": "csv", "filters": {"sort": "nonsense"}}, "filters"),
        ({"kind": "enterprises", "format": "csv", "filters": ["area"]}, "filters"),
        ({"kind": "enterprises", "format": "csv", "filters": None}, "filters"),
        ({"kind": "pipeline_report", "format": "xlsx", "filters": {"group_by": "nope"}}, "filters"),
        ({"kind": "enterprises", "format": "csv", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_requests_answer_422_naming_the_field(client, make_user, api_token, body, field):
    response = client.post("/api/v1/exports", json=body, headers=api_token(make_user("manager")))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "validation_failed" and field in error["fields"] and error["fields"][field][0]
    assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0


def test_a_body_that_is_not_an_object_is_400_and_viewers_may_not_export(client, make_user, api_token):
    headers = api_token(make_user("manager"))
    assert (
        client.post("/api/v1/exports", data="[]", content_type="application/json", headers=headers).status_code == 400
    )
    viewer = api_token(make_user("viewer"))
    response = client.post("/api/v1/exports", json={"kind": "enterprises", "format": "csv"}, headers=viewer)
    assert response.status_code == 403
    assert client.post("/api/v1/exports", json={"kind": "enterprises", "format": "csv"}).status_code == 401


def test_the_export_operations_are_documented(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["paths"]["/exports"]["post"]["operationId"] == "createExport"
    assert "422" in document["paths"]["/exports"]["post"]["responses"]
    assert document["paths"]["/exports/{export_job_id}"]["get"]["operationId"] == "getExport"
    assert set(document["components"]["schemas"]["Export"]["required"]) == EXPORT_KEYS
