"""Read-side helpers for visits: lists, the enterprise section and timeline, calendars, My work, reminders
and statistics. Everything a user sees goes through the scope in ``crm.core.scope``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from flask import abort, has_request_context, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, bindparam, case, column, exists, func, or_, select, true, union_all, values
from sqlalchemy.orm import joinedload, selectinload

from crm.auth.models import User
from crm.core.files import StoredFile
from crm.core.models import UTCDateTime
from crm.core.pagination import capped_count
from crm.core.permissions import Permission, has_permission
from crm.core.scope import scoped_by_enterprise, scoped_enterprises
from crm.core.timeline import SECTION_TIMELINE_ROWS, CalendarEntry, TimelineEntry, newest_loaded
from crm.core.timeutil import local_date, local_midnight, local_today, local_tz
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import Stage, StageKind
from crm.plans.models import CultivationTask, Plan, TaskStatus
from crm.reference.models import Area, CustomsOffice
from crm.visits.models import DEFAULT_DURATION_MINUTES, Visit, VisitKind, VisitStatus, visit_participants
from crm.visits.services import MINUTES_OWNER, PHOTO_OWNER, TASK_SOURCE

#: Statuses shown on calendars: what is planned and what took place.
CALENDAR_STATUSES = (VisitStatus.PLANNED, VisitStatus.DONE)
#: The first stage is screening; every open stage after it is "in the pool" (优选培育推荐库).
SCREENING_STAGE = "candidate"


def _visit_options(stmt: Select) -> Select:
    return stmt.options(
        selectinload(Visit.enterprise),
        selectinload(Visit.officer),
        selectinload(Visit.participants),
    )


def office_ids_under(office_code: str) -> Select:
    """The ids of an office and of its subordinate offices (a 直属海关 covers its 隶属海关)."""
    office_id = select(CustomsOffice.id).where(CustomsOffice.code == office_code).scalar_subquery()
    return select(CustomsOffice.id).where(or_(CustomsOffice.id == office_id, CustomsOffice.parent_id == office_id))


def _participant_filter(user_id: int):
    return Visit.id.in_(select(visit_participants.c.visit_id).where(visit_participants.c.user_id == user_id))


def filter_visits(
    stmt: Select,
    *,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
    enterprise_id: int | None = None,
) -> Select:
    """Narrow a statement over ``Visit`` to a participant, the enterprise's office (with its subordinate offices)
    or area, or one enterprise."""
    if person_id:
        stmt = stmt.where(_participant_filter(person_id))
    if enterprise_id:
        stmt = stmt.where(Visit.enterprise_id == enterprise_id)
    if office_code or area_code:
        enterprise_ids = select(Enterprise.id)
        if office_code:
            enterprise_ids = enterprise_ids.where(Enterprise.office_id.in_(office_ids_under(office_code)))
        if area_code:
            area_id = select(Area.id).where(Area.code == area_code).scalar_subquery()
            enterprise_ids = enterprise_ids.where(Enterprise.area_id == area_id)
        stmt = stmt.where(Visit.enterprise_id.in_(enterprise_ids))
    return stmt


def scoped_visits(user: Any = None) -> Select:
    """``select(Visit)`` limited to visits of enterprises in the user's scope."""
    return scoped_by_enterprise(select(Visit), Visit.enterprise_id, user=user)


def get_visit_or_404(visit_id: int, user: Any = None) -> Visit:
    """A visit the user may see; 404 when it does not exist or its enterprise lies outside their scope."""
    visit = db.session.scalars(scoped_visits(user).where(Visit.id == visit_id)).one_or_none()
    if visit is None:
        abort(404)
    return visit


