"""Attendance certificates (培训证明) as PDF, made with WeasyPrint on request and kept in the file store.

The text is real text in the CJK font the machine provides (fonts-wqy-zenhei), so it can be selected,
searched and read by screen readers.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from babel.dates import format_date
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from crm.core.files import PDF, StoredFile, store_bytes_from
from crm.core.timeutil import local_date, local_today
from crm.events.emails import enterprise_locale
from crm.events.formatting import event_days
from crm.events.models import Registration
from crm.events.services import CERTIFICATE_OWNER, EventError
from crm.extensions import db

STYLESHEET = Path(__file__).with_name("certificate.css")


def certificate_number(registration: Registration) -> str:
    year = local_date(registration.event.starts_at).year
    return f"AEO-PX-{year}-{registration.event_id:05d}-{registration.id:06d}"


def render_certificate_pdf(registration: Registration, *, issued_on: Any = None) -> bytes:
    """The certificate of one checked-in attendee as PDF bytes."""
    from weasyprint import CSS, HTML  # imported here: loading WeasyPrint takes a moment

    event = registration.event
    locale = enterprise_locale()
    with force_locale(locale):
        html = render_template(
            "events/certificate.html",
            registration=registration,
            event=event,
            enterprise=registration.enterprise,
            period=event_days(event, locale),
            organisers="、".join(unit.name_zh for unit in event.organisers),
            topics=event.topics,
            number=registration.certificate_no or certificate_number(registration),
            issued_on=local_day_text(issued_on, locale),
        )
    return HTML(string=html, base_url=current_app.root_path).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])


def local_day_text(day: Any, locale: str) -> str:
    pattern = "yyyy年M月d日" if locale.startswith("zh") else "MMM d, yyyy"
    return format_date(day or local_today(), pattern, locale=locale)


def certificate_for(registration: Registration, *, by: Any = None) -> StoredFile:
    """The attendee's certificate: generated on first request, kept for later ones (and dropped by an undo)."""
    if not registration.is_checked_in:
        raise EventError(_("A certificate is issued only to attendees who checked in."))
    stored = registration.certificate_file
    if stored is not None and stored.path.exists():
        return stored
    if registration.certificate_no is None:
        registration.certificate_no = certificate_number(registration)
    pdf = render_certificate_pdf(registration)
    stored = store_bytes_from(
        io.BytesIO(pdf),
        filename=f"{_('Certificate of attendance')}-{registration.name}.pdf",
        kind=PDF,
        owner_type=CERTIFICATE_OWNER,
        owner_id=registration.id,
        enterprise_id=registration.enterprise_id,
        uploaded_by=by,
    )
    registration.certificate_file = stored
    db.session.flush()
    return stored
