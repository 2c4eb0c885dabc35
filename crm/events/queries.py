"""Read side of events: lists, counts, statistics, and the entry points other features call
(the enterprise page's section and timeline, the calendar, event reminders).

Every list of an enterprise's records goes through the caller's scope; aggregate queries count in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, and_, bindparam, case, distinct, exists, func, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from crm.auth.models import User, user_areas, user_offices
from crm.core.models import utcnow
from crm.core.permissions import Role
from crm.core.scope import scope_of, scoped_enterprises
from crm.core.timeline import CalendarEntry, TimelineEntry
from crm.core.timeutil import local_date, local_midnight
from crm.enterprises.models import Enterprise, enterprise_key_categories
from crm.events.access import scoped_invitations, scoped_registrations, visible_events, visible_events_filter
from crm.events.models import (
    Event,
    EventKind,
    EventStatus,
    EventTaskCompletion,
    Feedback,
    Invitation,
    Registration,
    RegistrationStatus,
    event_organisers,
    event_topics,
)
from crm.extensions import db
from crm.reference.models import Area, CustomsOffice, KeyCategory, RecommendingUnit
from crm.standards.models import StandardItem

#: Stages of enterprises "in the pool" (优选培育推荐库) for the "attended nothing lately" list.
POOL_STAGES = ("pooled", "cultivating", "ready")
HELD_STATUSES = (EventStatus.PUBLISHED, EventStatus.FINISHED)


# --- lists ------------------------------------------------------------------------------------------------


def event_list(filters: Mapping[str, Any], user: Any = None) -> Select:
    """Visible events matching ``q``, ``status``, ``kind``, ``period`` (upcoming/past), ``organiser`` (unit code),
    ``from``/``to`` (dates, on the start)."""
    stmt = visible_events(user=user).options(selectinload(Event.organisers))
    q = (filters.get("q") or "").strip()
    if q:
        stmt = stmt.where(Event.title.like(f"%{q}%"))
    if filters.get("status"):
        stmt = stmt.where(Event.status == EventStatus(filters["status"]))
    if filters.get("kind"):
        stmt = stmt.where(Event.kind == EventKind(filters["kind"]))
    if filters.get("organiser"):
        stmt = stmt.where(
            Event.id.in_(
                select(event_organisers.c.event_id)
                .join(RecommendingUnit, RecommendingUnit.id == event_organisers.c.unit_id)
                .where(RecommendingUnit.code == filters["organiser"])
            )
        )
    if isinstance(filters.get("from"), date):
        stmt = stmt.where(Event.starts_at >= local_midnight(filters["from"]))
    if isinstance(filters.get("to"), date):
        stmt = stmt.where(Event.starts_at < local_midnight(filters["to"] + relativedelta(days=1)))
    now = utcnow()
    period = filters.get("period")
    if period == "upcoming":
        return stmt.where(Event.ends_at >= now).order_by(Event.starts_at, Event.id)
    if period == "past":
        stmt = stmt.where(Event.ends_at < now)
    return stmt.order_by(Event.starts_at.desc(), Event.id.desc())


@dataclass
class EventCounts:
    invited: int = 0
    registered: int = 0
    waitlisted: int = 0
    attendees_checked_in: int = 0
    enterprises_registered: int = 0
    enterprises_attended: int = 0
    #: Seats taken by every enterprise (not only those in scope): the capacity is the event's.
    seats_taken: int = 0


def event_counts(event_ids: list[int], user: Any = None) -> dict[int, EventCounts]:
    """Per event: invitations and registrations of enterprises in scope, and seats taken overall; cached until the
    events or the enterprises change (``counts_cache``)."""
    from dataclasses import asdict

    from crm.enterprises.counts_cache import ENTERPRISES, EVENTS, cached_counts

    if not event_ids:
        return {}
    parts = {"figure": "event-counts", "events": sorted(event_ids), "scope": scope_of(user).cache_key()}
    kept = cached_counts(
        parts,
        lambda: {str(key): asdict(value) for key, value in _event_counts(event_ids, user).items()},
        topics=(EVENTS, ENTERPRISES),
    )
    return {int(key): EventCounts(**value) for key, value in kept.items()}


def _event_counts(event_ids: list[int], user: Any) -> dict[int, EventCounts]:
    counts = {event_id: EventCounts() for event_id in event_ids}
    invited = scoped_invitations(
        select(Invitation.event_id, func.count(Invitation.id)).where(
            Invitation.event_id.in_(event_ids), Invitation.revoked_at.is_(None)
        ),
        user=user,
    ).group_by(Invitation.event_id)
    for event_id, n in db.session.execute(invited):
        counts[event_id].invited = n
    active = Registration.status != RegistrationStatus.CANCELLED
    regs = scoped_registrations(
        select(
            Registration.event_id,
            func.count(case((Registration.status == RegistrationStatus.REGISTERED, 1))),
            func.count(case((Registration.status == RegistrationStatus.WAITLISTED, 1))),
            func.count(case((Registration.checked_in_at.isnot(None), 1))),
            func.count(distinct(case((active, Registration.enterprise_id)))),
            func.count(distinct(case((Registration.checked_in_at.isnot(None), Registration.enterprise_id)))),
        ).where(Registration.event_id.in_(event_ids)),
        user=user,
    ).group_by(Registration.event_id)
    for event_id, registered, waitlisted, checked_in, ent_registered, ent_attended in db.session.execute(regs):
        c = counts[event_id]
        c.registered, c.waitlisted, c.attendees_checked_in = registered, waitlisted, checked_in
        c.enterprises_registered, c.enterprises_attended = ent_registered, ent_attended
    seats = (
        select(Registration.event_id, func.count(Registration.id))
        .where(Registration.event_id.in_(event_ids), Registration.status == RegistrationStatus.REGISTERED)
        .group_by(Registration.event_id)
    )
    for event_id, n in db.session.execute(seats):
        counts[event_id].seats_taken = n
    return counts


def invitation_list(event: Event, filters: Mapping[str, Any], user: Any = None) -> Select:
    """The event's invitations of enterprises in scope; ``q`` matches the enterprise, ``state`` filters."""
    stmt = (
        scoped_invitations(select(Invitation), user=user)
        .join(Enterprise, Enterprise.id == Invitation.enterprise_id)
        .where(Invitation.event_id == event.id)
        .options(
            selectinload(Invitation.enterprise).selectinload(Enterprise.area),
            selectinload(Invitation.registrations),
            selectinload(Invitation.feedback),
        )
    )
    q = (filters.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Enterprise.name.like(f"%{q}%"), Enterprise.uscc.like(f"%{q.upper()}%")))
    state = filters.get("state")
    has_active = exists(
        select(Registration.id).where(
            Registration.invitation_id == Invitation.id, Registration.status != RegistrationStatus.CANCELLED
        )
    )
    if state == "registered":
        stmt = stmt.where(has_active)
    elif state == "not_registered":
        stmt = stmt.where(~has_active, Invitation.revoked_at.is_(None))
    elif state == "revoked":
        stmt = stmt.where(Invitation.revoked_at.isnot(None))
    return stmt.order_by(Enterprise.name, Invitation.id)


