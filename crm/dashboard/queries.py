"""The dashboard's figures: a handful of aggregate queries within the viewer's scope, never rows loaded into Python.

Months are local (Asia/Shanghai) calendar months: a timestamp falls into the month whose local midnight bounds
it, computed in SQL by one CASE over the month boundaries (portable, and the range stays a range on the index).
Percentiles interpolate between ranks like PostgreSQL's ``percentile_cont``, with ``row_number()`` and ``count()``
windows so SQLite computes the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Float, Integer, and_, case, exists, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from crm.core.scope import scope_of
from crm.core.timeutil import local_midnight, local_today
from crm.dashboard.models import CertificationTarget
from crm.enterprises.models import Enterprise
from crm.events.models import Registration
from crm.extensions import db
from crm.pipeline.models import Stage, StageChange, StageKind
from crm.plans.models import CultivationTask, TaskStatus
from crm.reference.models import Area, CustomsOffice
from crm.visits.models import Visit, VisitStatus

APPLIED = "applied"
CERTIFIED = "certified"
#: The percentiles of days in stage the dashboard shows, as (numerator, denominator) so ranks stay integers.
MEDIAN = (1, 2)
P90 = (9, 10)
#: How long the days-in-stage percentiles are kept in the cache, whatever changes.
DURATIONS_TTL_SECONDS = 900


# --- portable SQL pieces ------------------------------------------------------------------------------------


class days_between(FunctionElement):  # noqa: N801 (a SQL function, named like one)
    """Fractional days from the second timestamp to the first."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})) / 86400.0)"


def month_starts(start: date, end: date) -> list[date]:
    """The first day of every month from ``start``'s month to ``end``'s month."""
    months, current = [], date(start.year, start.month, 1)
    while current <= end:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def month_bucket(column: Any, months: list[date]) -> ColumnElement[int]:
    """The index in ``months`` of the local month a UTC timestamp falls into (rows are already range-limited)."""
    boundaries = [local_midnight(month) for month in months[1:]]
    if not boundaries:
        return literal(0, Integer)
    return case(*[(column < boundary, index) for index, boundary in enumerate(boundaries)], else_=len(boundaries))


# --- the filter ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilter:
    """What the figures cover: a local date range (inclusive) and an optional area or office within the scope."""

    start: date
    end: date
    area_id: int | None = None
    office_id: int | None = None
    user: Any = None

    @property
    def starts_at(self) -> datetime:
        return local_midnight(self.start)

    @property
    def ends_before(self) -> datetime:
        return local_midnight(self.end + timedelta(days=1))

    @property
    def year(self) -> int:
        """The year of the certification target: the year the range ends in."""
        return self.end.year

    @property
    def months(self) -> list[date]:
        return month_starts(self.start, self.end)

    def enterprise_condition(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Enterprise``: in the viewer's scope and in the chosen area or office."""
        conditions = [scope_of(self.user).enterprise_filter()]
        if self.area_id is not None:
            conditions.append(Enterprise.area_id == self.area_id)
        if self.office_id is not None:
            conditions.append(Enterprise.office_id == self.office_id)
        return and_(*conditions)

    @property
    def is_everything(self) -> bool:
        return scope_of(self.user).unrestricted and self.area_id is None and self.office_id is None

    def by_enterprise(self, stmt, column):
        """Limit a statement over records of enterprises (history, tasks, visits ...) to the covered ones."""
        if self.is_everything:
            return stmt
        return stmt.where(column.in_(select(Enterprise.id).where(self.enterprise_condition())))


def default_range(today: date | None = None) -> tuple[date, date]:
    """This year so far."""
    today = today or local_today()
    return date(today.year, 1, 1), today


# --- figures ------------------------------------------------------------------------------------------------------


@dataclass
class EnterpriseCounts:
    """Counts of the enterprises covered, now: by area, office and stage, stale ones and suspended incentives."""

    by_area_stage: dict[tuple[int, str], int] = field(default_factory=dict)
    by_office_stage: dict[tuple[int | None, str], int] = field(default_factory=dict)
    by_stage: dict[str, int] = field(default_factory=dict)
    stale_by_stage: dict[str, int] = field(default_factory=dict)
    suspended_by_area: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_stage.values())

    @classmethod
    def from_rows(cls, rows: list[list[Any]]) -> EnterpriseCounts:
        """From the GROUP BY's rows: (area_id, office_id, stage, count, stale, suspended)."""
        return _enterprise_counts_from_rows(rows)


