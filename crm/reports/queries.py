"""The pipeline report: measures per group, each one aggregate query (GROUP BY) within the viewer's scope.

Groupings are a registry (``GROUPINGS``): a column of the enterprise (area, office), a membership table joined
to it (key categories, officers, cohorts: an enterprise with two counts in both groups), or the month of the
measured event. The totals run the same queries without a grouping, so an enterprise counted in two groups is
counted once in the totals.

Measures, for the enterprises in scope that match the filters:
- stage counts: the enterprises now in each stage; grouped by month, the moves into each stage in that month;
- conversions: of the enterprises that left a stage in the period, how many moved forward (to a later stage
  that is not a lost one);
- median days in stage: over the moves out of a stage in the period, the days since the move into it;
- certified (decisions in the period), tasks done (completed in the period) and overdue (open, due in the
  period before today), visits that took place and attendees checked in at training events, in the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    extract,
    false,
    func,
    or_,
    select,
    tuple_,
    union,
)

from crm.auth.models import User
from crm.core.scope import scope_of
from crm.core.timeutil import local_midnight, local_today
from crm.enterprises.models import Enterprise, enterprise_key_categories
from crm.events.models import Registration
from crm.extensions import db
from crm.pipeline.models import Certification, CertificationOutcome, Stage, StageChange, StageKind
from crm.plans.models import CultivationTask, TaskStatus
from crm.reference.models import Area, CustomsOffice, KeyCategory
from crm.reports import cohorts
from crm.reports.filters import ReportFilters
from crm.visits.models import Visit, VisitStatus

GROUP_KEY = "group_key"
IS_TOTAL = "is_total"
#: The key of the totals when a grouped query computed them too (no group key is a string like this one).
TOTALS = "*totals*"


# --- groupings -------------------------------------------------------------------------------------------


def _reference_labels(model: type) -> Callable[[list[Any]], dict[Any, tuple[Any, str]]]:
    def labels(keys: list[Any]) -> dict[Any, tuple[Any, str]]:
        rows = db.session.scalars(select(model).where(model.id.in_(keys))) if keys else []
        return {row.id: (row.code, row.display_name) for row in rows}

    return labels


def _officer_labels(keys: list[Any]) -> dict[Any, tuple[Any, str]]:
    rows = db.session.scalars(select(User).where(User.id.in_(keys))) if keys else []
    return {user.id: (user.id, str(user)) for user in rows}


def _cohort_labels(keys: list[Any]) -> dict[Any, tuple[Any, str]]:
    return {key: (key, name) for key, name in cohorts.labels(keys).items()}


def _month_labels(keys: list[Any]) -> dict[Any, tuple[Any, str]]:
    return {key: (key, key) for key in keys}


def _category_membership() -> Any:
    return select(
        enterprise_key_categories.c.enterprise_id.label("enterprise_id"),
        enterprise_key_categories.c.key_category_id.label("key"),
    ).subquery()


def _officer_membership() -> Any:
    """(enterprise, officer) pairs: the commerce staff member and the customs officer in charge."""
    return union(
        select(Enterprise.id.label("enterprise_id"), Enterprise.commerce_officer_id.label("key")).where(
            Enterprise.commerce_officer_id.is_not(None)
        ),
        select(Enterprise.id.label("enterprise_id"), Enterprise.customs_officer_id.label("key")).where(
            Enterprise.customs_officer_id.is_not(None)
        ),
    ).subquery()


@dataclass(frozen=True)
class Grouping:
    key: str
    label: Any
    #: "column" (a column of the enterprise), "membership" (a joined table) or "month" (of the measured event).
    kind: str
    #: key -> (key shown in the API, label) for the keys found.
    labels: Callable[[list[Any]], dict[Any, tuple[Any, str]]]
    column: Callable[[], Any] | None = None
    membership: Callable[[], Any] | None = None
    #: What the reader must know about this grouping (an enterprise counted in several groups).
    note: Any = None
    #: The Chinese name in files (sheet names and headings are Chinese whatever the user's language).
    file_label: str = ""


GROUPINGS: tuple[Grouping, ...] = (
    Grouping(
        "area", _l("Area"), "column", _reference_labels(Area), column=lambda: Enterprise.area_id, file_label="地区"
    ),
    Grouping(
        "office",
        _l("Customs office"),
        "column",
        _reference_labels(CustomsOffice),
        column=lambda: Enterprise.office_id,
        file_label="主管海关",
    ),
    Grouping(
        "category",
        _l("Key category"),
        "membership",
        _reference_labels(KeyCategory),
        membership=_category_membership,
        note=_l("An enterprise in several key categories counts in each of them; the totals count it once."),
        file_label="重点企业类别",
    ),
    Grouping(
        "cohort",
        _l("Cohort"),
        "membership",
        _cohort_labels,
        membership=lambda: cohorts.membership(),
        note=_l("An enterprise in several cohorts counts in each of them; the totals count it once."),
        file_label="培育群组",
    ),
    Grouping(
        "officer",
        _l("Officer"),
        "membership",
        _officer_labels,
        membership=_officer_membership,
        note=_l(
            "An enterprise counts for its commerce staff member and for its customs officer; the totals count it once."
        ),
        file_label="负责人",
    ),
    Grouping(
        "month",
        _l("Month"),
        "month",
        _month_labels,
        note=_l(
            "Grouped by month, the stage columns count the moves into each stage during the month, and every "
            "other figure counts in the month it happened."
        ),
        file_label="月份",
    ),
)
GROUPINGS_BY_KEY = {g.key: g for g in GROUPINGS if g.key != "cohort" or cohorts.AVAILABLE}


# --- the report ------------------------------------------------------------------------------------------


@dataclass
class ReportRow:
    key: Any
    public_key: Any
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    #: stage -> (enterprises that left it in the period, of which moved forward).
    conversions: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: stage -> median days in the stage of the moves out of it in the period.
    median_days: dict[str, float] = field(default_factory=dict)
    certified: int = 0
    tasks_done: int = 0
    tasks_overdue: int = 0
    visits: int = 0
    attendance: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def conversion_rate(self, stage: str) -> float | None:
        left, advanced = self.conversions.get(stage, (0, 0))
        return round(100 * advanced / left, 1) if left else None


@dataclass
class PipelineReport:
    grouping: Grouping
    filters: ReportFilters
    stages: list[Stage]
    rows: list[ReportRow]
    totals: ReportRow

    @property
    def conversion_stages(self) -> list[Stage]:
        """Open stages an enterprise moves forward from."""
        return [s for s in self.stages if s.kind == StageKind.OPEN]


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def months(self) -> list[tuple[str, date]]:
        """(key, first day of the next month) of each month the period touches."""
        months = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) <= self.end:
            following = date(year + (month == 12), month % 12 + 1, 1)
            months.append((f"{year:04d}-{month:02d}", following))
            year, month = following.year, following.month
        return months

    def contains_day(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column <= self.end)

    def contains_instant(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= local_midnight(self.start), column < local_midnight(self.end + timedelta(days=1)))

    def month_of_day(self, column: Any) -> Any:
        return case(*((column < following, key) for key, following in self.months()), else_=None)

    def month_of_instant(self, column: Any) -> Any:
        return case(*((column < local_midnight(following), key) for key, following in self.months()), else_=None)


class ReportQuery:
    """The measures of one report; ``grouping`` None gives the totals."""

    def __init__(self, filters: ReportFilters, grouping: Grouping | None, user: Any, *, month_semantics: bool):
        self.filters = filters
        self.grouping = grouping
        self.user = user
        self.period = Period(filters.date_from, filters.date_to)
        #: Stage columns count moves into stages (the month grouping and its totals).
        self.month_semantics = month_semantics
        self.postgresql = db.session.get_bind().dialect.name == "postgresql"
        #: The totals come from the same statements (``GROUPING SETS``, PostgreSQL) when every measured row falls in
        #: one group (a column of the enterprise, the month): a membership counts an enterprise in several groups.
        self.with_totals = self.postgresql and grouping is not None and grouping.kind in ("column", "month")

    def _keyed(self, stmt: Select, *, instant: Any = None, day: Any = None) -> tuple[Select, list[Any]]:
        """Add the group key (and its join) to a statement already joined to Enterprise."""
        grouping = self.grouping
        if grouping is None:
            return stmt, []
        if grouping.kind == "column":
            key = grouping.column().label(GROUP_KEY)
        elif grouping.kind == "membership":
            members = grouping.membership()
            stmt = stmt.outerjoin(members, members.c.enterprise_id == Enterprise.id)
            key = members.c.key.label(GROUP_KEY)
        else:
            key = (self.period.month_of_instant(instant) if day is None else self.period.month_of_day(day)).label(
                GROUP_KEY
            )
        return stmt.add_columns(key), [key]

    def _finish(self, stmt: Select, keys: list[Any], *group_by: Any) -> list[Any]:
        stmt = stmt.where(scope_of(self.user).enterprise_filter(), *self.filters.conditions())
        if self.with_totals and keys:
            grouped = [key.element for key in keys]
            stmt = stmt.add_columns(func.grouping(*grouped).label(IS_TOTAL))
            every = tuple_(*group_by)  # with nothing to group by, the empty grouping set "()"
            return db.session.execute(stmt.group_by(func.grouping_sets(tuple_(*grouped, *group_by), every))).all()
        return db.session.execute(stmt.group_by(*keys, *group_by)).all()

    @staticmethod
    def _key(row: Any) -> Any:
        """The row's group key; ``TOTALS`` for a row of the totals (``with_totals``)."""
        return TOTALS if getattr(row, IS_TOTAL, 0) else getattr(row, GROUP_KEY, None)

    def stage_counts(self) -> dict[Any, dict[str, int]]:
        if self.month_semantics:
            stmt = (
                select(StageChange.to_stage.label("stage"), func.count().label("n"))
                .select_from(StageChange)
                .join(Enterprise, Enterprise.id == StageChange.enterprise_id)
                .where(self.period.contains_instant(StageChange.changed_at))
            )
            stmt, keys = self._keyed(stmt, instant=StageChange.changed_at)
            rows = self._finish(stmt, keys, StageChange.to_stage)
        else:
            stmt = select(Enterprise.stage.label("stage"), func.count(Enterprise.id).label("n")).select_from(Enterprise)
            stmt, keys = self._keyed(stmt)
            rows = self._finish(stmt, keys, Enterprise.stage)
        result: dict[Any, dict[str, int]] = {}
        for row in rows:
            result.setdefault(self._key(row), {})[row.stage] = row.n
        return result

    def _conversions_select(self) -> Select:
        """Moves out of a stage in the period: the enterprises that left each stage and those that moved forward
        (to a later stage that is not a lost one). Which moves go forward is read from the stages beforehand, so the
        moves need no join to them."""
        stages = db.session.execute(select(Stage.code, Stage.sort_order, Stage.kind)).all()
        forward_pairs = [
            (source.code, target.code)
            for source in stages
            for target in stages
            if target.sort_order > source.sort_order and target.kind != StageKind.LOST
        ]
        forward = tuple_(StageChange.from_stage, StageChange.to_stage).in_(forward_pairs) if forward_pairs else false()
        return (
            select(
                StageChange.from_stage.label("stage"),
                func.count(distinct(StageChange.enterprise_id)).label("left_stage"),
                func.count(distinct(case((forward, StageChange.enterprise_id), else_=None))).label("advanced"),
            )
            .select_from(StageChange)
            .join(Enterprise, Enterprise.id == StageChange.enterprise_id)
            .where(StageChange.from_stage.is_not(None), self.period.contains_instant(StageChange.changed_at))
        )

    def conversions(self) -> dict[Any, dict[str, tuple[int, int]]]:
        stmt, keys = self._keyed(self._conversions_select(), instant=StageChange.changed_at)
        result: dict[Any, dict[str, tuple[int, int]]] = {}
        for row in self._finish(stmt, keys, StageChange.from_stage):
            result.setdefault(self._key(row), {})[row.stage] = (row.left_stage, row.advanced)
        return result

    def moves(self) -> tuple[dict[Any, dict[str, tuple[int, int]]], dict[Any, dict[str, float]]]:
        """``conversions()`` and ``median_days()``: on PostgreSQL from one reading of the period's moves (the median
        an aggregate over the moves that know when their stage was entered), elsewhere by the two methods."""
        if not self.postgresql:
            return self.conversions(), self.median_days()
        days = _days_between(StageChange.from_stage_entered_at, StageChange.changed_at)
        median = (
            func.percentile_cont(0.5)
            .within_group(days)
            .filter(StageChange.from_stage_entered_at.is_not(None))
            .label("median")
        )
        stmt, keys = self._keyed(self._conversions_select().add_columns(median), instant=StageChange.changed_at)
        conversions: dict[Any, dict[str, tuple[int, int]]] = {}
        medians: dict[Any, dict[str, float]] = {}
        for row in self._finish(stmt, keys, StageChange.from_stage):
            conversions.setdefault(self._key(row), {})[row.stage] = (row.left_stage, row.advanced)
            if row.median is not None:
                medians.setdefault(self._key(row), {})[row.stage] = round(float(row.median), 1)
        return conversions, medians

    def median_days(self) -> dict[Any, dict[str, float]]:
        """The median, per group and stage, of the days between the move into a stage and the move out of it.

        Each move out of a stage holds when the enterprise entered that stage (``from_stage_entered_at``), so the
        moves of the period are read by their time alone (``ix_stage_changes_changed_at_moves``) and grouped:
        PostgreSQL takes the median as an aggregate (``percentile_cont(0.5)``: the middle value, or the mean of the
        two middle ones); SQLite, which has none, ranks the days in each group (row_number, count)."""
        days = _days_between(StageChange.from_stage_entered_at, StageChange.changed_at).label("days")
        stmt = (
            select(StageChange.from_stage.label("stage"))
            .select_from(StageChange)
            .join(Enterprise, Enterprise.id == StageChange.enterprise_id)
            .where(
                StageChange.from_stage.is_not(None),
                StageChange.from_stage_entered_at.is_not(None),
                self.period.contains_instant(StageChange.changed_at),
                scope_of(self.user).enterprise_filter(),
                *self.filters.conditions(),
            )
        )
        stmt, keys = self._keyed(stmt, instant=StageChange.changed_at)
        result: dict[Any, dict[str, float]] = {}
        if db.session.get_bind().dialect.name == "postgresql":
            median = func.percentile_cont(0.5).within_group(days).label("median")
            rows = db.session.execute(stmt.add_columns(median).group_by(*keys, StageChange.from_stage))
        else:
            partition = [*keys, StageChange.from_stage]
            ranked = stmt.add_columns(
                days,
                func.row_number().over(partition_by=partition, order_by=days).label("position"),
                func.count().over(partition_by=partition).label("size"),
            ).subquery("ranked")
            ranked_keys = [ranked.c[GROUP_KEY]] if keys else []
            middle = or_(
                ranked.c.position == (ranked.c.size + 1) // 2,
                ranked.c.position == (ranked.c.size + 2) // 2,
            )
            rows = db.session.execute(
                select(*ranked_keys, ranked.c.stage, func.avg(ranked.c.days).label("median"))
                .where(middle)
                .group_by(*ranked_keys, ranked.c.stage)
            )
        for row in rows:
            result.setdefault(self._key(row), {})[row.stage] = round(float(row.median), 1)
        return result

    def _count(self, stmt: Select, *, instant: Any = None, day: Any = None) -> dict[Any, int]:
        stmt, keys = self._keyed(stmt, instant=instant, day=day)
        return {self._key(row): row.n for row in self._finish(stmt, keys)}

    def certified(self) -> dict[Any, int]:
        stmt = (
            select(func.count().label("n"))
            .select_from(Certification)
            .join(Enterprise, Enterprise.id == Certification.enterprise_id)
            .where(
                Certification.outcome == CertificationOutcome.CERTIFIED,
                self.period.contains_day(Certification.decided_on),
            )
        )
        return self._count(stmt, day=Certification.decided_on)

    def tasks(self) -> tuple[dict[Any, int], dict[Any, int]]:
        """``tasks_done()`` and ``tasks_overdue()`` from one reading of the tasks."""
        done = and_(CultivationTask.status == TaskStatus.DONE, self.period.contains_day(CultivationTask.completed_on))
        overdue = and_(
            CultivationTask.status != TaskStatus.DONE,
            self.period.contains_day(CultivationTask.due_on),
            CultivationTask.due_on < local_today(),
        )
        stmt = (
            select(
                func.count(case((done, 1), else_=None)).label("done"),
                func.count(case((overdue, 1), else_=None)).label("overdue"),
            )
            .select_from(CultivationTask)
            .join(Enterprise, Enterprise.id == CultivationTask.enterprise_id)
            .where(or_(done, overdue))
        )
        if self.grouping is not None and self.grouping.kind == "month":
            # Each kind of task counts in the month of its own date: the two stay apart.
            return self.tasks_done(), self.tasks_overdue()
        stmt, keys = self._keyed(stmt)
        rows = self._finish(stmt, keys)
        return (
            {self._key(row): row.done for row in rows if row.done},
            {self._key(row): row.overdue for row in rows if row.overdue},
        )

    def tasks_done(self) -> dict[Any, int]:
        stmt = (
            select(func.count().label("n"))
            .select_from(CultivationTask)
            .join(Enterprise, Enterprise.id == CultivationTask.enterprise_id)
            .where(CultivationTask.status == TaskStatus.DONE, self.period.contains_day(CultivationTask.completed_on))
        )
        return self._count(stmt, day=CultivationTask.completed_on)

    def tasks_overdue(self) -> dict[Any, int]:
        stmt = (
            select(func.count().label("n"))
            .select_from(CultivationTask)
            .join(Enterprise, Enterprise.id == CultivationTask.enterprise_id)
            .where(
                CultivationTask.status != TaskStatus.DONE,
                self.period.contains_day(CultivationTask.due_on),
                CultivationTask.due_on < local_today(),
            )
        )
        return self._count(stmt, day=CultivationTask.due_on)

    def visits(self) -> dict[Any, int]:
        stmt = (
            select(func.count().label("n"))
            .select_from(Visit)
            .join(Enterprise, Enterprise.id == Visit.enterprise_id)
            .where(Visit.status == VisitStatus.DONE, self.period.contains_instant(Visit.starts_at))
        )
        return self._count(stmt, instant=Visit.starts_at)

    def attendance(self) -> dict[Any, int]:
        stmt = (
            select(func.count().label("n"))
            .select_from(Registration)
            .join(Enterprise, Enterprise.id == Registration.enterprise_id)
            .where(Registration.checked_in_at.is_not(None), self.period.contains_instant(Registration.checked_in_at))
        )
        return self._count(stmt, instant=Registration.checked_in_at)

    def rows(self) -> dict[Any, ReportRow]:
        """Every measure, merged into one row per key (key None: no group, or the totals; ``TOTALS``: the totals
        computed with the groups, see ``with_totals``)."""
        rows: dict[Any, ReportRow] = {}

        def row(key: Any) -> ReportRow:
            return rows.setdefault(key, ReportRow(key=key, public_key=None, label=""))

        for key, counts in self.stage_counts().items():
            row(key).counts = counts
        conversions, medians = self.moves()
        for key, by_stage in conversions.items():
            row(key).conversions = by_stage
        for key, by_stage in medians.items():
            row(key).median_days = by_stage
        tasks_done, tasks_overdue = self.tasks()
        for attribute, values in (
            ("certified", self.certified()),
            ("tasks_done", tasks_done),
            ("tasks_overdue", tasks_overdue),
            ("visits", self.visits()),
            ("attendance", self.attendance()),
        ):
            for key, value in values.items():
                setattr(row(key), attribute, value)
        return rows