def visit_list(filters: Mapping[str, Any], user: Any = None) -> Select:
    """Visits in scope, newest first, filtered by ``officer`` (a participant's username) or ``person`` (a
    participant's id), ``area`` and ``office`` codes, ``enterprise`` id, ``status``, ``kind``, ``q`` (enterprise
    name) and local dates ``from``/``to`` (inclusive)."""
    stmt = _visit_options(scoped_visits(user))
    person_id = filters.get("person") or None
    if filters.get("officer"):
        person_id = db.session.scalar(select(User.id).where(User.username == str(filters["officer"]))) or -1
    enterprise_id = filters.get("enterprise")
    stmt = filter_visits(
        stmt,
        person_id=person_id,
        office_code=filters.get("office") or None,
        area_code=filters.get("area") or None,
        enterprise_id=int(enterprise_id) if enterprise_id else None,
    )
    if filters.get("status"):
        stmt = stmt.where(Visit.status == VisitStatus(filters["status"]))
    if filters.get("kind"):
        stmt = stmt.where(Visit.kind == filters["kind"])
    if filters.get("q"):
        stmt = stmt.where(
            Visit.enterprise_id.in_(select(Enterprise.id).where(Enterprise.name.like(f"%{filters['q'].strip()}%")))
        )
    start: date | None = filters.get("from")
    end: date | None = filters.get("to")
    if start:
        stmt = stmt.where(Visit.starts_at >= local_midnight(start))
    if end:
        stmt = stmt.where(Visit.starts_at < local_midnight(end + timedelta(days=1)))
    return stmt.order_by(Visit.starts_at.desc(), Visit.id.desc())


def visit_tasks(visit: Visit) -> list[CultivationTask]:
    """The cultivation tasks created from a visit."""
    return list(
        db.session.scalars(
            select(CultivationTask)
            .where(
                CultivationTask.enterprise_id == visit.enterprise_id,
                CultivationTask.source_kind == TASK_SOURCE,
                CultivationTask.source_id == visit.id,
            )
            .options(
                selectinload(CultivationTask.items),
                selectinload(CultivationTask.owner),
                selectinload(CultivationTask.owner_contact),
            )
            .order_by(CultivationTask.id)
        )
    )


def visit_attachments(visit: Visit) -> dict[str, list[StoredFile]]:
    """A visit's files: {"photos": [...], "minutes": [...]}."""
    files = db.session.scalars(
        select(StoredFile)
        .where(StoredFile.owner_type.in_((PHOTO_OWNER, MINUTES_OWNER)), StoredFile.owner_id == visit.id)
        .order_by(StoredFile.id)
    ).all()
    return {
        "photos": [f for f in files if f.owner_type == PHOTO_OWNER],
        "minutes": [f for f in files if f.owner_type == MINUTES_OWNER],
    }


def get_attachment_or_404(visit: Visit, file_id: int) -> StoredFile:
    stored = db.session.get(StoredFile, file_id)
    if stored is None or stored.owner_type not in (PHOTO_OWNER, MINUTES_OWNER) or stored.owner_id != visit.id:
        abort(404)
    return stored


# --- the enterprise page (wired in by the lead) ---------------------------------------------------------


#: How many planned and how many recent visits the enterprise page lists.
SECTION_VISITS = 5
#: The visits the enterprise timeline shows: those that took place or were cancelled.
TIMELINE_STATUSES = (VisitStatus.DONE, VisitStatus.CANCELLED)


