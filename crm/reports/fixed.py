"""The fixed reports provincial offices ask for, each one or a few aggregate queries within the viewer's scope:

- the monthly 培育工作进展 summary per area (stages as they were at the end of the month);
- the list of certified enterprises with their certificate data;
- the uptake of the notice's support measures, by measure and by responsible unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, case, distinct, func, select
from sqlalchemy.orm import aliased

from crm.auth.models import User
from crm.core.scope import scope_of
from crm.core.timeutil import local_midnight, local_today
from crm.enterprises.counts_cache import ACTIVITY, ENTERPRISES, cached_counts
from crm.enterprises.models import Enterprise, TargetTier
from crm.events.models import Registration
from crm.extensions import db
from crm.pipeline.models import BenefitRecord, Certification, CertificationOutcome, StageChange
from crm.reference.models import Area, CustomsOffice, SupportMeasure
from crm.reports.filters import FilterError, ReportFilters, parse_filters
from crm.visits.models import Visit, VisitStatus

MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")

# --- monthly progress ------------------------------------------------------------------------------------

#: Stages counted in each column of the monthly summary (enterprises in them when the report is made).
PROGRESS_STAGES: dict[str, tuple[str, ...]] = {
    "candidates": ("candidate",),
    "pooled": ("pooled",),
    "cultivating": ("cultivating", "ready"),
    "applied": ("applied", "in_certification"),
}
PROGRESS_FIGURES = (
    "candidates",
    "pooled",
    "cultivating",
    "applied",
    "certified_month",
    "certified_year",
    "visits",
    "trainings",
    "attendees",
)


@dataclass
class ProgressRow:
    key: Any
    label: str
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROGRESS_FIGURES, 0))


@dataclass
class MonthlyProgress:
    year: int
    month: int
    filters: ReportFilters
    rows: list[ProgressRow]
    totals: ProgressRow

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(value: Any) -> tuple[int, int]:
    """``YYYY-MM`` (this month when empty); raises FilterError on anything else."""
    if value in (None, ""):
        today = local_today()
        return today.year, today.month
    match = MONTH_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 1900 < int(match.group(1)) < 3000:
        raise FilterError({"month": [_("Use a month in the form YYYY-MM.")]})
    return int(match.group(1)), int(match.group(2))


def _scoped(stmt: Select, filters: ReportFilters, user: Any) -> Select:
    return stmt.where(scope_of(user).enterprise_filter(), *filters.conditions())


def last_changes(before: datetime) -> Any:
    """Each enterprise's last stage change before an instant (row_number over its history), as a subquery of
    (enterprise_id, to_stage)."""
    ranked = (
        select(
            StageChange.enterprise_id.label("enterprise_id"),
            StageChange.to_stage.label("to_stage"),
            func.row_number()
            .over(
                partition_by=StageChange.enterprise_id,
                order_by=(StageChange.changed_at.desc(), StageChange.id.desc()),
            )
            .label("position"),
        )
        .where(StageChange.changed_at < before)
        .subquery("ranked_changes")
    )
    return select(ranked.c.enterprise_id, ranked.c.to_stage).where(ranked.c.position == 1).subquery("last_changes")


def stage_at(last: Any, before: datetime) -> Any:
    """The stage an enterprise was in just before an instant (with ``last = last_changes(before)`` outer-joined):
    its last move before then; an enterprise without history counts in its current stage if it existed then."""
    return func.coalesce(last.c.to_stage, case((Enterprise.created_at < before, Enterprise.stage), else_=None))


def monthly_progress(args: Mapping[str, Any], user: Any) -> MonthlyProgress:
    """The summary per area for the month ``args["month"]``: enterprises in each group of stages at the end of
    the month (from the stage history), and the certifications, visits and training attendance of the month
    (and certifications of the year to date)."""
    year, month = parse_month(args.get("month"))
    filters = parse_filters({k: v for k, v in args.items() if k not in ("from", "to", "month")})
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    scope = scope_of(user)
    parts = {
        "report": "monthly",
        "month": [year, month],
        "filters": filters.raw,
        "scope": [scope.unrestricted, sorted(scope.area_ids), sorted(scope.office_ids)],
    }
    computed = cached_counts(
        parts, lambda: _monthly_figures(filters, user, first, following), topics=(ENTERPRISES, *ACTIVITY)
    )
    figures = dict(computed["figures"])
    sessions = computed["sessions"]

    area_ids = set(figures) | (set() if scope.unrestricted else set(scope.area_ids))
    if scope.unrestricted and "area" not in filters.values:
        area_ids |= set(db.session.scalars(select(Area.id).where(Area.is_active.is_(True))))
    if "area" in filters.values:
        area_ids &= {filters.values["area"]}
    areas = db.session.scalars(select(Area).where(Area.id.in_(area_ids)).order_by(Area.sort_order, Area.id)).all()
    rows = [
        ProgressRow(area.id, area.display_name, figures.get(area.id, dict.fromkeys(PROGRESS_FIGURES, 0)))
        for area in areas
    ]
    totals = ProgressRow(None, _("In all"))
    for row in rows:
        for name in PROGRESS_FIGURES:
            totals.figures[name] += row.figures[name]
    totals.figures["trainings"] = sessions
    return MonthlyProgress(year=year, month=month, filters=filters, rows=rows, totals=totals)


def _monthly_figures(filters: ReportFilters, user: Any, first: date, following: date) -> dict[str, Any]:
    """The figures per area of the month from ``first`` to ``following`` (excluded), and the training sessions
    attended, as JSON values (for the cache of counts)."""
    last = following - timedelta(days=1)
    year = first.year
    start, end = local_midnight(first), local_midnight(following)
    figures: dict[Any, dict[str, int]] = {}

    def put(rows: Any) -> None:
        for row in rows:
            values = row._asdict()
            area_id = values.pop("area_id")
            target = figures.setdefault(area_id, dict.fromkeys(PROGRESS_FIGURES, 0))
            target.update({name: int(value or 0) for name, value in values.items()})

    history = last_changes(end)
    stage_then = stage_at(history, end)
    stage_sums = [
        func.sum(case((stage_then.in_(stages), 1), else_=0)).label(name) for name, stages in PROGRESS_STAGES.items()
    ]
    stmt = (
        select(Enterprise.area_id, *stage_sums)
        .select_from(Enterprise)
        .outerjoin(history, history.c.enterprise_id == Enterprise.id)
    )
    put(db.session.execute(_scoped(stmt, filters, user).group_by(Enterprise.area_id)))
    certified = and_(Certification.outcome == CertificationOutcome.CERTIFIED)
    in_month = and_(Certification.decided_on >= first, Certification.decided_on <= last)
    stmt = (
        select(
            Enterprise.area_id,
            func.sum(case((in_month, 1), else_=0)).label("certified_month"),
            func.count().label("certified_year"),
        )
        .select_from(Certification)
        .join(Enterprise, Enterprise.id == Certification.enterprise_id)
        .where(certified, Certification.decided_on >= date(year, 1, 1), Certification.decided_on <= last)
    )
    put(db.session.execute(_scoped(stmt, filters, user).group_by(Enterprise.area_id)))
    stmt = (
        select(Enterprise.area_id, func.count().label("visits"))
        .select_from(Visit)
        .join(Enterprise, Enterprise.id == Visit.enterprise_id)
        .where(Visit.status == VisitStatus.DONE, Visit.starts_at >= start, Visit.starts_at < end)
    )
    put(db.session.execute(_scoped(stmt, filters, user).group_by(Enterprise.area_id)))
    stmt = (
        select(
            Enterprise.area_id,
            func.count(distinct(Registration.event_id)).label("trainings"),
            func.count().label("attendees"),
        )
        .select_from(Registration)
        .join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(Registration.checked_in_at >= start, Registration.checked_in_at < end)
    )
    put(db.session.execute(_scoped(stmt, filters, user).group_by(Enterprise.area_id)))
    # Training sessions are counted once in the totals even when several areas attended.
    stmt = (
        select(func.count(distinct(Registration.event_id)))
        .select_from(Registration)
        .join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(Registration.checked_in_at >= start, Registration.checked_in_at < end)
    )
    sessions = db.session.scalar(_scoped(stmt, filters, user)) or 0
    return {"figures": [[area_id, values] for area_id, values in figures.items()], "sessions": sessions}


# --- certified enterprises -------------------------------------------------------------------------------


def certified_select(filters: ReportFilters, user: Any, *, whole_history: bool = True) -> Select:
    """The certified enterprises in scope (certificate decided within the period unless ``whole_history``)."""
    deciding = aliased(CustomsOffice, name="deciding_office")
    coordinator = aliased(User, name="coordinator")
    stmt = (
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.uscc,
            Enterprise.customs_code,
            Area.name_zh.label("area"),
            CustomsOffice.name_zh.label("office"),
            Certification.tier,
            Certification.certificate_no,
            Certification.decided_on,
            deciding.name_zh.label("deciding_office"),
            Certification.cycle_start_on,
            Certification.last_reverified_on,
            coordinator.display_name.label("coordinator"),
            Enterprise.incentives_suspended,
        )
        .select_from(Certification)
        .join(Enterprise, Enterprise.id == Certification.enterprise_id)
        .join(Area, Area.id == Enterprise.area_id)
        .outerjoin(CustomsOffice, CustomsOffice.id == Enterprise.office_id)
        .outerjoin(deciding, deciding.id == Certification.office_id)
        .outerjoin(coordinator, coordinator.id == Enterprise.coordinator_id)
        .where(Certification.outcome == CertificationOutcome.CERTIFIED, Enterprise.stage == "certified")
        .order_by(Area.sort_order, Certification.decided_on.desc(), Enterprise.name, Enterprise.id)
    )
    if not whole_history:
        stmt = stmt.where(Certification.decided_on >= filters.date_from, Certification.decided_on <= filters.date_to)
    return _scoped(stmt, filters, user)


def certified_count(filters: ReportFilters, user: Any, *, whole_history: bool = True) -> int:
    inner = certified_select(filters, user, whole_history=whole_history).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(inner)) or 0


def tier_label(value: Any) -> str:
    return str(TargetTier(value).label) if value else ""


def iter_certified(filters: ReportFilters, user: Any, *, whole_history: bool = True) -> Iterator[Any]:
    """The rows of the certified list, read in batches."""
    stmt = certified_select(filters, user, whole_history=whole_history).execution_options(yield_per=1000)
    yield from db.session.execute(stmt)


# --- uptake of support measures --------------------------------------------------------------------------

UNIT_SEPARATORS = re.compile(r"[、，,;；\s]+")


@dataclass
class UptakeRow:
    key: Any
    label: str
    responsible_units: str
    uses: int
    enterprises: int


@dataclass
class MeasureUptake:
    filters: ReportFilters
    measures: list[UptakeRow]
    units: list[UptakeRow]
    total_uses: int
    total_enterprises: int


def split_units(text: str) -> list[str]:
    return [unit for unit in UNIT_SEPARATORS.split(text or "") if unit]


def measure_uptake(filters: ReportFilters, user: Any) -> MeasureUptake:
    """Uses of each support measure in the period by enterprises in scope, and per responsible unit.

    One query counts the uses per (measure, enterprise); the measures', units' and totals' figures (uses, and
    enterprises counted once however many of the measures they used) are summed from those pairs."""
    stmt = (
        select(BenefitRecord.measure_id, BenefitRecord.enterprise_id, func.count().label("uses"))
        .select_from(BenefitRecord)
        .join(Enterprise, Enterprise.id == BenefitRecord.enterprise_id)
        .where(BenefitRecord.used_on >= filters.date_from, BenefitRecord.used_on <= filters.date_to)
        .group_by(BenefitRecord.measure_id, BenefitRecord.enterprise_id)
    )
    uses_of: dict[int, int] = {}
    users_of: dict[int, set[int]] = {}
    for measure_id, enterprise_id, count in db.session.execute(_scoped(stmt, filters, user)):
        uses_of[measure_id] = uses_of.get(measure_id, 0) + count
        users_of.setdefault(measure_id, set()).add(enterprise_id)

    def figures(ids: list[int]) -> tuple[int, int]:
        enterprises: set[int] = set()
        for measure_id in ids:
            enterprises |= users_of.get(measure_id, set())
        return sum(uses_of.get(measure_id, 0) for measure_id in ids), len(enterprises)

    measures = db.session.scalars(select(SupportMeasure).order_by(SupportMeasure.number)).all()
    rows = [
        UptakeRow(
            key=m.number,
            label=f"{m.number}. {m.display_name}",
            responsible_units=m.responsible_units,
            uses=uses_of.get(m.id, 0),
            enterprises=len(users_of.get(m.id, ())),
        )
        for m in measures
    ]
    unit_measures: dict[str, list[SupportMeasure]] = {}
    for m in measures:
        for unit in split_units(m.responsible_units):
            unit_measures.setdefault(unit, []).append(m)
    units = []
    for unit, unit_rows in unit_measures.items():
        used, enterprises = figures([m.id for m in unit_rows])
        numbers = "、".join(str(m.number) for m in unit_rows)
        units.append(UptakeRow(key=unit, label=unit, responsible_units=numbers, uses=used, enterprises=enterprises))
    total_uses, total_enterprises = figures(list(uses_of))
    return MeasureUptake(
        filters=filters, measures=rows, units=units, total_uses=total_uses, total_enterprises=total_enterprises
    )
