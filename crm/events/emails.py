"""Mail and in-app notifications about events, queued in the outbox (delivered after the commit).

Enterprises read their mail in the CRM's default language (Simplified Chinese unless configured otherwise),
whatever language the staff member who caused it uses.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from jinja2 import TemplateNotFound
from sqlalchemy import select

from crm.core.files import PNG, store_bytes_from
from crm.events.formatting import event_period, event_place
from crm.events.tokens import checkin_payload, invitation_link, qr_png, qr_svg
from crm.extensions import db
from crm.notifications.models import OutboxMessage
from crm.notifications.services import notify, queue_email


def enterprise_locale() -> str:
    return current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")


def path_for(endpoint: str, **values: Any) -> str:
    """A site-relative URL, inside or outside a request."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def staff_event_path(event) -> str:
    return path_for("events.detail", event_id=event.id)


def _context(event, locale: str) -> dict[str, Any]:
    return {
        "event": event,
        "period": event_period(event, locale),
        "place": event_place(event),
        "organisers": "、".join(unit.name_zh for unit in event.organisers),
    }


def _render(name: str, **context: Any) -> tuple[str, str | None]:
    text = render_template(f"events/email/{name}.txt", **context)
    try:
        html = render_template(f"events/email/{name}.html", **context)
    except TemplateNotFound:  # a plain-text message
        html = None
    return text, html


def _recipients(*addresses: str) -> list[str]:
    return list(dict.fromkeys(a.strip() for a in addresses if a and a.strip()))


def send_invitation(invitation, token: str) -> None:
    """The invitation with the enterprise's personal link."""
    locale = enterprise_locale()
    with force_locale(locale):
        context = _context(invitation.event, locale) | {
            "enterprise": invitation.enterprise,
            "link": invitation_link(token),
        }
        subject = _("Invitation: %(title)s", title=invitation.event.title)
        text, html = _render("invitation", **context)
    queue_email(invitation.email, subject, text, body_html=html)


def _qr_attachment(registration, payload: str):
    return store_bytes_from(
        io.BytesIO(qr_png(payload)),
        filename=f"check-in-{registration.id}.png",
        kind=PNG,
        owner_type="event_registration_qr",
        owner_id=registration.id,
        enterprise_id=registration.enterprise_id,
    )


def _send_registration_mail(registration, *, kind: str, link: str | None = None) -> None:
    from crm.events.models import RegistrationStatus

    invitation = registration.invitation
    addresses = _recipients(registration.email, invitation.email)
    if not addresses:
        return
    locale = enterprise_locale()
    registered = registration.status == RegistrationStatus.REGISTERED
    payload = checkin_payload(registration) if registered else None
    with force_locale(locale):
        context = _context(registration.event, locale) | {
            "registration": registration,
            "enterprise": invitation.enterprise,
            "kind": kind,
            "registered": registered,
            "link": link,
            "qr": qr_svg(payload, title=registration.name) if payload else None,
        }
        if kind == "promoted":
            subject = _("A seat is now yours: %(title)s", title=registration.event.title)
        elif registered:
            subject = _("Registration confirmed: %(title)s", title=registration.event.title)
        else:
            subject = _("On the waiting list: %(title)s", title=registration.event.title)
        text, html = _render("registration", **context)
    attachments = [_qr_attachment(registration, payload)] if payload else []
    for address in addresses:
        queue_email(address, subject, text, body_html=html, attachments=attachments)


def send_registration_confirmation(registration, *, link: str | None = None) -> None:
    _send_registration_mail(registration, kind="registered", link=link)


def send_promotion(registration) -> None:
    _send_registration_mail(registration, kind="promoted")


def _mail_attendees(registrations: Iterable, name: str, subject: str, **extra: Any) -> None:
    sent: set[str] = set()
    locale = enterprise_locale()
    for registration in registrations:
        for address in _recipients(registration.email, registration.invitation.email):
            if address in sent:
                continue
            sent.add(address)
            with force_locale(locale):
                context = _context(registration.event, locale) | {"enterprise": registration.invitation.enterprise}
                text, html = _render(name, **context, **extra)
            queue_email(address, subject, text, body_html=html)


def send_event_changed(event, registrations: Iterable) -> None:
    with force_locale(enterprise_locale()):
        subject = _("Changed time or place: %(title)s", title=event.title)
    _mail_attendees(registrations, "event_changed", subject)


def send_event_cancelled(event, registrations: Iterable) -> None:
    with force_locale(enterprise_locale()):
        subject = _("Cancelled: %(title)s", title=event.title)
    _mail_attendees(registrations, "event_cancelled", subject)


def _already_queued(dedupe_key: str) -> bool:
    return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None


def notify_event_full(event) -> None:
    """Tell the event's creator (in the CRM) that the seats are taken; once per event."""
    if event.created_by is None:
        return
    key = f"event-full:{event.id}"
    if _already_queued(key):
        return
    notify(
        event.created_by,
        _("Every seat is taken: %(title)s", title=event.title),
        _("New registrations join the waiting list."),
        url=staff_event_path(event),
        dedupe_key=key,
    )


def notify_task_completed(task, event) -> None:
    key = f"event-task:{event.id}:{task.id}"
    if _already_queued(key):
        return
    notify(
        task.owner,
        _("Task completed by training attendance: %(title)s", title=task.title),
        _("The enterprise attended “%(event)s”.", event=event.title),
        url=staff_event_path(event),
        dedupe_key=key,
    )


def task_completion_note(event) -> str:
    """The completion note of a plan task completed by attending the event (always in the default language)."""
    with force_locale(enterprise_locale()):
        return _(
            "Completed by attending the training event “%(title)s” (%(url)s).",
            title=event.title,
            url=staff_event_path(event),
        )