def registration_list(event: Event, filters: Mapping[str, Any], user: Any = None) -> Select:
    """Attendees of enterprises in scope; ``q`` matches the name, mobile or enterprise; ``status`` filters."""
    stmt = (
        scoped_registrations(select(Registration), user=user)
        .join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(Registration.event_id == event.id)
        .options(selectinload(Registration.enterprise), selectinload(Registration.checked_in_by))
    )
    q = (filters.get("q") or "").strip()
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(
            or_(Registration.name.like(pattern), Registration.mobile.like(pattern), Enterprise.name.like(pattern))
        )
    status = filters.get("status")
    if status == "checked_in":
        stmt = stmt.where(Registration.checked_in_at.isnot(None))
    elif status == "not_checked_in":
        stmt = stmt.where(Registration.checked_in_at.is_(None), Registration.status != RegistrationStatus.CANCELLED)
    elif status in {s.value for s in RegistrationStatus}:
        stmt = stmt.where(Registration.status == RegistrationStatus(status))
    return stmt.order_by(Enterprise.name, Registration.id)


def attendance_by_enterprise(event: Event, user: Any = None) -> Select:
    """Rows (enterprise id, enterprise name, active registrations, attendees checked in, first check-in)."""
    stmt = (
        select(
            Registration.enterprise_id,
            Enterprise.name,
            func.count(case((Registration.status != RegistrationStatus.CANCELLED, 1))).label("registered"),
            func.count(Registration.checked_in_at).label("attended"),
            func.min(Registration.checked_in_at).label("first_check_in"),
        )
        .join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(Registration.event_id == event.id)
        .group_by(Registration.enterprise_id, Enterprise.name)
        .order_by(Enterprise.name, Registration.enterprise_id)
    )
    return scoped_registrations(stmt, user=user)


