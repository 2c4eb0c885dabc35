"""Visit operations: plan, log, edit and cancel visits; follow-up tasks and judgements from what was found;
attachments; calendar feeds. They flush; the caller commits."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm.util import identity_key
from werkzeug.datastructures import FileStorage

from crm.auth.models import User, hash_token
from crm.core.files import DOCUMENTS, IMAGES, StoredFile, delete_stored, save_upload
from crm.core.models import utcnow
from crm.core.timeutil import local_date, local_today, local_tz
from crm.enterprises.counts_cache import DATA_TOPICS_OPTION, VISITS
from crm.enterprises.models import Contact, Enterprise
from crm.extensions import db
from crm.plans.models import CultivationTask
from crm.plans.services import active_plan, create_task
from crm.standards.models import AssessmentResult, Judgement, StandardItem
from crm.standards.services import AssessmentError, officer_draft, set_judgement
from crm.visits.models import CalendarFeed, Visit, VisitFinding, VisitKind, VisitStatus

#: ``StoredFile.owner_type`` of a visit's photos and of its signed minutes and other documents.
PHOTO_OWNER = "visit_photo"
MINUTES_OWNER = "visit_minutes"
ATTACHMENT_KINDS = {PHOTO_OWNER: IMAGES, MINUTES_OWNER: DOCUMENTS}

#: ``CultivationTask.source_kind`` of the follow-ups created from a visit.
TASK_SOURCE = "visit"
#: Judgements a problem found on an item may give it.
PROBLEM_JUDGEMENTS = (Judgement.BASIC, Judgement.FAIL)
#: The time of day given to a next visit planned from a logged one.
NEXT_VISIT_TIME = time(9, 30)

MAX_DURATION_MINUTES = 24 * 60
MAX_NAME_LENGTH = 60
MAX_TOPIC_LENGTH = 200
MAX_TITLE_LENGTH = 300


class VisitError(ValueError):
    """Visit data that cannot be saved: ``errors`` maps each field to its messages (shown to the user)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


class NoActivePlanError(ValueError):
    """The enterprise has no active plan to hold cultivation tasks."""


@dataclass
class FollowUp:
    """A cultivation task to create from a visit."""

    title: str
    items: list[StandardItem] = field(default_factory=list)
    owner: User | None = None
    owner_contact: Contact | None = None
    due_on: date | None = None
    description: str = ""


@dataclass
class Finding:
    """A problem found on the visit; with an item and a judgement it goes into the officer draft."""

    description: str
    item: StandardItem | None = None
    judgement: Judgement | None = None


@dataclass
class VisitData:
    """Everything a visit form or API call says about a visit."""

    status: VisitStatus
    kind: VisitKind
    starts_at: datetime
    officer: User
    participants: list[User] = field(default_factory=list)
    duration_minutes: int = 60
    location: str = ""
    contacts: list[Contact] = field(default_factory=list)
    attendee_names: list[str] = field(default_factory=list)
    items: list[StandardItem] = field(default_factory=list)
    free_topics: list[str] = field(default_factory=list)
    summary: str = ""
    requests: str = ""
    next_visit_on: date | None = None
    #: None leaves an existing visit's findings as they are.
    findings: list[Finding] | None = None
    #: Always new tasks; existing follow-ups are managed on the plan.
    follow_ups: list[FollowUp] = field(default_factory=list)
    #: Put the next visit on the calendar as a planned visit.
    plan_next: bool = False


@dataclass
class VisitOutcome:
    visit: Visit
    tasks: list[CultivationTask] = field(default_factory=list)
    #: Follow-ups kept on the visit because the enterprise has no active plan.
    pending_follow_ups: int = 0
    judgements: list[AssessmentResult] = field(default_factory=list)
    #: Why some judgements could not be recorded (shown to the user).
    judgement_problems: list[str] = field(default_factory=list)
    next_visit: Visit | None = None


def split_list(text: str | None, *, separators: str = ",，、;；\n") -> list[str]:
    """Names or topics typed in one box: split on commas (Chinese or not), semicolons and new lines."""
    if not text:
        return []
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    seen: list[str] = []
    for part in text.split(separators[0]):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def local_datetime(day: date, at: time) -> datetime:
    """A local date and time in the CRM's time zone as an aware instant."""
    return datetime.combine(day, at, tzinfo=local_tz())


# --- checks ---------------------------------------------------------------------------------------------


