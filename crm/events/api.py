"""Events API: ``/api/v1/events`` with invitations, registrations and attendance (described in openapi.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import (
    api_page_args,
    as_id,
    as_int,
    id_list,
    is_choice,
    json_body,
    paginated_response,
    query_choice,
    query_date,
)
from crm.core.pagination import paginate
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.security import MAX_URL_INTEGER
from crm.core.timeutil import local_tz
from crm.events import queries, services
from crm.events.access import get_event_or_404, get_registration_or_404, scoped_registrations
from crm.events.models import (
    CheckInMethod,
    Event,
    EventKind,
    EventStatus,
    InvitationSource,
    Registration,
    RegistrationStatus,
)
from crm.events.serializers import serialize_event, serialize_invitation, serialize_registration
from crm.events.services import EventError, EventValidationError
from crm.events.tokens import invitation_link
from crm.extensions import db
from crm.reference.models import RecommendingUnit
from crm.standards.models import StandardItem

bp = Blueprint("events_api", __name__, url_prefix="/events")

TEXT_FIELDS = ("title", "venue", "online_url", "description")
#: The statuses a PATCH may move an event to (the current one is accepted too, and changes nothing).
STATUS_MOVES = (EventStatus.PUBLISHED.value, EventStatus.FINISHED.value, EventStatus.CANCELLED.value)
PATCHABLE = frozenset(
    {*TEXT_FIELDS, "kind", "starts_at", "ends_at", "registration_closes_at", "capacity", "seats_per_enterprise"}
    | {"organisers", "topics"}
)


def _event(event_id: int, *, manage: bool = False) -> Event:
    return get_event_or_404(event_id, manage=manage)


def _detail(event: Event) -> dict[str, Any]:
    return serialize_event(event, queries.event_counts([event.id])[event.id], services.event_materials(event))


def _parse_instant(value: Any, name: str, errors: dict[str, list[str]]) -> datetime | None:
    """An ISO 8601 date-time (null for none); without an offset it is read in the CRM's time zone (Asia/Shanghai)."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=local_tz())
        parsed.astimezone(UTC)  # stored in UTC: the first and last days of the calendar do not convert
    except (ValueError, OverflowError):
        errors.setdefault(name, []).append(_("Use a date-time such as 2026-05-20T09:30:00+08:00."))
        return None
    return parsed


def _parse_count(value: Any, name: str, errors: dict[str, list[str]]) -> int | None:
    if value is None:
        return None
    number = as_int(value)
    if number is None or not 1 <= number <= MAX_URL_INTEGER:
        errors.setdefault(name, []).append(_("Use a whole number from 1, or null for no limit."))
        return None
    return number