def stale_condition(today: date | None = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Enterprise``: longer than its stage's SLA without a stage change or a visit that took place.

    The pipeline's own staleness counts only the time in stage; the dashboard also counts a visit as contact.
    """
    today = today or local_today()
    conditions = []
    for code, sla_days in db.session.execute(select(Stage.code, Stage.sla_days).where(Stage.sla_days.isnot(None))):
        threshold = local_midnight(today - timedelta(days=sla_days))
        visited = exists().where(
            Visit.enterprise_id == Enterprise.id, Visit.status == VisitStatus.DONE, Visit.starts_at >= threshold
        )
        conditions.append(and_(Enterprise.stage == code, Enterprise.stage_entered_at < threshold, ~visited))
    return or_(*conditions) if conditions else false()


def enterprise_counts(flt: DashboardFilter, today: date | None = None) -> EnterpriseCounts:
    """One GROUP BY over the covered enterprises, now (the date range does not apply to a snapshot)."""
    return EnterpriseCounts.from_rows(_enterprise_count_rows(flt, today))


def _enterprise_count_rows(flt: DashboardFilter, today: date | None = None) -> list[list[Any]]:
    """(area_id, office_id, stage, count, stale, suspended) per group."""
    stmt = (
        select(
            Enterprise.area_id,
            Enterprise.office_id,
            Enterprise.stage,
            func.count(),
            func.sum(case((stale_condition(today), 1), else_=0)),
            func.sum(case((Enterprise.incentives_suspended.is_(True), 1), else_=0)),
        )
        .where(flt.enterprise_condition())
        .group_by(Enterprise.area_id, Enterprise.office_id, Enterprise.stage)
    )
    return [
        [a, o, s, n, int(stale or 0), int(suspended or 0)] for a, o, s, n, stale, suspended in db.session.execute(stmt)
    ]


def _enterprise_counts_from_rows(rows: list[list[Any]]) -> EnterpriseCounts:
    counts = EnterpriseCounts()
    for area_id, office_id, stage, count, stale, suspended in rows:
        counts.by_area_stage[(area_id, stage)] = counts.by_area_stage.get((area_id, stage), 0) + count
        counts.by_office_stage[(office_id, stage)] = counts.by_office_stage.get((office_id, stage), 0) + count
        counts.by_stage[stage] = counts.by_stage.get(stage, 0) + count
        counts.stale_by_stage[stage] = counts.stale_by_stage.get(stage, 0) + int(stale or 0)
        counts.suspended_by_area[area_id] = counts.suspended_by_area.get(area_id, 0) + int(suspended or 0)
    return counts


def monthly_pipeline(flt: DashboardFilter) -> dict[str, list[int]]:
    """Entries into the pipeline, applications and certifications per local month of the range."""
    months = flt.months
    kind = case(
        (StageChange.from_stage.is_(None), "entries"),
        (StageChange.to_stage == APPLIED, "applications"),
        else_="certifications",
    )
    bucket = month_bucket(StageChange.changed_at, months)
    stmt = (
        select(bucket, kind, func.count())
        .where(
            StageChange.changed_at >= flt.starts_at,
            StageChange.changed_at < flt.ends_before,
            or_(StageChange.from_stage.is_(None), StageChange.to_stage.in_([APPLIED, CERTIFIED])),
        )
        .group_by(bucket, kind)
    )
    stmt = flt.by_enterprise(stmt, StageChange.enterprise_id)
    series = {name: [0] * len(months) for name in ("entries", "applications", "certifications")}
    for index, name, count in db.session.execute(stmt):
        series[name][int(index)] += count
    return series


def certified_by_area(flt: DashboardFilter) -> dict[int, int]:
    """Enterprises moved into ``certified`` during the target year, per area (each enterprise once)."""
    year_start, year_end = local_midnight(date(flt.year, 1, 1)), local_midnight(date(flt.year + 1, 1, 1))
    stmt = (
        select(Enterprise.area_id, func.count(func.distinct(StageChange.enterprise_id)))
        .select_from(StageChange)
        .join(Enterprise, Enterprise.id == StageChange.enterprise_id)
        .where(
            StageChange.to_stage == CERTIFIED,
            StageChange.changed_at >= year_start,
            StageChange.changed_at < year_end,
            flt.enterprise_condition(),
        )
        .group_by(Enterprise.area_id)
    )
    return dict(db.session.execute(stmt).all())


def targets_by_area(year: int) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(CertificationTarget.area_id, CertificationTarget.target).where(CertificationTarget.year == year)
        ).all()
    )


@dataclass(frozen=True)
class StageDuration:
    stage: str
    stays: int
    median_days: float
    p90_days: float


def _percentile(rank: Any, days: Any, count: Any, fraction: tuple[int, int]) -> ColumnElement:
    """An aggregate over one partition: the interpolated percentile, as ``percentile_cont`` computes it.

    Position ``1 + p·(n-1)`` lies between ranks ``lo`` and ``lo + 1``; integer arithmetic keeps ``lo`` exact on both
    databases (``floor`` is missing from older SQLite, and PostgreSQL rounds a cast to integer).
    """
    numerator, denominator = fraction
    scaled = (count - 1) * numerator
    low = 1 + scaled // denominator
    weight = (scaled % denominator) * 1.0 / denominator
    return func.sum(case((rank == low, days * (1 - weight)), (rank == low + 1, days * weight), else_=0.0))


def stage_durations(flt: DashboardFilter) -> list[StageDuration]:
    """Median and 90th percentile of the days spent in each stage, over the stays that ended within the range.

    A stay ends with a stage change out of the stage; it began with the enterprise's previous stage change: the
    ``lag`` over each enterprise's history in (enterprise_id, changed_at) order, which the index of that name
    hands over sorted (one pass over the history, where a correlated lookup per stay took seconds at a province's
    size). The reports' medians (``crm.reports.queries``) define a stay the same way.
    """
    moves = select(
        StageChange.from_stage.label("stage"),
        StageChange.changed_at.label("left_at"),
        func.lag(StageChange.changed_at)
        .over(partition_by=StageChange.enterprise_id, order_by=(StageChange.changed_at, StageChange.id))
        .label("entered_at"),
    ).where(StageChange.changed_at < flt.ends_before)
    moves = flt.by_enterprise(moves, StageChange.enterprise_id).subquery("moves")
    # A stay without a beginning (history imported without its entry) has no days: it ranks last, not counted.
    stays = (
        select(moves.c.stage, days_between(moves.c.left_at, moves.c.entered_at).label("days"))
        .where(moves.c.stage.isnot(None), moves.c.left_at >= flt.starts_at)
        .subquery()
    )
    ranked = select(
        stays.c.stage,
        stays.c.days,
        func.row_number().over(partition_by=stays.c.stage, order_by=stays.c.days.asc().nulls_last()).label("rank"),
        func.count(stays.c.days).over(partition_by=stays.c.stage).label("n"),
    ).subquery()
    stmt = (
        select(
            ranked.c.stage,
            func.max(ranked.c.n),
            _percentile(ranked.c.rank, ranked.c.days, ranked.c.n, MEDIAN),
            _percentile(ranked.c.rank, ranked.c.days, ranked.c.n, P90),
        )
        .group_by(ranked.c.stage)
        .having(func.max(ranked.c.n) > 0)
    )
    return [
        StageDuration(stage, int(n), round(float(median), 1), round(float(p90), 1))
        for stage, n, median, p90 in db.session.execute(stmt)
    ]


def overdue_tasks_by_area(flt: DashboardFilter, today: date | None = None) -> dict[int, int]:
    """Unfinished cultivation tasks past their due date, now, per area of their enterprise."""
    today = today or local_today()
    stmt = (
        select(Enterprise.area_id, func.count())
        .select_from(CultivationTask)
        .join(Enterprise, Enterprise.id == CultivationTask.enterprise_id)
        .where(CultivationTask.status != TaskStatus.DONE, CultivationTask.due_on < today, flt.enterprise_condition())
        .group_by(Enterprise.area_id)
    )
    return dict(db.session.execute(stmt).all())


def monthly_contacts(flt: DashboardFilter) -> dict[str, list[int]]:
    """Visits that took place, trainings attended (distinct events) and attendees checked in, per local month."""
    months = flt.months
    visits = {"visits": [0] * len(months), "trainings": [0] * len(months), "attendees": [0] * len(months)}
    bucket = month_bucket(Visit.starts_at, months)
    stmt = (
        select(bucket, func.count())
        .where(Visit.status == VisitStatus.DONE, Visit.starts_at >= flt.starts_at, Visit.starts_at < flt.ends_before)
        .group_by(bucket)
    )
    for index, count in db.session.execute(flt.by_enterprise(stmt, Visit.enterprise_id)):
        visits["visits"][int(index)] = count
    bucket = month_bucket(Registration.checked_in_at, months)
    stmt = (
        select(bucket, func.count(func.distinct(Registration.event_id)), func.count())
        .where(Registration.checked_in_at >= flt.starts_at, Registration.checked_in_at < flt.ends_before)
        .group_by(bucket)
    )
    for index, events, attendees in db.session.execute(flt.by_enterprise(stmt, Registration.enterprise_id)):
        visits["trainings"][int(index)] = events
        visits["attendees"][int(index)] = attendees
    return visits


# --- names -------------------------------------------------------------------------------------------------------


def ordered_stages() -> list[Stage]:
    return list(db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code)))


def open_stage_codes(stages: list[Stage]) -> list[str]:
    return [stage.code for stage in stages if stage.kind == StageKind.OPEN]


def reference_rows() -> tuple[list[Area], list[CustomsOffice]]:
    """Every area and office in their order, loaded once per request (the filters and the charts' names use them)."""
    if has_request_context() and "_dashboard_reference" in g:
        return g._dashboard_reference
    rows = (
        list(db.session.scalars(select(Area).order_by(Area.sort_order, Area.id))),
        list(db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.id))),
    )
    if has_request_context():
        g._dashboard_reference = rows
    return rows