def _days_between(start: Any, end: Any) -> Any:
    """Days (fractional) from one instant to a later one, computed by the database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def report_rows(filters: ReportFilters, grouping: Grouping | None, user: Any, *, month_semantics: bool) -> dict:
    """``ReportQuery(...).rows()``, from the cache of counts (``crm.enterprises.counts_cache``) when the same
    measures were computed for the same scope, filters and day since the enterprise data last changed.

    Stage changes, enterprises and their memberships invalidate it at once; tasks, visits, attendance and
    certification records alone do not (as on the dashboard): they show within ``TTL_SECONDS`` (5 minutes)."""
    from crm.enterprises.counts_cache import ACTIVITY, ENTERPRISES, cached_counts

    query = ReportQuery(filters, grouping, user, month_semantics=month_semantics)
    scope = scope_of(user)
    parts = {
        "report": "pipeline",
        "grouping": grouping.key if grouping is not None else None,
        "month_semantics": month_semantics,
        "filters": filters.as_args(),
        "scope": [scope.unrestricted, sorted(scope.area_ids), sorted(scope.office_ids)],
        "today": local_today().isoformat(),
    }

    def compute() -> dict[str, Any]:
        return {"rows": [[key, _row_values(row)] for key, row in query.rows().items()]}

    rows = cached_counts(parts, compute, topics=(ENTERPRISES, *ACTIVITY))["rows"]  # also tasks, visits, attendance
    return {key: _row_from(key, values) for key, values in rows}


_ROW_FIGURES = ("certified", "tasks_done", "tasks_overdue", "visits", "attendance")


def _row_values(row: ReportRow) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in _ROW_FIGURES}
    values.update(counts=row.counts, median_days=row.median_days, conversions=row.conversions)
    return values


def _row_from(key: Any, values: dict[str, Any]) -> ReportRow:
    conversions = {stage: tuple(pair) for stage, pair in values["conversions"].items()}
    row = ReportRow(key=key, public_key=None, label="", counts=values["counts"], conversions=conversions)
    row.median_days = values["median_days"]
    for name in _ROW_FIGURES:
        setattr(row, name, values[name])
    return row


def report_totals(filters: ReportFilters, user: Any, *, month_semantics: bool) -> ReportRow:
    """The totals row: every measure without a grouping (each enterprise once)."""
    totals = report_rows(filters, None, user, month_semantics=month_semantics).get(None)
    totals = totals or ReportRow(key=None, public_key=None, label="")
    totals.label = _("In all")
    return totals


def pipeline_report(
    filters: ReportFilters, grouping_key: str, user: Any, *, totals: ReportRow | None = None
) -> PipelineReport:
    """The pipeline report of the enterprises in ``user``'s scope matching ``filters``, grouped by ``grouping_key``.

    ``totals`` reuses the totals of another grouping of the same kind (every grouping but the month shares them)."""
    grouping = GROUPINGS_BY_KEY[grouping_key]
    month_semantics = grouping.kind == "month"
    grouped = report_rows(filters, grouping, user, month_semantics=month_semantics)
    computed_totals = grouped.pop(TOTALS, None)
    if totals is None and computed_totals is not None:
        totals = computed_totals
        totals.key, totals.label = None, _("In all")
    elif totals is None:
        totals = report_totals(filters, user, month_semantics=month_semantics)
    labels = grouping.labels([key for key in grouped if key is not None])
    for key, report_row in grouped.items():
        report_row.public_key, report_row.label = labels.get(key, (key, str(key))) if key is not None else (None, "")
        if key is None:
            report_row.label = _("Not in any group") if grouping.kind == "membership" else _("Not set")
    # Two groups may share a label (two officers or cohorts of one name): their keys keep one order.
    ordered = sorted(
        grouped.values(), key=lambda r: (r.key is None, r.key if grouping.kind == "month" else r.label, r.key or 0)
    )
    stages = list(db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code)))
    return PipelineReport(grouping=grouping, filters=filters, stages=stages, rows=ordered, totals=totals)