def _event_values(data: dict[str, Any], event: Event | None = None) -> services.EventValues:
    """Read an event body (a full one to create, any subset to patch) into values; 422 on unreadable fields."""
    errors: dict[str, list[str]] = {}

    def current(name: str, default: Any = None) -> Any:
        return data[name] if name in data else (getattr(event, name) if event is not None else default)

    texts = {}
    for name in TEXT_FIELDS:
        value = current(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors.setdefault(name, []).append(_("Use a string."))
            value = ""
        texts[name] = value
    kind_value = current("kind")
    kind = None
    try:
        kind = EventKind(kind_value.value if isinstance(kind_value, EventKind) else kind_value)
    except ValueError:
        errors.setdefault("kind", []).append(_("Use one of: %(values)s.", values=", ".join(k.value for k in EventKind)))
    instants = {}
    for name in ("starts_at", "ends_at", "registration_closes_at"):
        if name in data:
            instants[name] = _parse_instant(data[name], name, errors)
        else:
            instants[name] = getattr(event, name) if event is not None else None
        if name != "registration_closes_at" and instants[name] is None and name not in errors:
            errors.setdefault(name, []).append(_("This field is required."))
    counts = {}
    for name in ("capacity", "seats_per_enterprise"):
        counts[name] = _parse_count(data[name], name, errors) if name in data else current(name)
    if "organisers" in data:
        codes = data["organisers"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            errors.setdefault("organisers", []).append(_("Use a list of organising unit codes."))
            organisers = []
        else:
            found = {
                u.code: u for u in db.session.scalars(select(RecommendingUnit).where(RecommendingUnit.code.in_(codes)))
            }
            unknown = [c for c in codes if c not in found]
            if unknown:
                errors.setdefault("organisers", []).append(_("Unknown unit codes: %(codes)s", codes=", ".join(unknown)))
            organisers = [found[c] for c in codes if c in found]
    else:
        organisers = list(event.organisers) if event is not None else []
    if "topics" in data:
        ids = [] if data["topics"] == [] else id_list(data["topics"])
        if ids is None:
            errors.setdefault("topics", []).append(_("Use a list of standard item ids."))
            topics = []
        else:
            found_items = {i.id: i for i in db.session.scalars(select(StandardItem).where(StandardItem.id.in_(ids)))}
            unknown_ids = [str(i) for i in ids if i not in found_items]
            if unknown_ids:
                errors.setdefault("topics", []).append(_("Unknown item ids: %(ids)s", ids=", ".join(unknown_ids)))
            topics = [found_items[i] for i in ids if i in found_items]
    else:
        topics = list(event.topics) if event is not None else []
    if errors:
        raise validation_error(errors)
    return services.EventValues(
        title=texts["title"],
        kind=kind,
        starts_at=instants["starts_at"],
        ends_at=instants["ends_at"],
        organisers=organisers,
        venue=texts["venue"],
        online_url=texts["online_url"].strip(),
        capacity=counts["capacity"],
        seats_per_enterprise=counts["seats_per_enterprise"],
        registration_closes_at=instants["registration_closes_at"],
        description=texts["description"],
        topics=topics,
    )


# --- events -----------------------------------------------------------------------------------------------


@bp.get("")
def list_events():
    errors: dict[str, list[str]] = {}
    filters: dict[str, Any] = {key: request.args.get(key, "").strip() for key in ("q", "organiser")}
    filters["status"] = query_choice("status", [s.value for s in EventStatus], errors)
    filters["kind"] = query_choice("kind", [k.value for k in EventKind], errors)
    filters["period"] = query_choice("period", ["upcoming", "past"], errors)
    filters["from"] = query_date("from", errors)
    filters["to"] = query_date("to", errors)
    if errors:
        raise validation_error(errors)
    page, per_page = api_page_args()
    result = paginate(queries.event_list(filters), page, per_page)
    counts = queries.event_counts([e.id for e in result.items])
    return jsonify(
        {
            "items": [serialize_event(e, counts[e.id]) for e in result.items],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
        }
    )


@bp.post("")
@permission_required(Permission.EDIT)
def create_event():
    values = _event_values(json_body())
    try:
        event = services.create_event(values, by=current_user)
    except EventValidationError as exc:
        db.session.rollback()
        raise validation_error(exc.fields) from None
    db.session.commit()
    return jsonify(_detail(event)), 201


@bp.get("/<int:event_id>")
def get_event(event_id: int):
    return jsonify(_detail(_event(event_id)))


@bp.patch("/<int:event_id>")
@permission_required(Permission.EDIT)
def update_event(event_id: int):
    """Change fields, and/or move the status: ``published``, ``finished``, or ``cancelled`` with ``cancel_reason``."""
    event = _event(event_id, manage=True)
    data = json_body()
    status = data.pop("status", None) if "status" in data else event.status.value
    reason = data.pop("cancel_reason", "")
    errors = {name: [_("Unknown field.")] for name in sorted(set(data) - PATCHABLE)}
    if not is_choice(status, [event.status.value, *STATUS_MOVES]):
        errors["status"] = [_("Use published, finished or cancelled.")]
    if not isinstance(reason, str):
        errors["cancel_reason"] = [_("Use a string.")]
    if errors:
        raise validation_error(errors)
    try:
        if data:
            services.update_event(event, _event_values(data, event), by=current_user)
        if status != event.status.value:
            if status == EventStatus.PUBLISHED.value:
                services.publish_event(event, by=current_user)
            elif status == EventStatus.FINISHED.value:
                services.finish_event(event, by=current_user)
            else:
                services.cancel_event(event, by=current_user, reason=reason)
    except EventValidationError as exc:
        db.session.rollback()
        raise validation_error(exc.fields) from None
    except EventError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    except ApiError:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify(_detail(event))


# --- invitations ------------------------------------------------------------------------------------------


@bp.get("/<int:event_id>/invitations")
def list_invitations(event_id: int):
    event = _event(event_id)
    errors: dict[str, list[str]] = {}
    filters = {
        "q": request.args.get("q", ""),
        "state": query_choice("state", ["registered", "not_registered", "revoked"], errors),
    }
    if errors:
        raise validation_error(errors)
    return paginated_response(queries.invitation_list(event, filters), serialize_invitation)


@bp.post("/<int:event_id>/invitations")
@permission_required(Permission.EDIT)
def create_invitations(event_id: int):
    """Invite enterprises by id (one, a filter's result, or a cohort's members); the new links are returned once."""
    event = _event(event_id, manage=True)
    data = json_body()
    ids = id_list(data.get("enterprise_ids"))
    errors: dict[str, list[str]] = {}
    if ids is None:
        errors["enterprise_ids"] = [_("Use a non-empty list of enterprise ids.")]
    source = data.get("source", InvitationSource.API.value)
    if not is_choice(
        source, [InvitationSource.API.value, InvitationSource.COHORT.value, InvitationSource.FILTER.value]
    ):
        errors["source"] = [_("Use api, cohort or filter.")]
    send_email = data.get("send_email", True)
    if not isinstance(send_email, bool):
        errors["send_email"] = [_("Use true or false.")]
    if errors:
        raise validation_error(errors)
    try:
        result = services.invite_enterprises(
            event, ids, by=current_user, source=InvitationSource(source), send_email=send_email
        )
    except EventError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    db.session.commit()
    return jsonify(
        {
            "created": result.created,
            "already_invited": result.already_invited,
            "out_of_scope": result.out_of_scope,
            "invitations": [
                serialize_invitation(link.invitation)
                | {"registration_url": invitation_link(link.token), "emailed": link.emailed}
                for link in result.issued
            ],
        }
    ), 201


# --- registrations ----------------------------------------------------------------------------------------


@bp.get("/<int:event_id>/registrations")
def list_registrations(event_id: int):
    event = _event(event_id)
    errors: dict[str, list[str]] = {}
    statuses = [*(s.value for s in RegistrationStatus), "checked_in", "not_checked_in"]
    filters = {"q": request.args.get("q", ""), "status": query_choice("status", statuses, errors)}
    if errors:
        raise validation_error(errors)
    return paginated_response(queries.registration_list(event, filters), serialize_registration)


@bp.post("/<int:event_id>/registrations")
@permission_required(Permission.EDIT)
def create_registration(event_id: int):
    """Register an attendee directly (staff): ``enterprise_id`` (invited now if it was not), name, role, mobile."""
    event = _event(event_id, manage=True)
    data = json_body()
    errors: dict[str, list[str]] = {}
    enterprise_id = as_id(data.get("enterprise_id"))
    if enterprise_id is None:
        errors["enterprise_id"] = [_("This field is required.")]
    strings = {}
    for name in ("name", "role", "mobile", "email"):
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors.setdefault(name, []).append(_("Use a string."))
            value = ""
        strings[name] = value
    attendee = services.Attendee(strings["name"], strings["role"], strings["mobile"], strings["email"])
    errors.update(services.attendee_errors(attendee))
    if errors:
        raise validation_error(errors)
    enterprise = get_enterprise_or_404(enterprise_id)
    try:
        invitation = services.ensure_invitation(event, enterprise, by=current_user)
        registration = services.register_attendee(invitation, attendee, by=current_user)
    except EventValidationError as exc:
        db.session.rollback()
        raise validation_error(exc.fields) from None
    except EventError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    db.session.commit()
    return jsonify(serialize_registration(registration)), 201


@bp.get("/<int:event_id>/registrations/<int:registration_id>")
def get_registration(event_id: int, registration_id: int):
    event = _event(event_id)
    return jsonify(serialize_registration(get_registration_or_404(event, registration_id)))


@bp.post("/<int:event_id>/registrations/<int:registration_id>/cancel")
@permission_required(Permission.EDIT)
def cancel_registration(event_id: int, registration_id: int):
    event = _event(event_id, manage=True)
    registration = get_registration_or_404(event, registration_id)
    try:
        promoted = services.cancel_registration(registration, by=current_user)
    except EventError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    db.session.commit()
    return jsonify(serialize_registration(registration) | {"promoted": [r.id for r in promoted]})


# --- attendance -------------------------------------------------------------------------------------------


@bp.get("/<int:event_id>/attendance")
def attendance(event_id: int):
    """Attendance per enterprise (in scope)."""
    event = _event(event_id)
    page, per_page = api_page_args()
    result = paginate(queries.attendance_by_enterprise(event), page, per_page, scalars=False)
    return jsonify(
        {
            "items": [
                {
                    "enterprise_id": row.enterprise_id,
                    "enterprise_name": row.name,
                    "registered": row.registered,
                    "attended": row.attended,
                    "first_check_in": row.first_check_in.isoformat() if row.first_check_in else None,
                }
                for row in result.items
            ],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
        }
    )


def _outcome(outcome: services.CheckInOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "admitted_from_waitlist": outcome.admitted_from_waitlist,
        "completed_task_ids": [t.id for t in outcome.completed_tasks],
        "registration": serialize_registration(outcome.registration),
    }


@bp.post("/<int:event_id>/attendance")
@permission_required(Permission.EDIT)
def check_in(event_id: int):
    """Check in by ``registration_id``, by ``registration_ids`` (bulk) or by a scanned QR ``payload``."""
    event = _event(event_id, manage=True)
    data = json_body()
    outcomes = []
    try:
        if "payload" in data:
            if not isinstance(data["payload"], str):
                raise validation_error({"payload": [_("Use a string.")]})
            outcomes.append(services.check_in_by_payload(event, data["payload"], by=current_user))
        else:
            ids = data.get("registration_ids")
            if ids is None and "registration_id" in data:
                ids = [data["registration_id"]]
            ids = id_list(ids)
            if ids is None:
                raise validation_error({"registration_ids": [_("Use a non-empty list of registration ids.")]})
            method = CheckInMethod.API
            registrations = db.session.scalars(
                scoped_registrations()
                .where(Registration.event_id == event.id, Registration.id.in_(ids))
                .options(selectinload(Registration.enterprise))
            ).all()
            if len(registrations) != len(set(ids)):
                raise ApiError(404, _("No registration of this event matches some of the ids."), code="not_found")
            for registration in registrations:
                outcomes.append(services.check_in(registration, by=current_user, method=method))
    except EventError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    except ApiError:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify({"items": [_outcome(o) for o in outcomes]})


@bp.delete("/<int:event_id>/attendance/<int:registration_id>")
@permission_required(Permission.EDIT)
def undo_check_in(event_id: int, registration_id: int):
    event = _event(event_id, manage=True)
    registration = get_registration_or_404(event, registration_id)
    services.undo_check_in(registration, by=current_user)
    db.session.commit()
    return jsonify(serialize_registration(registration))


@bp.get("/statistics")
@permission_required(Permission.REPORTS)
def statistics():
    """Events held and enterprises invited, registered and attended, in total, by area, topic and kind."""
    errors: dict[str, list[str]] = {}
    date_from = query_date("from", errors)
    date_to = query_date("to", errors)
    if errors:
        raise validation_error(errors)
    stats = queries.statistics(date_from=date_from, date_to=date_to)

    def row(r: queries.StatRow, key: Any) -> dict[str, Any]:
        return {
            "key": key,
            "label": r.label,
            "events": r.events,
            "invited": r.invited,
            "registered": r.registered,
            "attended": r.attended,
        }

    return jsonify(
        {
            "events_held": stats.events_held,
            "events_upcoming": stats.events_upcoming,
            "enterprises_invited": stats.totals.invited,
            "enterprises_registered": stats.totals.registered,
            "enterprises_attended": stats.totals.attended,
            "by_area": [row(r, r.key.code if r.key else None) for r in stats.by_area],
            "by_topic": [row(r, r.key.id if r.key else None) for r in stats.by_topic],
            "by_kind": [row(r, r.key.value) for r in stats.by_kind],
        }
    )