@dataclass
class FeedbackSummary:
    responses: int
    overall: float | None
    content: float | None
    organisation: float | None


def feedback_summary(event: Event) -> FeedbackSummary:
    """Average ratings over every response (aggregates name no enterprise)."""
    row = db.session.execute(
        select(
            func.count(Feedback.id),
            func.avg(Feedback.rating_overall),
            func.avg(Feedback.rating_content),
            func.avg(Feedback.rating_organisation),
        ).where(Feedback.event_id == event.id)
    ).one()

    def rounded(value: Any) -> float | None:
        return None if value is None else round(float(value), 1)

    return FeedbackSummary(row[0] or 0, rounded(row[1]), rounded(row[2]), rounded(row[3]))


def feedback_list(event: Event, user: Any = None) -> Select:
    """Feedback of enterprises in scope, newest first."""
    from crm.core.scope import scoped_by_enterprise

    stmt = (
        select(Feedback)
        .where(Feedback.event_id == event.id)
        .options(selectinload(Feedback.invitation).selectinload(Invitation.enterprise))
        .order_by(Feedback.updated_at.desc(), Feedback.id.desc())
    )
    return scoped_by_enterprise(stmt, Feedback.enterprise_id, user=user)


def invitable_enterprises(event: Event, filters: Mapping[str, Any], user: Any = None) -> Select:
    """Enterprises in the user's scope matching the invitation filter, not yet invited to the event.

    Filters: ``q`` (name or code), ``areas`` (codes), ``office`` (code, with its subordinates), ``stages`` (codes),
    ``categories`` (key-category codes).
    """
    stmt = scoped_enterprises(select(Enterprise), user=user).where(
        ~exists(select(Invitation.id).where(Invitation.event_id == event.id, Invitation.enterprise_id == Enterprise.id))
    )
    q = (filters.get("q") or "").strip()
    if q:
        stmt = stmt.where(
            or_(
                Enterprise.name.like(f"%{q}%"),
                Enterprise.uscc.like(f"%{q.upper()}%"),
                Enterprise.customs_code.like(f"%{q}%"),
            )
        )
    areas = [a for a in filters.get("areas") or [] if a]
    if areas:
        stmt = stmt.where(Enterprise.area_id.in_(select(Area.id).where(Area.code.in_(areas))))
    if filters.get("office"):
        office_ids = select(CustomsOffice.id).where(
            or_(
                CustomsOffice.code == filters["office"],
                CustomsOffice.parent_id.in_(select(CustomsOffice.id).where(CustomsOffice.code == filters["office"])),
            )
        )
        stmt = stmt.where(Enterprise.office_id.in_(office_ids))
    stages = [s for s in filters.get("stages") or [] if s]
    if stages:
        stmt = stmt.where(Enterprise.stage.in_(stages))
    categories = [c for c in filters.get("categories") or [] if c]
    if categories:
        stmt = stmt.where(
            Enterprise.id.in_(
                select(enterprise_key_categories.c.enterprise_id)
                .join(KeyCategory, KeyCategory.id == enterprise_key_categories.c.key_category_id)
                .where(KeyCategory.code.in_(categories))
            )
        )
    return stmt.order_by(Enterprise.name, Enterprise.id)


