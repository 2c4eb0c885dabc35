"""Registration-link tokens and check-in QR payloads.

A link token carries 256 random bits; only its SHA-256 is stored, so a database leak reveals no link. The
check-in payload names the registration and carries an HMAC of it under the application's secret key, so it
can be printed again on every visit to the confirmation page while nobody can forge another attendee's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets

from flask import current_app, has_request_context, url_for
from markupsafe import Markup
from sqlalchemy import select

from crm.auth.models import hash_token
from crm.events.models import Invitation
from crm.extensions import db

#: ``secrets.token_urlsafe(32)``: 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
PAYLOAD_PREFIX = "AEOEV1"
PAYLOAD_PATTERN = re.compile(rf"^{PAYLOAD_PREFIX}\.(\d{{1,12}})\.(\d{{1,12}})\.([A-Z2-7]{{26}})$")


def new_token() -> tuple[str, str]:
    """A fresh link token and its hash."""
    plain = secrets.token_urlsafe(32)
    return plain, hash_token(plain)


def find_invitation(token: str) -> Invitation | None:
    """The invitation a token opens, or None for anything that is not a current token."""
    if not token or not TOKEN_PATTERN.match(token):
        return None
    return db.session.scalars(select(Invitation).where(Invitation.token_hash == hash_token(token))).first()


def public_url(endpoint: str, **values) -> str:
    """An absolute URL when a request tells the host, else a path (for jobs and the CLI)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        with current_app.test_request_context():
            return url_for(endpoint, **values)


def invitation_link(token: str) -> str:
    return public_url("events_public.invitation", token=token)


def _signature(event_id: int, registration_id: int) -> str:
    key = hashlib.sha256(b"crm.events.checkin:" + current_app.config["SECRET_KEY"].encode()).digest()
    digest = hmac.new(key, f"{event_id}.{registration_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode().rstrip("=")


def checkin_payload(registration) -> str:
    """The text in a registration's QR code, e.g. ``AEOEV1.12.345.ABCD...``."""
    event_id, registration_id = registration.event_id, registration.id
    return f"{PAYLOAD_PREFIX}.{event_id}.{registration_id}.{_signature(event_id, registration_id)}"


def parse_checkin_payload(payload: str) -> tuple[int, int] | None:
    """(event id, registration id) of a genuine payload, None for anything else."""
    match = PAYLOAD_PATTERN.match((payload or "").strip())
    if match is None:
        return None
    event_id, registration_id, signature = int(match.group(1)), int(match.group(2)), match.group(3)
    if not hmac.compare_digest(signature, _signature(event_id, registration_id)):
        return None
    return event_id, registration_id


def qr_svg(payload: str, *, title: str = "", scale: int = 6) -> Markup:
    """The payload as an inline SVG QR code (no style attributes, so the CSP is satisfied)."""
    import segno

    buffer = io.BytesIO()
    segno.make(payload, error="m").save(
        buffer,
        kind="svg",
        scale=scale,
        border=2,
        xmldecl=False,
        svgns=True,
        omitsize=True,
        title=title or None,
        svgclass="qr-code",
        lineclass=None,
    )
    return Markup(buffer.getvalue().decode())


def qr_png(payload: str, *, scale: int = 8) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
