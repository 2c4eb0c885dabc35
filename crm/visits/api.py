"""Visit API: ``POST /api/v1/enterprises/<id>/visits``, ``GET /api/v1/visits``, ``GET/PATCH /api/v1/visits/<id>``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import as_id, json_body, paginated_response, parse_date
from crm.auth.models import User
from crm.core.models import json_value
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.timeutil import local_tz
from crm.enterprises.models import Contact, Enterprise
from crm.extensions import db
from crm.standards.models import Judgement, StandardItem
from crm.standards.services import current_version
from crm.visits import queries, services
from crm.visits.models import Visit, VisitFinding, VisitKind, VisitStatus
from crm.visits.services import Finding, FollowUp, VisitData

bp = Blueprint("visits_api", __name__)

LIST_FILTERS = ("officer", "area", "office", "enterprise", "status", "kind")


@bp.post("/enterprises/<int:enterprise_id>/visits")
@permission_required(Permission.EDIT)
def create_visit(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    body = _body()
    data = read_visit(body, enterprise, visit=None)
    try:
        outcome = services.create_visit(enterprise, data, by=current_user)
    except services.VisitError as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from None
    db.session.commit()
    response = jsonify(serialize_visit(outcome.visit, warnings=_warnings(outcome)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.visits_api.get_visit", visit_id=outcome.visit.id)
    return response


@bp.get("/visits")
def list_visits():
    filters: dict[str, Any] = {key: request.args.get(key, "").strip() for key in LIST_FILTERS}
    errors: dict[str, list[str]] = {}
    filters["from"] = parse_date(request.args.get("from"), "from", errors)
    filters["to"] = parse_date(request.args.get("to"), "to", errors)
    if filters["status"] and filters["status"] not in VisitStatus._value2member_map_:
        errors.setdefault("status", []).append(_("Unknown status."))
    if filters["kind"] and filters["kind"] not in VisitKind._value2member_map_:
        errors.setdefault("kind", []).append(_("Unknown kind of visit."))
    if filters["enterprise"] and not (filters["enterprise"].isdigit() and as_id(int(filters["enterprise"]))):
        errors.setdefault("enterprise", []).append(_("Give the enterprise's id."))
    if errors:
        raise ApiError(400, _("The request has invalid parameters."), code="invalid_parameters", fields=errors)
    stmt = queries.visit_list(filters).options(
        selectinload(Visit.contacts),
        selectinload(Visit.items),
        selectinload(Visit.findings).selectinload(VisitFinding.item),
    )
    return paginated_response(stmt, lambda visit: serialize_visit(visit, full=False))


@bp.get("/visits/<int:visit_id>")
def get_visit(visit_id: int):
    return jsonify(serialize_visit(queries.get_visit_or_404(visit_id)))


@bp.patch("/visits/<int:visit_id>")
@permission_required(Permission.EDIT)
def update_visit(visit_id: int):
    visit = queries.get_visit_or_404(visit_id)
    body = _body()
    if body.get("status") == VisitStatus.CANCELLED.value:
        if set(body) - {"status", "cancel_reason"}:
            raise validation_error({"status": [_("Cancel a visit with its reason only, changing nothing else.")]})
        reason = body.get("cancel_reason")
        if reason is not None and not isinstance(reason, str):
            raise validation_error({"cancel_reason": [_("Give a text.")]})
        try:
            services.cancel_visit(visit, reason=reason or "", by=current_user)
        except services.VisitError as exc:
            db.session.rollback()
            raise validation_error(exc.errors) from None
        db.session.commit()
        return jsonify(serialize_visit(visit))
    data = read_visit(body, visit.enterprise, visit=visit)
    try:
        if visit.status == VisitStatus.PLANNED and data.status == VisitStatus.DONE:
            outcome = services.log_visit(visit, data, by=current_user)
        else:
            outcome = services.update_visit(visit, data, by=current_user)
    except services.VisitError as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from None
    db.session.commit()
    return jsonify(serialize_visit(visit, warnings=_warnings(outcome)))


def _body() -> dict[str, Any]:
    return json_body()


def _warnings(outcome: services.VisitOutcome) -> list[str]:
    warnings = list(outcome.judgement_problems)
    if outcome.pending_follow_ups:
        warnings.insert(
            0,
            _(
                "The enterprise has no active cultivation plan, so %(n)s follow-ups were kept with the visit. "
                "Turn them into tasks from the visit once a plan is in force.",
                n=outcome.pending_follow_ups,
            ),
        )
    return warnings


# --- reading a body -------------------------------------------------------------------------------------


FIELDS = {
    "status",
    "kind",
    "starts_at",
    "duration_minutes",
    "location",
    "officer",
    "participants",
    "contacts",
    "attendee_names",
    "items",
    "free_topics",
    "summary",
    "requests",
    "next_visit_on",
    "plan_next",
    "problems",
    "follow_ups",
}


class _Reader:
    """Reads a JSON body into ``VisitData``, collecting every field error before answering 422."""

    def __init__(self, enterprise: Enterprise):
        self.enterprise = enterprise
        self.errors: dict[str, list[str]] = {}
        self._items: dict[int, StandardItem] | None = None

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, body: dict, name: str, default: str = "") -> str:
        value = body.get(name, default)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.error(name, _("Give a text."))
            return default
        return value

    def texts(self, body: dict, name: str) -> list[str]:
        value = body.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(name, _("Give a list of texts."))
            return []
        return [v.strip() for v in value if v.strip()]

    def user(self, username: Any, name: str) -> User | None:
        if not isinstance(username, str) or not username.strip():
            self.error(name, _("Give a username."))
            return None
        user = db.session.scalars(select(User).where(User.username == username.strip())).first()
        if user is None or not user.is_active:
            self.error(name, _("No active user %(name)s.", name=username))
            return None
        return user

    def contact(self, value: Any, name: str) -> Contact | None:
        contact_id = as_id(value) if isinstance(value, int) and not isinstance(value, bool) else None
        contact = db.session.get(Contact, contact_id) if contact_id is not None else None
        if contact is None or contact.enterprise_id != self.enterprise.id:
            self.error(name, _("Contact %(id)s is not a contact of this enterprise.", id=value))
            return None
        return contact

    def items(self, value: Any, name: str) -> list[StandardItem]:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.error(name, _("Give a list of item numbers."))
            return []
        known = self.known_items()
        result = []
        for number in value:
            if number not in known:
                self.error(name, _("The standard in force has no item %(number)s.", number=number))
            else:
                result.append(known[number])
        return result

    def known_items(self) -> dict[int, StandardItem]:
        if self._items is None:
            version = current_version(self.enterprise.target_tier)
            self._items = (
                {
                    i.number: i
                    for i in db.session.scalars(select(StandardItem).where(StandardItem.version_id == version.id))
                }
                if version is not None
                else {}
            )
        return self._items

    def starts_at(self, value: Any) -> datetime | None:
        if not isinstance(value, str):
            self.error("starts_at", _("Give the date and time, e.g. 2026-05-06T09:30:00+08:00."))
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.error("starts_at", _("Give the date and time, e.g. 2026-05-06T09:30:00+08:00."))
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=local_tz())


def read_visit(body: dict[str, Any], enterprise: Enterprise, *, visit: Visit | None) -> VisitData:
    """A JSON body as ``VisitData``: all fields for a new visit, the given ones over the visit for a PATCH."""
    reader = _Reader(enterprise)
    unknown = sorted(set(body) - FIELDS - {"cancel_reason"})
    for name in unknown:
        reader.error(name, _("Unknown field."))
    data = _data_of(visit) if visit is not None else None

    def present(name: str) -> bool:
        return name in body

    status_value = body.get("status", VisitStatus.DONE.value if visit is None else visit.status.value)
    if status_value not in (VisitStatus.PLANNED.value, VisitStatus.DONE.value):
        reader.error("status", _("Use planned or done."))
        status = VisitStatus.DONE
    else:
        status = VisitStatus(status_value)
    kind_value = body.get("kind", VisitKind.ONSITE.value if visit is None else visit.kind.value)
    if not isinstance(kind_value, str) or kind_value not in VisitKind._value2member_map_:
        reader.error("kind", _("Unknown kind of visit."))
        kind = VisitKind.ONSITE
    else:
        kind = VisitKind(kind_value)
    if visit is None and not present("starts_at"):
        reader.error("starts_at", _("This field is required."))
        starts_at = None
    elif present("starts_at"):
        starts_at = reader.starts_at(body["starts_at"])
    else:
        starts_at = visit.starts_at
    duration = body.get("duration_minutes", 60 if visit is None else visit.duration_minutes)
    if not isinstance(duration, int) or isinstance(duration, bool):
        reader.error("duration_minutes", _("Give a whole number of minutes."))
        duration = 60
    if present("officer"):
        officer = reader.user(body["officer"], "officer")
    elif visit is not None:
        officer = visit.officer
    else:
        officer = current_user._get_current_object()
    participants = data.participants if data is not None else []
    if present("participants"):
        value = body["participants"]
        if not isinstance(value, list):
            reader.error("participants", _("Give a list of usernames."))
        else:
            participants = [u for u in (reader.user(v, "participants") for v in value) if u is not None]
    contacts = data.contacts if data is not None else []
    if present("contacts"):
        value = body["contacts"]
        if not isinstance(value, list):
            reader.error("contacts", _("Give a list of contact ids."))
        else:
            contacts = [c for c in (reader.contact(v, "contacts") for v in value) if c is not None]
    items = data.items if data is not None else []
    if present("items"):
        items = reader.items(body["items"], "items")
    next_visit_on = data.next_visit_on if data is not None else None
    if present("next_visit_on"):
        next_visit_on = parse_date(body["next_visit_on"], "next_visit_on", reader.errors)
    findings = None
    if present("problems") or visit is None:
        findings = _read_problems(reader, body.get("problems") or [])
    follow_ups = _read_follow_ups(reader, body.get("follow_ups") or [])
    result = VisitData(
        status=status,
        kind=kind,
        starts_at=starts_at or datetime.now(local_tz()),
        officer=officer,
        participants=participants,
        duration_minutes=duration,
        location=reader.text(body, "location", data.location if data else ""),
        contacts=contacts,
        attendee_names=reader.texts(body, "attendee_names")
        if present("attendee_names")
        else (data.attendee_names if data else []),
        items=items,
        free_topics=reader.texts(body, "free_topics") if present("free_topics") else (data.free_topics if data else []),
        summary=reader.text(body, "summary", data.summary if data else ""),
        requests=reader.text(body, "requests", data.requests if data else ""),
        next_visit_on=next_visit_on,
        findings=findings,
        follow_ups=follow_ups,
        plan_next=bool(body.get("plan_next", False)),
    )
    if reader.errors:
        raise validation_error(reader.errors)
    return result


def _read_problems(reader: _Reader, value: Any) -> list[Finding]:
    if not isinstance(value, list):
        reader.error("problems", _("Give a list of problems."))
        return []
    findings = []
    for entry in value:
        if not isinstance(entry, dict):
            reader.error("problems", _("Give each problem as an object."))
            continue
        item = None
        if entry.get("item") is not None:
            found = reader.items([entry["item"]], "problems")
            item = found[0] if found else None
        judgement = None
        if entry.get("judgement"):
            if not isinstance(entry["judgement"], str) or entry["judgement"] not in Judgement._value2member_map_:
                reader.error("problems", _("Unknown judgement."))
            else:
                judgement = Judgement(entry["judgement"])
        description = entry.get("description") or ""
        if not isinstance(description, str):
            reader.error("problems", _("Give a text."))
            description = ""
        findings.append(Finding(description=description, item=item, judgement=judgement))
    return findings


def _read_follow_ups(reader: _Reader, value: Any) -> list[FollowUp]:
    if not isinstance(value, list):
        reader.error("follow_ups", _("Give a list of follow-ups."))
        return []
    follow_ups = []
    for entry in value:
        if not isinstance(entry, dict):
            reader.error("follow_ups", _("Give each follow-up as an object."))
            continue
        title = entry.get("title")
        if not isinstance(title, str):
            reader.error("follow_ups", _("Give each follow-up a title."))
            title = ""
        owner = reader.user(entry["owner"], "follow_ups") if entry.get("owner") is not None else None
        contact = (
            reader.contact(entry["owner_contact"], "follow_ups") if entry.get("owner_contact") is not None else None
        )
        follow_ups.append(
            FollowUp(
                title=title,
                items=reader.items(entry.get("items") or [], "follow_ups"),
                owner=owner,
                owner_contact=contact,
                due_on=parse_date(entry.get("due_on"), "follow_ups", reader.errors),
                description=entry.get("description") if isinstance(entry.get("description"), str) else "",
            )
        )
    return follow_ups


def _data_of(visit: Visit) -> VisitData:
    return VisitData(
        status=visit.status,
        kind=visit.kind,
        starts_at=visit.starts_at,
        officer=visit.officer,
        participants=list(visit.participants),
        duration_minutes=visit.duration_minutes,
        location=visit.location,
        contacts=list(visit.contacts),
        attendee_names=list(visit.attendee_names or []),
        items=list(visit.items),
        free_topics=list(visit.free_topics or []),
        summary=visit.summary,
        requests=visit.requests,
        next_visit_on=visit.next_visit_on,
    )


# --- the JSON shape -------------------------------------------------------------------------------------


def serialize_visit(visit: Visit, *, full: bool = True, warnings: list[str] | None = None) -> dict[str, Any]:
    """A visit as JSON; ``full`` adds its follow-up tasks and attachments (one visit at a time)."""
    data: dict[str, Any] = {
        "id": visit.id,
        "enterprise": {"id": visit.enterprise_id, "name": visit.enterprise.name},
        "status": visit.status.value,
        "kind": visit.kind.value,
        "starts_at": json_value(visit.starts_at),
        "ends_at": json_value(visit.ends_at),
        "duration_minutes": visit.duration_minutes,
        "location": visit.location,
        "officer": visit.officer.username if visit.officer else None,
        "participants": [{"username": u.username, "display_name": u.display_name} for u in visit.participants],
        "contacts": [{"id": c.id, "name": c.name} for c in visit.contacts],
        "attendee_names": list(visit.attendee_names or []),
        "items": [{"id": i.id, "number": i.number, "title": i.title_zh} for i in visit.items],
        "free_topics": list(visit.free_topics or []),
        "summary": visit.summary,
        "problems": [
            {
                "item": f.item.number if f.item else None,
                "description": f.description,
                "judgement": json_value(f.judgement),
                "assessment_id": f.assessment_id,
            }
            for f in visit.findings
        ],
        "requests": visit.requests,
        "next_visit_on": json_value(visit.next_visit_on),
        "logged_at": json_value(visit.logged_at),
        "cancelled_at": json_value(visit.cancelled_at),
        "cancel_reason": visit.cancel_reason,
        "created_at": json_value(visit.created_at),
        "updated_at": json_value(visit.updated_at),
    }
    if full:
        data["follow_up_tasks"] = [
            {
                "id": task.id,
                "title": task.title,
                "status": json_value(task.status),
                "due_on": json_value(task.due_on),
                "items": [item.number for item in task.items],
            }
            for task in queries.visit_tasks(visit)
        ]
        data["pending_follow_ups"] = list(visit.pending_follow_ups or [])
        attachments = queries.visit_attachments(visit)
        data["attachments"] = [
            {"id": f.id, "category": category, "filename": f.filename, "kind": f.kind, "size": f.size}
            for category, files in (("photo", attachments["photos"]), ("minutes", attachments["minutes"]))
            for f in files
        ]
    if warnings is not None:
        data["warnings"] = warnings
    return data