# --- statistics -------------------------------------------------------------------------------------------


@dataclass
class StatRow:
    key: Any
    label: str
    events: int = 0
    invited: int = 0
    registered: int = 0
    attended: int = 0


@dataclass
class Statistics:
    events_held: int
    events_upcoming: int
    totals: StatRow
    by_area: list[StatRow] = field(default_factory=list)
    by_topic: list[StatRow] = field(default_factory=list)
    by_kind: list[StatRow] = field(default_factory=list)


def _period_events(user: Any, date_from: date | None, date_to: date | None) -> Select:
    stmt = select(Event.id).where(visible_events_filter(user), Event.status.in_(HELD_STATUSES))
    if date_from:
        stmt = stmt.where(Event.starts_at >= local_midnight(date_from))
    if date_to:
        stmt = stmt.where(Event.starts_at < local_midnight(date_to + relativedelta(days=1)))
    return stmt


def _participation(user: Any, event_ids: Select):
    """One row per (invited enterprise in scope, event): whether it registered, whether it attended."""
    flags = (
        select(
            Registration.invitation_id.label("invitation_id"),
            func.max(case((Registration.status != RegistrationStatus.CANCELLED, 1), else_=0)).label("registered"),
            func.max(case((Registration.checked_in_at.isnot(None), 1), else_=0)).label("attended"),
        )
        .where(Registration.event_id.in_(event_ids))
        .group_by(Registration.invitation_id)
        .subquery()
    )
    stmt = (
        select(
            Invitation.event_id.label("event_id"),
            Invitation.enterprise_id.label("enterprise_id"),
            func.coalesce(flags.c.registered, 0).label("registered"),
            func.coalesce(flags.c.attended, 0).label("attended"),
        )
        .outerjoin(flags, flags.c.invitation_id == Invitation.id)
        .where(Invitation.event_id.in_(event_ids), Invitation.revoked_at.is_(None))
    )
    return scoped_invitations(stmt, user=user).subquery()


def _aggregates(p):
    return (
        func.count(distinct(p.c.enterprise_id)),
        func.count(distinct(case((p.c.registered == 1, p.c.enterprise_id)))),
        func.count(distinct(case((p.c.attended == 1, p.c.enterprise_id)))),
    )


def statistics(user: Any = None, date_from: date | None = None, date_to: date | None = None) -> Statistics:
    """Events held, and enterprises invited, registered and attended (distinct, in scope): in total, by the
    enterprise's area, by topic and by kind. Counted by the database, and cached until the events or the enterprises
    change (``counts_cache``); which events are over is decided each time from their ends."""
    now = utcnow()
    event_ids = _period_events(user, date_from, date_to)
    counts = _statistics_counts(user, event_ids)
    # Which events are over changes with the time, not with the data: counted from their ends, kept with the figures.
    held = sum(1 for ends_at in counts["ends"] if datetime.fromisoformat(ends_at) <= now)
    upcoming = len(counts["ends"]) - held
    invited, registered, attended = counts["totals"]
    totals = StatRow("all", "", held + upcoming, invited or 0, registered or 0, attended or 0)

    by_area = []
    areas = {a.id: a for a in db.session.scalars(select(Area))}
    for area_id, n_events, n_invited, n_registered, n_attended in counts["areas"]:
        area = areas.get(area_id)
        by_area.append(StatRow(area, area.display_name if area else "", n_events, n_invited, n_registered, n_attended))
    by_area.sort(key=lambda row: (row.key.sort_order, row.key.code) if row.key is not None else (0, ""))

    topic_events = dict(counts["topic_events"])
    topic_counts = {row[0]: row[1:] for row in counts["topics"]}
    items = {i.id: i for i in db.session.scalars(select(StandardItem).where(StandardItem.id.in_(list(topic_events))))}
    by_topic = []
    for item_id, n_events in topic_events.items():
        item = items.get(item_id)
        n_invited, n_registered, n_attended = topic_counts.get(item_id, (0, 0, 0))
        label = f"({item.number}) {item.display_title}" if item else str(item_id)
        by_topic.append(StatRow(item, label, n_events, n_invited, n_registered, n_attended))
    by_topic.sort(key=lambda row: (-row.events, row.key.number if row.key else 0, row.key.id if row.key else 0))

    kind_events = {EventKind(kind): n for kind, n in counts["kind_events"]}
    kind_rows = {EventKind(row[0]): row[1:] for row in counts["kinds"]}
    by_kind = []
    for kind in EventKind:
        if kind in kind_events:
            n_invited, n_registered, n_attended = kind_rows.get(kind, (0, 0, 0))
            by_kind.append(StatRow(kind, kind.label, kind_events[kind], n_invited, n_registered, n_attended))
    return Statistics(held, upcoming, totals, by_area, by_topic, by_kind)


