"""The API's JSON shapes of events, invitations, registrations and attendance."""

from __future__ import annotations

from typing import Any

from crm.core.models import json_value
from crm.events.models import Event, Invitation, Registration
from crm.events.queries import EventCounts


def serialize_event(event: Event, counts: EventCounts | None = None, materials: list | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event.id,
        "title": event.title,
        "kind": json_value(event.kind),
        "status": json_value(event.status),
        "starts_at": json_value(event.starts_at),
        "ends_at": json_value(event.ends_at),
        "venue": event.venue,
        "online_url": event.online_url or None,
        "capacity": event.capacity,
        "seats_per_enterprise": event.seats_per_enterprise,
        "registration_closes_at": json_value(event.registration_closes_at),
        "description": event.description,
        "organisers": [unit.code for unit in event.organisers],
        "topics": [{"id": item.id, "number": item.number, "title": item.title_zh} for item in event.topics],
        "cancel_reason": event.cancel_reason or None,
        "created_at": json_value(event.created_at),
        "updated_at": json_value(event.updated_at),
    }
    if counts is not None:
        body["counts"] = {
            "invited": counts.invited,
            "registered": counts.registered,
            "waitlisted": counts.waitlisted,
            "checked_in": counts.attendees_checked_in,
            "enterprises_registered": counts.enterprises_registered,
            "enterprises_attended": counts.enterprises_attended,
            "seats_taken": counts.seats_taken,
        }
    if materials is not None:
        body["materials"] = [{"id": f.id, "filename": f.filename, "size": f.size} for f in materials]
    return body


def serialize_invitation(invitation: Invitation) -> dict[str, Any]:
    active = [r for r in invitation.registrations if r.is_active]
    return {
        "id": invitation.id,
        "event_id": invitation.event_id,
        "enterprise_id": invitation.enterprise_id,
        "enterprise_name": invitation.enterprise.name,
        "source": json_value(invitation.source),
        "email": invitation.email or None,
        "invited_at": json_value(invitation.created_at),
        "link_issued_at": json_value(invitation.link_issued_at),
        "last_opened_at": json_value(invitation.last_opened_at),
        "revoked_at": json_value(invitation.revoked_at),
        "registrations": len(active),
        "attended": any(r.is_checked_in for r in invitation.registrations),
    }


def serialize_registration(registration: Registration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "event_id": registration.event_id,
        "invitation_id": registration.invitation_id,
        "enterprise_id": registration.enterprise_id,
        "enterprise_name": registration.enterprise.name,
        "name": registration.name,
        "role": registration.role,
        "mobile": registration.mobile,
        "email": registration.email or None,
        "status": json_value(registration.status),
        "registered_at": json_value(registration.created_at),
        "promoted_at": json_value(registration.promoted_at),
        "cancelled_at": json_value(registration.cancelled_at),
        "checked_in_at": json_value(registration.checked_in_at),
        "check_in_method": json_value(registration.check_in_method),
        "certificate_no": registration.certificate_no,
    }