def areas_in_scope(user: Any = None) -> list[Area]:
    """Areas the viewer may narrow to: every area for an unrestricted scope, else the scope's own areas."""
    scope = scope_of(user)
    return [area for area in reference_rows()[0] if scope.unrestricted or area.id in scope.area_ids]


def offices_in_scope(user: Any = None) -> list[CustomsOffice]:
    """Offices the viewer may narrow to: every office, or the scope's offices (subordinates included)."""
    scope = scope_of(user)
    return [office for office in reference_rows()[1] if scope.unrestricted or office.id in scope.office_ids]


# --- the figures together, cached ---------------------------------------------------------------------------


@dataclass
class Figures:
    """Every figure of the dashboard but the targets (which administrators expect to see change at once)."""

    counts: EnterpriseCounts
    monthly: dict[str, list[int]]
    certified: dict[int, int]
    durations: list[StageDuration]
    overdue: dict[int, int]
    contacts: dict[str, list[int]]


def figures(flt: DashboardFilter, today: date | None = None) -> Figures:
    """The dashboard's figures, from a short-lived cache when the same scope and filters were computed since the
    enterprises last changed (the cache of the list's counts, see ``crm.enterprises.counts_cache``).

    Visits, tasks and attendance count too: the figures depend on the versions of those topics as well; the
    days-in-stage percentiles are kept ``DURATIONS_TTL_SECONDS`` whatever changes.
    """
    from crm.enterprises.counts_cache import ACTIVITY, ENTERPRISES, cached_counts

    today = today or local_today()
    scope = scope_of(flt.user)
    parts = {
        "figure": "dashboard",
        "scope": [scope.unrestricted, sorted(scope.area_ids), sorted(scope.office_ids)],
        "filter": [flt.start.isoformat(), flt.end.isoformat(), flt.area_id, flt.office_id],
        "today": today.isoformat(),
    }

    def compute() -> dict[str, Any]:
        return {
            "counts": _enterprise_count_rows(flt, today),
            "monthly": monthly_pipeline(flt),
            "certified": list(certified_by_area(flt).items()),
            "overdue": list(overdue_tasks_by_area(flt, today).items()),
            "contacts": monthly_contacts(flt),
        }

    data = cached_counts(parts, compute, topics=(ENTERPRISES, *ACTIVITY))
    # The percentiles read every stay that ended in the range (seconds at a province's size) and one stage change
    # hardly moves them: they are kept for DURATIONS_TTL_SECONDS whatever changes.
    durations = cached_counts(
        {**parts, "figure": "dashboard-durations"},
        lambda: {"rows": [[d.stage, d.stays, d.median_days, d.p90_days] for d in stage_durations(flt)]},
        versioned=False,
        ttl=DURATIONS_TTL_SECONDS,
    )["rows"]
    return Figures(
        counts=EnterpriseCounts.from_rows(data["counts"]),
        monthly=data["monthly"],
        certified=dict(data["certified"]),
        durations=[StageDuration(*row) for row in durations],
        overdue=dict(data["overdue"]),
        contacts=data["contacts"],
    )