def _statistics_counts(user: Any, event_ids: Select) -> dict[str, Any]:
    """The statistics' figures as plain rows (ids, no names), cached under the events' statement (which holds the
    user's visibility and the period) and the scope, until the events or the enterprises change."""
    from crm.enterprises.counts_cache import ENTERPRISES, EVENTS, cached_counts, statement_key

    def compute() -> dict[str, Any]:
        p = _participation(user, event_ids)
        totals = db.session.execute(select(*_aggregates(p))).one()
        area_rows = db.session.execute(
            select(Enterprise.area_id, func.count(distinct(p.c.event_id)), *_aggregates(p))
            .join(Enterprise, Enterprise.id == p.c.enterprise_id)
            .group_by(Enterprise.area_id)
        ).all()
        topic_events = db.session.execute(
            select(event_topics.c.item_id, func.count(distinct(event_topics.c.event_id)))
            .where(event_topics.c.event_id.in_(event_ids))
            .group_by(event_topics.c.item_id)
        ).all()
        topic_rows = db.session.execute(
            select(event_topics.c.item_id, *_aggregates(p))
            .join(event_topics, event_topics.c.event_id == p.c.event_id)
            .group_by(event_topics.c.item_id)
        ).all()
        kind_events = db.session.execute(
            select(Event.kind, func.count(Event.id)).where(Event.id.in_(event_ids)).group_by(Event.kind)
        ).all()
        kind_rows = db.session.execute(
            select(Event.kind, *_aggregates(p)).join(Event, Event.id == p.c.event_id).group_by(Event.kind)
        ).all()
        ends = db.session.scalars(select(Event.ends_at).where(Event.id.in_(event_ids)))
        return {
            "ends": [ends_at.isoformat() for ends_at in ends],
            "totals": list(totals),
            "areas": [list(row) for row in area_rows],
            "topic_events": [list(row) for row in topic_events],
            "topics": [list(row) for row in topic_rows],
            "kind_events": [[str(kind), n] for kind, n in kind_events],
            "kinds": [[str(row[0]), *row[1:]] for row in kind_rows],
        }

    parts = {
        # The entry's shape: a new one when the figures kept change, so that no process reads an older shape.
        "figure": "event-statistics/2",
        "events": statement_key(event_ids),
        "scope": scope_of(user).cache_key(),
    }
    return cached_counts(parts, compute, topics=(EVENTS, ENTERPRISES))


def attendance_cutoff(months: int = 6, now: datetime | None = None) -> datetime:
    """The local midnight ``months`` months before today: a day, so the idle list's count is the same all day
    (and its total can be kept, see ``counts_cache``)."""
    return local_midnight(local_date(now or utcnow()) - relativedelta(months=months))