@cache
def _section_statement() -> Select:
    """The section's one query, built once per process (the enterprise id is bound when it runs)."""
    happened = case((Visit.status.in_(TIMELINE_STATUSES), 0), else_=1)
    ranked = (
        select(
            Visit.id.label("id"),
            func.row_number()
            .over(
                partition_by=Visit.status,
                order_by=(case((Visit.status == VisitStatus.PLANNED, Visit.starts_at)).asc(), Visit.id),
            )
            .label("planned_position"),
            func.row_number()
            .over(partition_by=Visit.status, order_by=(Visit.starts_at.desc(), Visit.id.desc()))
            .label("position"),
            func.count().over(partition_by=Visit.status).label("total"),
            func.row_number()
            .over(partition_by=happened, order_by=(Visit.starts_at.desc(), Visit.id.desc()))
            .label("timeline_position"),
            func.count().over(partition_by=happened).label("timeline_total"),
        )
        .where(Visit.enterprise_id == bindparam("enterprise_id"))
        .subquery()
    )
    return (
        select(Visit, ranked.c.planned_position, ranked.c.position, ranked.c.total, ranked.c.timeline_position)
        .add_columns(ranked.c.timeline_total)
        .join(ranked, ranked.c.id == Visit.id)
        .where(
            or_(
                (Visit.status == VisitStatus.PLANNED) & (ranked.c.planned_position <= SECTION_VISITS),
                (Visit.status == VisitStatus.DONE) & (ranked.c.position <= SECTION_VISITS),
                # the newest that took place or were cancelled: the page's timeline entries
                Visit.status.in_(TIMELINE_STATUSES) & (ranked.c.timeline_position <= SECTION_TIMELINE_ROWS),
            )
        )
        .options(joinedload(Visit.participants))
    )


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise has visits."""
    return select(Visit.id).where(Visit.enterprise_id == Enterprise.id).exists()


def enterprise_section_context(enterprise: Enterprise, *, has_records: bool = True) -> dict[str, Any]:
    """What ``templates/visits/_enterprise_section.html`` needs, under the one key ``visits_section``: recent and
    planned visits and the "log a visit" button. The caller has already checked the enterprise is in scope.

    One query (the next planned and the latest visits that took place, with the count of those, through window
    functions) and one for their participants. ``has_records=False``: the caller knows there is no visit (no query)."""
    rows = (
        db.session.execute(_section_statement(), {"enterprise_id": enterprise.id}).unique().all() if has_records else []
    )
    planned = [row for row in rows if row[0].status == VisitStatus.PLANNED]
    recent = [row for row in rows if row[0].status == VisitStatus.DONE and row.position <= SECTION_VISITS]
    happened_rows = sorted(
        (row for row in rows if row[0].status in TIMELINE_STATUSES and row.timeline_position <= SECTION_TIMELINE_ROWS),
        key=lambda row: row.timeline_position,
    )
    return {
        "visits_section": {
            "enterprise": enterprise,
            "planned": [row[0] for row in sorted(planned, key=lambda row: row.planned_position)],
            "recent": [row[0] for row in sorted(recent, key=lambda row: row.position)],
            "done_count": recent[0].total if recent else 0,
            "can_log": has_permission(current_user, Permission.EDIT),
            "log_url": url_for("visits.new_visit", enterprise_id=enterprise.id),
            "plan_url": url_for("visits.new_visit", enterprise_id=enterprise.id, status=VisitStatus.PLANNED.value),
            "list_url": url_for("visits.list_visits", enterprise=enterprise.id),
            # The newest visits that took place or were cancelled (SECTION_TIMELINE_ROWS at most), and their count.
            "timeline_rows": [row[0] for row in happened_rows],
            "timeline_total": happened_rows[0].timeline_total if happened_rows else 0,
        }
    }


def timeline_answer(enterprise: Enterprise, context: dict[str, Any], wanted: int) -> list[TimelineEntry] | None:
    """The visit entries of the enterprise's timeline, from the section's context (``DetailSection``)."""
    section = context["visits_section"]
    rows = newest_loaded(section["timeline_rows"], section["timeline_total"], wanted)
    return None if rows is None else visit_entries_of(rows)


def timeline_entries(enterprise_id: int, *, before: datetime | None = None, limit: int = 50) -> list[TimelineEntry]:
    """The enterprise's visits that took place (or were cancelled), newest first, for its timeline."""
    stmt = (
        select(Visit)
        .options(selectinload(Visit.participants))
        .where(Visit.enterprise_id == enterprise_id, Visit.status.in_(TIMELINE_STATUSES))
        .order_by(Visit.starts_at.desc(), Visit.id.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(Visit.starts_at < before)
    return visit_entries_of(db.session.scalars(stmt).all())


def visit_entries_of(visits: list[Visit]) -> list[TimelineEntry]:
    """Timeline entries of visits already loaded (with their participants)."""
    from crm.reference.cache import user_names

    names = user_names()
    entries = []
    for visit in visits:
        people = "、".join(str(user) for user in visit.participants)
        if visit.status == VisitStatus.CANCELLED:
            title = _("%(kind)s cancelled", kind=visit.kind.label)
            body = visit.cancel_reason
        else:
            title = _("%(kind)s with %(people)s", kind=visit.kind.label, people=people) if people else visit.kind.label
            body = visit.summary
        entries.append(
            TimelineEntry(
                at=visit.starts_at,
                kind="visit",
                title=title,
                body=_excerpt(body),
                author=names.get(visit.officer_id) if visit.officer_id else None,
                url=visit_url(visit.id),
                icon=visit.kind.icon,
            )
        )
    return entries


def visit_url(visit_id: int) -> str:
    """The visit page's path (also outside a request, for jobs that build timelines or calendars)."""
    if has_request_context():
        return url_for("visits.detail", visit_id=visit_id)
    return f"/visits/{visit_id}"


def _excerpt(text: str, length: int = 200) -> str:
    text = (text or "").strip()
    return text if len(text) <= length else text[: length - 1] + "…"


# --- calendars and reminders ----------------------------------------------------------------------------


def _calendar_statement(
    user: Any,
    start: datetime,
    end: datetime,
    *,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
) -> Select:
    """Plain columns of the planned and done visits in ``[start, end)`` within the user's scope, filtered."""
    stmt = select(
        Visit.id,
        Visit.kind,
        Visit.status,
        Visit.starts_at,
        Visit.duration_minutes,
        Visit.location,
        Visit.summary,
        Enterprise.name,
    ).join(Enterprise, Enterprise.id == Visit.enterprise_id)
    # The scope and the filters test the joined enterprise row: an IN over every enterprise in scope would be
    # hashed again for each day of a per-day query.
    stmt = scoped_enterprises(stmt, user=user).where(
        Visit.status.in_(CALENDAR_STATUSES), Visit.starts_at >= start, Visit.starts_at < end
    )
    if person_id:
        stmt = stmt.where(_participant_filter(person_id))
    if office_code:
        stmt = stmt.where(Enterprise.office_id.in_(office_ids_under(office_code)))
    if area_code:
        stmt = stmt.where(Enterprise.area_id == select(Area.id).where(Area.code == area_code).scalar_subquery())
    return stmt


def _first_of_each_day(stmt: Select, start: datetime, end: datetime, per_day: int) -> Select:
    """``stmt`` (over visits in ``[start, end)``) cut to the first ``per_day`` visits of each local day: a LATERAL
    join over the days on PostgreSQL (one index range scan per day, stopping at ``per_day``), a UNION ALL of one
    limited query per day elsewhere."""
    tz = local_tz()
    first, last = local_date(start, tz), local_date(end - timedelta(microseconds=1), tz)
    days = [
        (
            max(start, local_midnight(first + timedelta(days=n), tz)),
            min(end, local_midnight(first + timedelta(days=n + 1), tz)),
        )
        for n in range((last - first).days + 1)
    ]
    order = (Visit.starts_at, Visit.id)
    if db.session.get_bind().dialect.name == "postgresql":
        bounds = values(
            column("day_start", UTCDateTime()), column("day_end", UTCDateTime()), name="calendar_days"
        ).data(days)
        per = (
            stmt.where(Visit.starts_at >= bounds.c.day_start, Visit.starts_at < bounds.c.day_end)
            .order_by(*order)
            .limit(per_day)
            .lateral("day_visits")
        )
        return select(*per.c).select_from(bounds).join(per, true()).order_by(per.c.starts_at, per.c.id)
    parts = [
        select(*limited.c)
        for limited in (
            stmt.where(Visit.starts_at >= day_start, Visit.starts_at < day_end)
            .order_by(*order)
            .limit(per_day)
            .subquery()
            for day_start, day_end in days
        )
    ]
    united = union_all(*parts).subquery("day_visits")
    return select(*united.c).order_by(united.c.starts_at, united.c.id)


def first_of_each_day(items: list[Any], per_day: int, day_of: Callable[[Any], Any]) -> list[Any]:
    """``items`` in time order cut to the first ``per_day`` of each day (``day_of(item)``)."""
    taken: dict[Any, int] = {}
    kept = []
    for item in items:
        day = day_of(item)
        if taken.get(day, 0) < per_day:
            taken[day] = taken.get(day, 0) + 1
            kept.append(item)
    return kept


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
    """The calendar provider of visits: planned and done visits in ``[start, end)`` within the user's scope;
    ``per_day``: only the first so many of each local day (what a calendar grid shows, however busy the day),
    unless ``person_id`` narrows them to one person's.

    Reads plain columns (no ORM objects) and the participants in one more query: a province-wide month holds
    thousands of visits."""
    stmt = _calendar_statement(user, start, end, person_id=person_id, office_code=office_code, area_code=area_code)
    if per_day is None or person_id:
        # One person's visits come through the participants' index, a few a day: ``collect_entries`` cuts them.
        rows = db.session.execute(stmt.order_by(Visit.starts_at, Visit.id)).all()
        ids: Any = stmt.with_only_columns(Visit.id).order_by(None).scalar_subquery()
        if per_day is not None:
            tz = local_tz()
            rows = first_of_each_day(rows, per_day, lambda row: local_date(row[3], tz))  # starts_at is fourth
            ids = [row[0] for row in rows]
    else:
        rows = db.session.execute(_first_of_each_day(stmt, start, end, per_day)).all()
        ids = [row[0] for row in rows]
    if not rows:
        return []
    people: dict[int, list[str]] = {}
    for visit_id, name in db.session.execute(
        select(visit_participants.c.visit_id, User.display_name)
        .join(User, User.id == visit_participants.c.user_id)
        .where(visit_participants.c.visit_id.in_(ids))
        .order_by(User.display_name)
    ):
        people.setdefault(visit_id, []).append(name)
    # Translated once per call, not once per visit.
    kind_labels = {kind: kind.label for kind in VisitKind}
    kind_lines = {kind: _("Kind: %(kind)s", kind=label) for kind, label in kind_labels.items()}
    people_line = _("Our people: %(people)s", people="%(people)s")
    url_prefix = visit_url(0).removesuffix("0")
    entries = []
    for visit_id, kind, status, starts_at, duration, location, summary, enterprise_name in rows:
        names = "、".join(people.get(visit_id, []))
        description = "\n".join(
            part
            for part in (kind_lines[kind], people_line % {"people": names} if names else "", _excerpt(summary, 500))
            if part
        )
        entries.append(
            CalendarEntry(
                kind="visit",
                title=f"{kind_labels[kind]} · {enterprise_name}",
                start=starts_at,
                end=starts_at + timedelta(minutes=duration or DEFAULT_DURATION_MINUTES),
                url=f"{url_prefix}{visit_id}",
                status=status.value,
                uid=f"visit-{visit_id}",
                location=location,
                description=description,
            )
        )
    return entries


def count_calendar_visits(
    user: Any,
    start: datetime,
    end: datetime,
    limit: int,
    *,
    person_id: int | None = None,
    office_code: str | None = None,
    area_code: str | None = None,
) -> int:
    """How many visits ``calendar_entries`` holds in ``[start, end)``, counted up to ``limit + 1`` at most."""
    stmt = _calendar_statement(user, start, end, person_id=person_id, office_code=office_code, area_code=area_code)
    return db.session.scalar(capped_count(stmt.with_only_columns(Visit.id), limit)) or 0


def planned_visits_between(start: datetime, end: datetime) -> Select:
    """Planned visits starting in ``[start, end)``, every enterprise (for reminder jobs, which scope per
    recipient); served by the (status, starts_at) index."""
    return (
        select(Visit)
        .where(Visit.status == VisitStatus.PLANNED, Visit.starts_at >= start, Visit.starts_at < end)
        .order_by(Visit.starts_at, Visit.id)
    )


def planned_visits_for(user: Any, start: datetime, end: datetime) -> Select:
    """Planned visits in ``[start, end)`` that the user takes part in, within their scope."""
    return _visit_options(
        scoped_by_enterprise(planned_visits_between(start, end), Visit.enterprise_id, user=user).where(
            _participant_filter(user.id)
        )
    )


# --- My work --------------------------------------------------------------------------------------------


def week_bounds(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week of ``day``."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def overdue_planned_visits(user: Any, now: datetime | None = None) -> Select:
    """Planned visits of the user whose time has passed without being logged (oldest first)."""
    now = now or datetime.now(UTC)
    return _visit_options(
        scoped_visits(user).where(
            Visit.status == VisitStatus.PLANNED,
            Visit.starts_at < local_midnight(local_today(now)),
            _participant_filter(user.id),
        )
    ).order_by(Visit.starts_at, Visit.id)


def overdue_tasks(user: Any, today: date | None = None) -> Select:
    """Open cultivation tasks owned by the user and past their due date, within their scope (most overdue first)."""
    today = today or local_today()
    stmt = select(CultivationTask).where(
        CultivationTask.owner_id == user.id,
        CultivationTask.status != TaskStatus.DONE,
        CultivationTask.due_on < today,
    )
    return (
        scoped_by_enterprise(stmt, CultivationTask.enterprise_id, user=user)
        .options(selectinload(CultivationTask.plan).selectinload(Plan.enterprise), selectinload(CultivationTask.items))
        .order_by(CultivationTask.due_on, CultivationTask.id)
    )


def next_planned_column(now: datetime):
    return (
        select(func.min(Visit.starts_at))
        .where(Visit.enterprise_id == Enterprise.id, Visit.status == VisitStatus.PLANNED, Visit.starts_at >= now)
        .correlate(Enterprise)
        .scalar_subquery()
    )


def visited_since(since: datetime):
    """A WHERE clause on ``Enterprise``: it had a visit that took place at or after ``since``."""
    return exists(
        select(Visit.id).where(
            Visit.enterprise_id == Enterprise.id, Visit.status == VisitStatus.DONE, Visit.starts_at >= since
        )
    )


def unvisited_cutoff(days: int, today: date | None = None) -> datetime:
    """Visits before this instant are older than ``days`` local days."""
    return local_midnight((today or local_today()) - timedelta(days=days))


def assigned_enterprises(
    user: Any, *, unvisited_days: int | None = None, now: datetime | None = None, today: date | None = None
) -> Select:
    """Rows of (Enterprise, last visit, next planned visit) for the enterprises assigned to the user (as
    commerce staff or customs officer) that are still being cultivated or followed, never-visited and
    longest-unvisited first; ``unvisited_days`` keeps those without a visit in that many days."""
    now = now or datetime.now(UTC)
    last_visit = Enterprise.last_visit_at
    stmt = (
        scoped_enterprises(select(Enterprise, last_visit, next_planned_column(now).label("next_visit_at")), user=user)
        .where(*_assigned(user))
        .options(selectinload(Enterprise.area))
    )
    if unvisited_days is not None:
        stmt = stmt.where(_unvisited(unvisited_cutoff(unvisited_days, today)))
    return stmt.order_by(last_visit.is_(None).desc(), last_visit.asc(), Enterprise.name, Enterprise.id)


def _assigned(user: Any) -> tuple:
    """Conditions on ``Enterprise``: assigned to the user (commerce staff or customs officer), not lost."""
    lost = select(Stage.code).where(Stage.kind == StageKind.LOST)
    return (
        or_(Enterprise.commerce_officer_id == user.id, Enterprise.customs_officer_id == user.id),
        Enterprise.stage.not_in(lost),
    )


def _unvisited(cutoff: datetime):
    """A condition on ``Enterprise``: no visit took place at or after ``cutoff`` (its stored latest visit)."""
    return or_(Enterprise.last_visit_at.is_(None), Enterprise.last_visit_at < cutoff)


def count_assigned(user: Any, days: int, today: date | None = None) -> tuple[int, int]:
    """How many enterprises ``assigned_enterprises`` lists, and how many of them had no visit in ``days`` days:
    one statement."""
    unvisited = case((_unvisited(unvisited_cutoff(days, today)), 1), else_=0)
    stmt = scoped_enterprises(select(func.count(Enterprise.id), func.sum(unvisited)), user=user).where(*_assigned(user))
    total, unvisited_count = db.session.execute(stmt).one()
    return total or 0, int(unvisited_count or 0)


def count_unvisited(user: Any, days: int, today: date | None = None) -> int:
    return count_assigned(user, days, today)[1]


# --- statistics -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, value: str) -> Month:
        year, month = value.split("-")
        result = cls(int(year), int(month))
        if not 1 <= result.month <= 12 or not 1900 < result.year < 3000:
            raise ValueError(value)
        return result

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)


def month_range(last: Month, count: int) -> list[Month]:
    months = [last]
    while len(months) < count:
        months.insert(0, months[0].previous())
    return months


@dataclass
class StatisticsRow:
    key: Any
    label: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _month_bucket(months: list[Month]):
    """A CASE expression giving the position in ``months`` of the month of ``Visit.starts_at`` (local months,
    computed as UTC bounds so the database needs no time-zone functions; a number is cheaper to group by than
    the month's key)."""
    whens = []
    for position, month in enumerate(months):
        whens.append((Visit.starts_at < local_midnight(month.next().first_day), position))
    return case(*whens, else_=None)


def visits_per_month(by: str, months: list[Month], user: Any = None) -> list[StatisticsRow]:
    """Visits that took place per month, grouped ``by`` "officer" (each participant), "office" or "area" of the
    enterprise, within the user's scope. The counts come from one aggregate query per kind of grouping (the
    offices' and the areas' from the same), cached until the visits or the enterprises change."""
    if by not in ("officer", "office", "area"):
        raise ValueError(f"unknown grouping {by!r}")
    counts: dict[Any, dict[str, int]] = {}
    if by == "officer":
        for group, position, count in _monthly_visit_counts("officer", months, user):
            counts.setdefault(group, {})[months[position].key] = count
    else:
        for office_id, area_id, position, count in _monthly_visit_counts("enterprise", months, user):
            months_of = counts.setdefault(office_id if by == "office" else area_id, {})
            key = months[position].key
            months_of[key] = months_of.get(key, 0) + count
    labels = _group_labels(by, [k for k in counts if k is not None])
    rows = [
        StatisticsRow(key=k, label=labels.get(k, "—") if k is not None else "—", counts=v) for k, v in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row.total, row.label, row.key or 0))


def _monthly_visit_counts(grouping: str, months: list[Month], user: Any) -> list[list[Any]]:
    """Rows [participant, month, visits] (``grouping`` "officer") or [office id, area id, month, visits] of the
    enterprise ("enterprise"), the month as its position in ``months``, for the visits that took place in
    ``months`` within the user's scope; cached until a visit or an enterprise changes (``counts_cache``)."""
    from crm.core.scope import scope_of
    from crm.enterprises.counts_cache import ENTERPRISES, VISITS, cached_counts

    def compute() -> dict[str, Any]:
        start = local_midnight(months[0].first_day)
        end = local_midnight(months[-1].next().first_day)
        bucket = _month_bucket(months).label("month")
        conditions = [Visit.status == VisitStatus.DONE, Visit.starts_at >= start, Visit.starts_at < end]
        if grouping == "officer":
            keys: tuple[Any, ...] = (visit_participants.c.user_id,)
            stmt = select(*keys, bucket, func.count()).select_from(Visit)
            stmt = stmt.join(visit_participants, visit_participants.c.visit_id == Visit.id)
        else:
            keys = (Enterprise.office_id, Enterprise.area_id)
            stmt = select(*keys, bucket, func.count()).select_from(Visit)
            stmt = stmt.join(Enterprise, Enterprise.id == Visit.enterprise_id)
        stmt = scoped_by_enterprise(stmt.where(*conditions), Visit.enterprise_id, user=user).group_by(*keys, bucket)
        return {"rows": [list(row) for row in db.session.execute(stmt)]}

    parts = {
        "figure": "visits-per-month",
        "grouping": grouping,
        "months": [month.key for month in months],
        "scope": scope_of(user).cache_key(),
    }
    return cached_counts(parts, compute, topics=(VISITS, ENTERPRISES))["rows"]


def _group_labels(by: str, keys: list[Any]) -> dict[Any, str]:
    if not keys:
        return {}
    if by == "officer":
        return {u.id: str(u) for u in db.session.scalars(select(User).where(User.id.in_(keys)))}
    model = CustomsOffice if by == "office" else Area
    return {row.id: row.display_name for row in db.session.scalars(select(model).where(model.id.in_(keys)))}


@dataclass
class Coverage:
    key: Any
    label: str
    pooled: int
    visited: int

    @property
    def share(self) -> float:
        return round(100 * self.visited / self.pooled, 1) if self.pooled else 0.0


def pool_stages() -> Select:
    """Codes of the stages that make up the pool: open stages after screening."""
    return select(Stage.code).where(Stage.kind == StageKind.OPEN, Stage.code != SCREENING_STAGE)


def pool_coverage(
    user: Any = None, *, days: int = 90, by: str | None = None, now: datetime | None = None
) -> list[Coverage]:
    """The share of enterprises in the pool that had a visit in the last ``days`` days (since the local midnight
    that many days before today), overall (``by`` None) or per "area" or "office", within the user's scope.

    One aggregate query per (area, office) pair gives all three, cached until a visit or an enterprise changes."""
    if by not in (None, "area", "office"):
        raise ValueError(f"unknown grouping {by!r}")
    since = local_midnight(local_today(now or datetime.now(UTC)) - timedelta(days=days))
    rows = _coverage_counts(since, user)
    if by is None:
        pooled = sum(row[2] for row in rows)
        visited_count = sum(row[3] for row in rows)
        return [Coverage(None, _("All enterprises in the pool"), pooled, visited_count)]
    grouped: dict[Any, list[int]] = {}
    for area_id, office_id, pooled, visited_count in rows:
        totals = grouped.setdefault(area_id if by == "area" else office_id, [0, 0])
        totals[0] += pooled
        totals[1] += visited_count
    labels = _group_labels(by, [key for key in grouped if key is not None])
    result = [Coverage(key, labels.get(key, "—"), pooled, visited) for key, (pooled, visited) in grouped.items()]
    return sorted(result, key=lambda c: (-c.pooled, c.label, c.key or 0))


def _coverage_counts(since: datetime, user: Any) -> list[list[Any]]:
    """Rows [area id, office id, enterprises in the pool, of which visited since ``since``] within the user's
    scope, cached until a visit or an enterprise changes (``counts_cache``)."""
    from crm.core.scope import scope_of
    from crm.enterprises.counts_cache import ENTERPRISES, VISITS, cached_counts

    def compute() -> dict[str, Any]:
        # The enterprises visited since then, once each, joined to the pool: one pass over each table instead of
        # one probe of the visits per enterprise in the pool.
        visited = (
            select(Visit.enterprise_id)
            .where(Visit.status == VisitStatus.DONE, Visit.starts_at >= since)
            .distinct()
            .subquery()
        )
        stmt = (
            scoped_enterprises(
                select(Enterprise.area_id, Enterprise.office_id, func.count(), func.count(visited.c.enterprise_id)),
                user=user,
            )
            .outerjoin(visited, visited.c.enterprise_id == Enterprise.id)
            .where(Enterprise.stage.in_(pool_stages()))
            .group_by(Enterprise.area_id, Enterprise.office_id)
        )
        return {"rows": [list(row) for row in db.session.execute(stmt)]}

    parts = {"figure": "pool-coverage", "since": since.isoformat(), "scope": scope_of(user).cache_key()}
    return cached_counts(parts, compute, topics=(VISITS, ENTERPRISES))["rows"]