def check_visit(enterprise: Enterprise, data: VisitData, *, visit: Visit | None = None) -> dict[str, list[str]]:
    """The business rules of a visit; returns {field: [messages]} (empty when the data can be saved)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if visit is None and data.status == VisitStatus.CANCELLED:
        add("status", _("A new visit is either planned or done."))
    if visit is not None:
        if visit.status == VisitStatus.CANCELLED:
            add("status", _("A cancelled visit cannot be changed."))
        elif visit.status == VisitStatus.DONE and data.status != VisitStatus.DONE:
            add("status", _("A visit that took place cannot go back to planned."))
        elif data.status == VisitStatus.CANCELLED:
            add("status", _("Cancel a planned visit with the cancel button, giving a reason."))
    if data.starts_at.tzinfo is None:
        add("starts_at", _("Give the time with its time zone."))
    elif data.status == VisitStatus.DONE and local_date(data.starts_at) > local_today():
        add("starts_at", _("A visit that took place cannot be dated in the future."))
    if not 5 <= (data.duration_minutes or 0) <= MAX_DURATION_MINUTES:
        add("duration_minutes", _("The duration must be between 5 minutes and 24 hours."))
    if data.officer is None or not data.officer.is_active:
        add("officer", _("Choose an active user as the lead officer."))
    if any(not user.is_active for user in data.participants):
        add("participants", _("Every participant must be an active user."))
    if any(contact.enterprise_id != enterprise.id for contact in data.contacts):
        add("contacts", _("Choose contacts of this enterprise."))
    if any(len(name) > MAX_NAME_LENGTH for name in data.attendee_names):
        add("attendee_names", _("A name may have at most %(n)s characters.", n=MAX_NAME_LENGTH))
    if any(len(topic) > MAX_TOPIC_LENGTH for topic in data.free_topics):
        add("free_topics", _("A topic may have at most %(n)s characters.", n=MAX_TOPIC_LENGTH))
    if len(data.location) > 200:
        add("location", _("The location may have at most %(n)s characters.", n=200))
    has_time = data.starts_at.tzinfo is not None
    if data.next_visit_on is not None and has_time and data.next_visit_on <= local_date(data.starts_at):
        add("next_visit_on", _("The next visit comes after this one."))
    if data.plan_next and data.next_visit_on is None:
        add("next_visit_on", _("Give the date of the next visit to put it on the calendar."))
    if data.status != VisitStatus.DONE:
        if data.findings:
            add("problems", _("Problems found are recorded when the visit is logged as done."))
        if data.follow_ups:
            add("follow_ups", _("Follow-ups are created when the visit is logged as done."))
    for finding in data.findings or []:
        if not finding.description.strip() and finding.item is None:
            add("problems", _("Describe each problem found."))
        if finding.judgement is not None and finding.item is None:
            add("problems", _("A judgement needs the item of the standard it applies to."))
        if finding.judgement is not None and finding.judgement not in PROBLEM_JUDGEMENTS:
            add("problems", _("A problem makes an item basically meet or not meet the standard."))
        elif finding.judgement == Judgement.BASIC and finding.item is not None and finding.item.is_bonus:
            add("problems", _("A bonus item is either met or not: it cannot be judged 基本达标."))
    for follow_up in data.follow_ups:
        if not follow_up.title.strip():
            add("follow_ups", _("Give each follow-up a title."))
        elif len(follow_up.title.strip()) > MAX_TITLE_LENGTH:
            add("follow_ups", _("A follow-up title may have at most %(n)s characters.", n=MAX_TITLE_LENGTH))
        if follow_up.owner is not None and follow_up.owner_contact is not None:
            add("follow_ups", _("A task has one owner: a user or a contact of the enterprise, not both."))
        if follow_up.owner_contact is not None and follow_up.owner_contact.enterprise_id != enterprise.id:
            add("follow_ups", _("Choose contacts of this enterprise."))
        if follow_up.owner is not None and not follow_up.owner.is_active:
            add("follow_ups", _("A follow-up's owner must be an active user."))
    return errors


# --- create, log, edit, cancel --------------------------------------------------------------------------


def create_visit(enterprise: Enterprise, data: VisitData, *, by: Any = None) -> VisitOutcome:
    """Plan a visit, or log one that took place, with its findings and follow-ups."""
    errors = check_visit(enterprise, data)
    if errors:
        raise VisitError(errors)
    visit = Visit(enterprise_id=enterprise.id, enterprise=enterprise, created_by_id=getattr(by, "id", None))
    _apply(visit, data)
    if visit.status == VisitStatus.DONE:
        visit.logged_at = utcnow()
    db.session.add(visit)
    db.session.flush()
    refresh_last_visit(enterprise.id)
    return _after_save(visit, enterprise, data, by=by, previous={})


def update_visit(visit: Visit, data: VisitData, *, by: Any = None) -> VisitOutcome:
    """Change a visit; a planned visit saved as done is logged (it becomes done)."""
    enterprise = visit.enterprise
    errors = check_visit(enterprise, data, visit=visit)
    if errors:
        raise VisitError(errors)
    previous = {(f.item_id, f.judgement): f.assessment_id for f in visit.findings if f.assessment_id is not None}
    was_planned = visit.status == VisitStatus.PLANNED
    _apply(visit, data)
    visit.updated_by_id = getattr(by, "id", None)
    if was_planned and visit.status == VisitStatus.DONE:
        visit.logged_at = utcnow()
    db.session.flush()
    refresh_last_visit(enterprise.id)
    return _after_save(visit, enterprise, data, by=by, previous=previous)


def log_visit(visit: Visit, data: VisitData, *, by: Any = None) -> VisitOutcome:
    """Record what happened on a planned visit: it becomes done."""
    if visit.status != VisitStatus.PLANNED:
        raise VisitError({"status": [_("Only a planned visit can be logged.")]})
    data.status = VisitStatus.DONE
    return update_visit(visit, data, by=by)


def cancel_visit(visit: Visit, *, reason: str, by: Any = None) -> None:
    """Cancel a planned visit, saying why."""
    if visit.status != VisitStatus.PLANNED:
        raise VisitError({"status": [_("Only a planned visit can be cancelled.")]})
    reason = (reason or "").strip()
    if not reason:
        raise VisitError({"cancel_reason": [_("Say why the visit is cancelled.")]})
    visit.status = VisitStatus.CANCELLED
    visit.cancelled_at = utcnow()
    visit.cancel_reason = reason
    visit.updated_by_id = getattr(by, "id", None)
    db.session.flush()
    refresh_last_visit(visit.enterprise_id)


def last_visit_value(enterprise_id_column: Any) -> Any:
    """The start of the latest visit that took place at the enterprise ``enterprise_id_column`` points at."""
    return (
        select(func.max(Visit.starts_at))
        .where(Visit.enterprise_id == enterprise_id_column, Visit.status == VisitStatus.DONE)
        .scalar_subquery()
    )


def refresh_last_visit(*enterprise_ids: int) -> None:
    """Recompute ``Enterprise.last_visit_at`` of these enterprises (every one when none is named) from their
    visits: called by whatever adds, changes, cancels or moves visits (these services, the merge, the demo)."""
    latest = last_visit_value(Enterprise.id)
    # rows whose value is right already are not written (a whole-table refresh rewrites only what changed)
    stmt = update(Enterprise).values(last_visit_at=latest).where(Enterprise.last_visit_at.is_distinct_from(latest))
    if enterprise_ids:
        stmt = stmt.where(Enterprise.id.in_(enterprise_ids))
    # A value derived from the visits: the visits' own writes bump that topic, and the enterprises' figures (stage
    # counts, filters, reports) do not read it, so this write does not make them count again.
    db.session.execute(stmt.execution_options(synchronize_session=False, **{DATA_TOPICS_OPTION: (VISITS,)}))
    for enterprise_id in enterprise_ids:
        enterprise = db.session.identity_map.get(identity_key(Enterprise, enterprise_id))
        if enterprise is not None:
            db.session.expire(enterprise, ["last_visit_at"])


def _apply(visit: Visit, data: VisitData) -> None:
    visit.status = data.status
    visit.kind = data.kind
    visit.starts_at = data.starts_at
    visit.duration_minutes = data.duration_minutes
    visit.location = data.location.strip()
    visit.officer_id = data.officer.id
    visit.officer = data.officer
    participants = [data.officer] + [u for u in data.participants if u.id != data.officer.id]
    visit.participants = _unique(participants)
    visit.contacts = _unique(data.contacts)
    visit.attendee_names = list(data.attendee_names)
    visit.items = _unique(data.items)
    visit.free_topics = list(data.free_topics)
    visit.summary = data.summary.strip()
    visit.requests = data.requests.strip()
    visit.next_visit_on = data.next_visit_on
    if data.findings is not None:
        visit.findings = [
            VisitFinding(
                item_id=finding.item.id if finding.item else None,
                item=finding.item,
                description=finding.description.strip(),
                judgement=finding.judgement,
                sort_order=index,
            )
            for index, finding in enumerate(data.findings)
        ]


def _unique(rows: Iterable[Any]) -> list[Any]:
    seen: set[int] = set()
    result = []
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            result.append(row)
    return result


def _after_save(
    visit: Visit, enterprise: Enterprise, data: VisitData, *, by: Any, previous: dict[tuple[int | None, Any], int]
) -> VisitOutcome:
    db.session.flush()
    outcome = VisitOutcome(visit=visit)
    if data.findings is not None:
        _record_judgements(visit, enterprise, by=by, previous=previous, outcome=outcome)
    if data.follow_ups:
        _create_follow_ups(visit, data.follow_ups, outcome=outcome)
    if data.plan_next and data.next_visit_on is not None:
        outcome.next_visit = plan_next_visit(visit, by=by)
    db.session.flush()
    return outcome


def _record_judgements(
    visit: Visit, enterprise: Enterprise, *, by: Any, previous: dict[tuple[int | None, Any], int], outcome: VisitOutcome
) -> None:
    """Set each judged item in the enterprise's officer draft; a finding already recorded is not applied again
    (so editing a visit never undoes a later change made on the assessment)."""
    draft = None
    for finding in visit.findings:
        if finding.item is None or finding.judgement is None:
            continue
        key = (finding.item_id, finding.judgement)
        if key in previous:
            finding.assessment_id = previous[key]
            continue
        if draft is None:
            draft = officer_draft(enterprise, by=by)
            if draft is None:
                outcome.judgement_problems.append(
                    _("No standard version applies to this enterprise's target tier, so no judgement was recorded.")
                )
                return
        if finding.item.version_id != draft.version_id:
            outcome.judgement_problems.append(
                _(
                    "Item %(number)s belongs to another version of the standard than the open officer draft; "
                    "its judgement was not recorded.",
                    number=finding.item.number,
                )
            )
            continue
        evidence = _(
            "Visit of %(date)s: %(text)s", date=local_date(visit.starts_at).isoformat(), text=finding.description
        )
        try:
            with db.session.begin_nested():
                result = set_judgement(draft, finding.item, finding.judgement, evidence=evidence, by=by)
        except (AssessmentError, ValueError) as exc:
            outcome.judgement_problems.append(str(exc))
            continue
        outcome.judgements.append(result)
        finding.assessment_id = draft.id


def _create_follow_ups(visit: Visit, follow_ups: list[FollowUp], *, outcome: VisitOutcome) -> None:
    plan = active_plan(visit.enterprise_id)
    if plan is None:
        visit.pending_follow_ups = [*(visit.pending_follow_ups or []), *(_follow_up_json(f) for f in follow_ups)]
        outcome.pending_follow_ups = len(follow_ups)
        return
    for follow_up in follow_ups:
        outcome.tasks.append(_task_from(plan, visit, follow_up))


def _task_from(plan: Any, visit: Visit, follow_up: FollowUp) -> CultivationTask:
    return create_task(
        plan,
        title=follow_up.title.strip(),
        items=follow_up.items,
        owner=follow_up.owner,
        owner_contact=follow_up.owner_contact,
        due_on=follow_up.due_on,
        description=follow_up.description.strip(),
        source_kind=TASK_SOURCE,
        source_id=visit.id,
    )


def _follow_up_json(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "title": follow_up.title.strip(),
        "item_ids": [item.id for item in follow_up.items],
        "owner_id": follow_up.owner.id if follow_up.owner else None,
        "owner_contact_id": follow_up.owner_contact.id if follow_up.owner_contact else None,
        "due_on": follow_up.due_on.isoformat() if follow_up.due_on else None,
        "description": follow_up.description.strip(),
    }


def pending_follow_ups(visit: Visit) -> list[FollowUp]:
    """The follow-ups kept on a visit while its enterprise had no active plan."""
    result = []
    for entry in visit.pending_follow_ups or []:
        item_ids = entry.get("item_ids") or []
        items = list(db.session.scalars(select(StandardItem).where(StandardItem.id.in_(item_ids)))) if item_ids else []
        owner = db.session.get(User, entry["owner_id"]) if entry.get("owner_id") else None
        contact = db.session.get(Contact, entry["owner_contact_id"]) if entry.get("owner_contact_id") else None
        result.append(
            FollowUp(
                title=entry.get("title", ""),
                items=items,
                owner=owner,
                owner_contact=contact if contact is not None and contact.enterprise_id == visit.enterprise_id else None,
                due_on=date.fromisoformat(entry["due_on"]) if entry.get("due_on") else None,
                description=entry.get("description", ""),
            )
        )
    return result


def place_pending_follow_ups(visit: Visit) -> list[CultivationTask]:
    """Turn the follow-ups kept on a visit into tasks, now that the enterprise has an active plan."""
    plan = active_plan(visit.enterprise_id)
    if plan is None:
        raise NoActivePlanError(_("The enterprise still has no active cultivation plan."))
    tasks = [_task_from(plan, visit, follow_up) for follow_up in pending_follow_ups(visit)]
    visit.pending_follow_ups = []
    db.session.flush()
    return tasks


def plan_next_visit(visit: Visit, *, by: Any = None) -> Visit | None:
    """Put a visit's next visit on the calendar, unless one is already planned that day."""
    if visit.next_visit_on is None:
        return None
    starts_at = local_datetime(visit.next_visit_on, NEXT_VISIT_TIME)
    day_start = local_datetime(visit.next_visit_on, time.min)
    existing = db.session.scalars(
        select(Visit.id).where(
            Visit.enterprise_id == visit.enterprise_id,
            Visit.status == VisitStatus.PLANNED,
            Visit.starts_at >= day_start,
            Visit.starts_at < day_start + timedelta(days=1),
        )
    ).first()
    if existing is not None:
        return None
    planned = Visit(
        enterprise_id=visit.enterprise_id,
        status=VisitStatus.PLANNED,
        kind=visit.kind,
        starts_at=starts_at,
        duration_minutes=visit.duration_minutes,
        location=visit.location,
        officer_id=visit.officer_id,
        officer=visit.officer,
        participants=list(visit.participants),
        contacts=list(visit.contacts),
        attendee_names=list(visit.attendee_names or []),
        free_topics=[],
        created_by_id=getattr(by, "id", None),
    )
    db.session.add(planned)
    db.session.flush()
    return planned