def pooled_without_attendance(user: Any = None, *, months: int = 6, now: datetime | None = None) -> Select:
    """Enterprises in the pool (in scope) with no attendance at any event in the last ``months`` months."""
    cutoff = attendance_cutoff(months, now)
    attended = exists(
        select(Registration.id).where(Registration.enterprise_id == Enterprise.id, Registration.checked_in_at >= cutoff)
    )
    return (
        scoped_enterprises(select(Enterprise), user=user)
        .where(Enterprise.stage.in_(POOL_STAGES), ~attended)
        .options(selectinload(Enterprise.area), selectinload(Enterprise.office))
        .order_by(Enterprise.name, Enterprise.id)
    )


def last_attendance(enterprise_ids: list[int]) -> dict[int, datetime]:
    """The latest check-in of each enterprise (for one page of a list)."""
    if not enterprise_ids:
        return {}
    return dict(
        db.session.execute(
            select(Registration.enterprise_id, func.max(Registration.checked_in_at))
            .where(Registration.enterprise_id.in_(enterprise_ids), Registration.checked_in_at.isnot(None))
            .group_by(Registration.enterprise_id)
        ).all()
    )


# --- the enterprise page ----------------------------------------------------------------------------------


@dataclass
class EnterpriseInvitationRow:
    invitation: Invitation
    event: Event
    registrations: list[Registration]
    attended: bool
    #: Whether the viewer may open the event's page.
    event_visible: bool


@dataclass
class EnterpriseEvents:
    enterprise: Enterprise
    rows: list[EnterpriseInvitationRow]
    invited: int
    attended: int
    last_attended_at: datetime | None
    completed_tasks: int


@cache
def _counts_statement() -> Select:
    """An enterprise's events attended, last check-in, tasks completed by attendance and invitations, in one row;
    built once per process (the enterprise id is bound when it runs)."""
    enterprise_id = bindparam("enterprise_id")
    invited = select(func.count(Invitation.id)).where(Invitation.enterprise_id == enterprise_id).scalar_subquery()
    completed = (
        select(func.count(EventTaskCompletion.id))
        .where(EventTaskCompletion.enterprise_id == enterprise_id)
        .scalar_subquery()
    )
    return select(
        func.count(distinct(Registration.event_id)), func.max(Registration.checked_in_at), completed, invited
    ).where(Registration.enterprise_id == enterprise_id, Registration.checked_in_at.isnot(None))


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise has an invitation, a
    check-in or a task completed by attendance (what ``_counts_statement`` counts)."""
    return or_(
        select(Invitation.id).where(Invitation.enterprise_id == Enterprise.id).exists(),
        select(Registration.id)
        .where(Registration.enterprise_id == Enterprise.id, Registration.checked_in_at.isnot(None))
        .exists(),
        select(EventTaskCompletion.id).where(EventTaskCompletion.enterprise_id == Enterprise.id).exists(),
    )


def enterprise_section_context(
    enterprise: Enterprise, *, limit: int = 20, user: Any = None, has_records: bool = True
) -> dict[str, Any]:
    """Context for ``templates/events/_enterprise_section.html``: the enterprise's invitations (newest event
    first), registrations and attendance. The caller has already checked the enterprise is in scope.
    ``has_records=False``: the caller knows there is nothing to count (no query)."""
    # One row of counts first (most enterprises were never invited: then that is the only query).
    attended_events, last_at, completed, invited = (
        db.session.execute(_counts_statement(), {"enterprise_id": enterprise.id}).one()
        if has_records
        else (0, None, 0, 0)
    )
    invitations = (
        db.session.scalars(
            select(Invitation)
            .join(Event, Event.id == Invitation.event_id)
            .where(Invitation.enterprise_id == enterprise.id)
            .options(contains_eager(Invitation.event), selectinload(Invitation.registrations))
            .order_by(Event.starts_at.desc(), Invitation.id.desc())
            .limit(limit)
        ).all()
        if invited
        else []
    )
    event_ids = [inv.event_id for inv in invitations]
    visible = (
        set(db.session.scalars(visible_events(select(Event.id), user=user).where(Event.id.in_(event_ids))))
        if event_ids
        else set()
    )
    rows = [
        EnterpriseInvitationRow(
            invitation=inv,
            event=inv.event,
            registrations=list(inv.registrations),
            attended=any(r.is_checked_in for r in inv.registrations),
            event_visible=inv.event_id in visible,
        )
        for inv in invitations
    ]
    return {
        "events_section": EnterpriseEvents(
            enterprise=enterprise,
            rows=rows,
            invited=invited or 0,
            attended=attended_events or 0,
            last_attended_at=last_at,
            completed_tasks=completed or 0,
        )
    }


def timeline_answer(enterprise: Enterprise, context: dict[str, Any], wanted: int) -> list[TimelineEntry] | None:
    """The attendance entries of the enterprise's timeline when the section counted no event attended: none.
    Otherwise None, and the timeline asks its provider."""
    return [] if context["events_section"].attended == 0 else None


def timeline_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """The enterprise's attendance, one entry per event attended (at its first check-in), newest first."""
    from flask_babel import gettext as _

    from crm.events.emails import path_for

    first = func.min(Registration.checked_in_at)
    stmt = (
        select(Registration.event_id, first.label("at"), func.count(Registration.id))
        .where(Registration.enterprise_id == enterprise_id, Registration.checked_in_at.isnot(None))
        .group_by(Registration.event_id)
    )
    if before is not None:
        stmt = stmt.having(first < before)
    rows = db.session.execute(stmt.order_by(first.desc(), Registration.event_id.desc()).limit(limit)).all()
    if not rows:
        return []
    event_ids = [row[0] for row in rows]
    events = {e.id: e for e in db.session.scalars(select(Event).where(Event.id.in_(event_ids)))}
    names: dict[int, list[str]] = {}
    for event_id, name in db.session.execute(
        select(Registration.event_id, Registration.name)
        .where(
            Registration.enterprise_id == enterprise_id,
            Registration.event_id.in_(event_ids),
            Registration.checked_in_at.isnot(None),
        )
        .order_by(Registration.id)
    ):
        names.setdefault(event_id, []).append(name)
    entries = []
    for event_id, at, count in rows:
        event = events[event_id]
        entries.append(
            TimelineEntry(
                at=at,
                kind="training",
                title=_("Attended “%(title)s”", title=event.title),
                body=_("%(kind)s · attendees: %(names)s", kind=event.kind.label, names="、".join(names[event_id]))
                if count
                else "",
                url=path_for("events.detail", event_id=event_id),
                icon="mortarboard",
            )
        )
    return entries


