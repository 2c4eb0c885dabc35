"""One transition service behind every entry point: the form, the board's JSON move, the API and the bulk move
give the same answer for the same move."""

from __future__ import annotations

import pytest

from crm.extensions import db
from crm.pipeline.models import StageChange


def via_form(client, enterprise, body, headers):
    to = body.pop("to")
    response = client.post_form(f"/pipeline/enterprises/{enterprise.id}/move/{to}", body)
    return response.status_code == 302, response.get_data(as_text=True)


def via_board(client, enterprise, body, headers):
    response = client.post(
        f"/pipeline/enterprises/{enterprise.id}/transitions", json=body, headers={"X-CSRFToken": client.csrf_token()}
    )
    return response.status_code == 200, (response.get_json() or {}).get("message", "")


def via_api(client, enterprise, body, headers):
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/transitions", json=body, headers=headers)
    return response.status_code == 200, (response.get_json().get("error") or {}).get("message", "")


def via_bulk(client, enterprise, body, headers):
    data = {"enterprise_ids": [enterprise.id], "step": "confirm", **body}
    response = client.post_form("/pipeline/bulk-move", data)
    text = response.get_data(as_text=True)
    moved = "已移动：1 家" in text
    return moved, text


ENTRY_POINTS = [via_form, via_board, via_api, via_bulk]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_owners_guard_everywhere(client, owners, in_stage, api_token, entry):
    commerce, _customs = owners
    headers = api_token(commerce)
    client.login(commerce)
    unowned = in_stage("pooled", owned=False)
    moved, text = entry(client, unowned, {"to": "cultivating"}, headers)
    assert not moved and "请先指定负责跟进该企业的商务部门人员" in text
    assert unowned.stage == "pooled"
    owned = in_stage("pooled")
    moved, _text = entry(client, owned, {"to": "cultivating"}, headers)
    assert moved and owned.stage == "cultivating"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_decision_data_guard_everywhere(client, owners, in_stage, api_token, entry):
    commerce, _customs = owners
    headers = api_token(commerce)
    client.login(commerce)
    enterprise = in_stage("in_certification")
    moved, text = entry(client, enterprise, {"to": "certified", "decided_on": "2026-03-10"}, headers)
    assert not moved and "请填写证书或决定书编号" in text and enterprise.stage == "in_certification"
    body = {
        "to": "certified",
        "accepted_on": "2026-01-05",  # leaving in_certification needs it; none was recorded for this enterprise
        "decided_on": "2026-03-10",
        "certificate_no": "厦关企认〔2026〕5号",
        "tier": "aeo",
    }
    moved, _text = entry(client, enterprise, body, headers)
    assert moved and enterprise.stage == "certified"
    change = db.session.scalars(db.select(StageChange).where(StageChange.enterprise_id == enterprise.id)).one()
    assert change.data == {
        "accepted_on": "2026-01-05",
        "decided_on": "2026-03-10",
        "certificate_no": "厦关企认〔2026〕5号",
        "tier": "aeo",
    }
