"""Attendance certificates: PDF with real (selectable) text, only for attendees who checked in."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from crm.events.certificates import certificate_for
from crm.events.models import EventStatus
from crm.events.services import Attendee, EventError, check_in, register_attendee, undo_check_in
from crm.extensions import db


class _Staff:
    id = None


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.fixture
def attendee(make_event, make_enterprise, invite):
    event = make_event(title="贸易安全标准专题培训", starts_in=-timedelta(hours=2), status=EventStatus.PUBLISHED)
    enterprise = make_enterprise(area="350500", office="xm-quanzhou", name="泉州鸿信鞋业进出口有限公司")
    invitation, token = invite(event, enterprise)
    registration = register_attendee(invitation, Attendee("王小明", "关务经理", "13800138000"), by=_Staff())
    db.session.commit()
    return registration, token


def test_the_certificate_names_the_enterprise_as_text(attendee):
    registration, _token = attendee
    with pytest.raises(EventError):
        certificate_for(registration)  # not checked in yet
    check_in(registration, by=None)
    stored = certificate_for(registration)
    db.session.commit()
    pdf = stored.path.read_bytes()
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "泉州鸿信鞋业进出口有限公司" in text
    assert "王小明" in text and "贸易安全标准专题培训" in text
    assert registration.certificate_no and registration.certificate_no in text
    # A second request serves the same file; undoing the check-in withdraws it.
    assert certificate_for(registration).id == stored.id
    undo_check_in(registration)
    assert registration.certificate_file is None


def test_the_enterprise_downloads_it_through_its_link(client, attendee):
    registration, token = attendee
    url = f"/e/{token}/registrations/{registration.id}/certificate.pdf"
    assert client.get(url).status_code == 302  # not checked in: back to the page with a message
    check_in(registration, by=None)
    db.session.commit()
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "泉州鸿信鞋业进出口有限公司" in _text(response.data)
    response.close()


def test_staff_download_it_within_their_scope(client, attendee, make_user):
    registration, _token = attendee
    check_in(registration, by=None)
    db.session.commit()
    url = f"/events/{registration.event_id}/registrations/{registration.id}/certificate.pdf"
    client.login(make_user("bureau", areas=["350500"]))
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    response.close()
    client.login(make_user("bureau", areas=["350200"]))
    assert client.get(url).status_code == 404