def calendar_entries(
    user: Any,
    start: datetime,
    end: datetime,
    *,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
    per_day: int | None = None,
) -> list[CalendarEntry]:
    """Events the user may see (not drafts) overlapping [start, end); all of them whatever ``per_day`` (a few a
    month: the calendar cuts busy days itself).

    ``person_id``: events that person created; ``office_code`` / ``area_code``: events organised by a unit of that
    office (or its 直属海关) / area, or that invited an enterprise of that office / area.
    """
    from crm.events.emails import path_for
    from crm.events.formatting import event_place

    stmt = visible_events(user=user).where(
        Event.status != EventStatus.DRAFT, Event.starts_at < end, Event.ends_at > start
    )
    if person_id is not None:
        stmt = stmt.where(Event.created_by_id == person_id)
    if office_code:
        office = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == office_code)).first()
        if office is None:
            return []
        office_ids = [office.id] + ([office.parent_id] if office.parent_id else [])
        stmt = stmt.where(
            or_(
                Event.id.in_(
                    select(event_organisers.c.event_id)
                    .join(RecommendingUnit, RecommendingUnit.id == event_organisers.c.unit_id)
                    .where(RecommendingUnit.office_id.in_(office_ids))
                ),
                Event.id.in_(
                    select(Invitation.event_id)
                    .join(Enterprise, Enterprise.id == Invitation.enterprise_id)
                    .where(Enterprise.office_id == office.id)
                ),
            )
        )
    if area_code:
        area = db.session.scalars(select(Area).where(Area.code == area_code)).first()
        if area is None:
            return []
        stmt = stmt.where(
            or_(
                Event.id.in_(
                    select(event_organisers.c.event_id)
                    .join(RecommendingUnit, RecommendingUnit.id == event_organisers.c.unit_id)
                    .where(RecommendingUnit.area_id == area.id)
                ),
                Event.id.in_(
                    select(Invitation.event_id)
                    .join(Enterprise, Enterprise.id == Invitation.enterprise_id)
                    .where(Enterprise.area_id == area.id)
                ),
            )
        )
    entries = []
    for event in db.session.scalars(stmt.order_by(Event.starts_at, Event.id).limit(1000)):
        entries.append(
            CalendarEntry(
                kind="event",
                title=event.title,
                start=event.starts_at,
                end=event.ends_at,
                url=path_for("events.detail", event_id=event.id),
                status={EventStatus.CANCELLED: "cancelled", EventStatus.FINISHED: "done"}.get(event.status, "planned"),
                uid=f"event-{event.id}",
                location=event_place(event),
                description=f"{event.kind.label}: {event.description[:500]}" if event.description else event.kind.label,
            )
        )
    return entries