# --- attachments ----------------------------------------------------------------------------------------


def add_attachments(
    visit: Visit, uploads: Iterable[FileStorage], *, owner_type: str, by: Any = None
) -> list[StoredFile]:
    """Store photos (``PHOTO_OWNER``) or signed minutes and documents (``MINUTES_OWNER``) of a visit.

    Raises ``crm.core.files.UploadError`` for a file that is refused; the caller rolls back.
    """
    allowed = ATTACHMENT_KINDS[owner_type]
    stored = []
    for upload in uploads:
        if upload is None or not getattr(upload, "filename", ""):
            continue
        stored.append(
            save_upload(
                upload,
                owner_type=owner_type,
                owner_id=visit.id,
                enterprise_id=visit.enterprise_id,
                allowed=allowed,
                uploaded_by=by,
            )
        )
    return stored


def remove_attachment(stored: StoredFile) -> None:
    delete_stored(stored)


# --- calendar feeds -------------------------------------------------------------------------------------


def active_feed(user: Any) -> CalendarFeed | None:
    return db.session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).first()


def create_feed(user: Any) -> tuple[CalendarFeed, str]:
    """A new secret feed URL token for the user; any earlier one stops working. Returns (feed, secret)."""
    revoke_feed(user)
    secret = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user.id, token_hash=hash_token(secret))
    db.session.add(feed)
    db.session.flush()
    return feed, secret


def revoke_feed(user: Any) -> int:
    """Revoke the user's feed URLs; returns how many were active."""
    feeds = db.session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for feed in feeds:
        feed.revoked_at = now
    db.session.flush()
    return len(feeds)


def feed_for_secret(secret: str) -> CalendarFeed | None:
    """The active feed of an active user for a secret from a URL, or None."""
    if not secret or len(secret) > 100:
        return None
    feed = db.session.scalars(select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(secret))).first()
    if feed is None or feed.revoked_at is not None or feed.user is None or not feed.user.is_active:
        return None
    return feed


def touch_feed(feed: CalendarFeed, now: datetime | None = None) -> bool:
    """Note the feed's use, at most once an hour (calendar apps poll often). Returns whether it changed."""
    now = now or utcnow()
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(hours=1):
        feed.last_used_at = now
        return True
    return False