# --- reminders --------------------------------------------------------------------------------------------


def events_starting_between(start: datetime, end: datetime) -> Select:
    """Published events starting in [start, end), soonest first (the index on (status, starts_at) serves it)."""
    return (
        select(Event)
        .where(Event.status == EventStatus.PUBLISHED, Event.starts_at >= start, Event.starts_at < end)
        .order_by(Event.starts_at, Event.id)
    )


def attendee_addresses(registration: Registration) -> list[str]:
    """Where to email an attendee: their own address, and their enterprise's invitation address."""
    return list(dict.fromkeys(a for a in (registration.email, registration.invitation.email) if a))


def event_organiser_users(event: Event) -> list[User]:
    """Users to remind in the CRM: the creator, commerce staff of an organising unit's area and customs
    officers of an organising unit's office (active users only)."""
    area_ids = [u.area_id for u in event.organisers if u.area_id]
    office_ids = [u.office_id for u in event.organisers if u.office_id]
    clauses = []
    if event.created_by_id:
        clauses.append(User.id == event.created_by_id)
    if area_ids:
        clauses.append(
            and_(
                User.role == Role.BUREAU,
                User.id.in_(select(user_areas.c.user_id).where(user_areas.c.area_id.in_(area_ids))),
            )
        )
    if office_ids:
        clauses.append(
            and_(
                User.role == Role.CUSTOMS,
                User.id.in_(select(user_offices.c.user_id).where(user_offices.c.office_id.in_(office_ids))),
            )
        )
    if not clauses:
        return []
    return list(db.session.scalars(select(User).where(User.is_active.is_(True), or_(*clauses)).order_by(User.id)))


@dataclass
class EventReminderBatch:
    event: Event
    #: Attendees holding a seat (not waiting, not cancelled); see ``attendee_addresses``.
    attendees: list[Registration]
    organisers: list[User]


def reminder_batches(start: datetime, end: datetime) -> list[EventReminderBatch]:
    """Published events starting in [start, end) with their registered attendees and organisers."""
    events = db.session.scalars(events_starting_between(start, end).options(selectinload(Event.organisers))).all()
    if not events:
        return []
    by_event: dict[int, list[Registration]] = {e.id: [] for e in events}
    attendees = db.session.scalars(
        select(Registration)
        .where(Registration.event_id.in_(list(by_event)), Registration.status == RegistrationStatus.REGISTERED)
        .options(selectinload(Registration.invitation))
        .order_by(Registration.id)
    )
    for registration in attendees:
        by_event[registration.event_id].append(registration)
    return [EventReminderBatch(e, by_event[e.id], event_organiser_users(e)) for e in events]


def scope_label(user: Any = None) -> str:
    """For page headings: whether the figures cover every enterprise or only the user's scope."""
    from flask_babel import gettext as _

    return _("All enterprises") if scope_of(user).unrestricted else _("Enterprises in your jurisdiction")
