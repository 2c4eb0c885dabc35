"""Read-side helpers for the pipeline: time in stage and staleness, certification deadlines, the board and the
enterprise section. Dates are reasoned about in the CRM's time zone (Asia/Shanghai).

Two kinds of helpers serve other features:
- ``*_condition`` functions return a WHERE clause on ``Enterprise`` (for list filters and counts);
- ``*_between`` / ``*_missing`` functions return scoped ``select()`` statements (for reminders and reports).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, literal, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from crm.core.permissions import Permission, has_permission
from crm.core.scope import scoped_by_enterprise, scoped_enterprises
from crm.core.settings import get_setting
from crm.core.timeline import SECTION_TIMELINE_ROWS
from crm.core.timeutil import days_since, local_date, local_midnight, local_today
from crm.enterprises.models import CreditStatusChange, Enterprise
from crm.extensions import db
from crm.pipeline import deadlines
from crm.pipeline.models import (
    BenefitRecord,
    Certification,
    ComplianceYear,
    Stage,
    StageChange,
    StageKind,
    TransitionReason,
)

IN_CERTIFICATION = "in_certification"
CERTIFIED = "certified"
#: A lower bound for "due by ... or overdue" filters.
EARLIEST = date(1900, 1, 1)


# --- time in stage ------------------------------------------------------------------------------------


def days_in_stage(enterprise: Enterprise, today: date | None = None) -> int:
    """Whole local calendar days since the enterprise entered its current stage."""
    return days_since(enterprise.stage_entered_at, today)


def stale_condition(today: date | None = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Enterprise``: past its stage's SLA (more than ``sla_days`` local days in the stage).

    One range condition per stage with an SLA, so the (stage, stage_entered_at) index serves it.
    """
    today = today or local_today()
    conditions = []
    for code, sla_days in db.session.execute(select(Stage.code, Stage.sla_days).where(Stage.sla_days.isnot(None))):
        # Stale when days_in_stage > sla_days, i.e. entered before local midnight of (today - sla_days).
        threshold = local_midnight(today - timedelta(days=sla_days))
        conditions.append((Enterprise.stage == code) & (Enterprise.stage_entered_at < threshold))
    return or_(*conditions) if conditions else false()


def is_stale(enterprise: Enterprise, today: date | None = None) -> bool:
    stage = db.session.get(Stage, enterprise.stage)
    return bool(stage and stage.sla_days is not None and days_in_stage(enterprise, today) > stage.sla_days)


def stale_enterprises(today: date | None = None, user: Any = None) -> Select:
    """Enterprises in scope past their stage's SLA (for the SLA reminder and the dashboard figure)."""
    return scoped_enterprises(select(Enterprise), user=user).where(stale_condition(today)).order_by(Enterprise.id)


# --- certification deadlines: WHERE clauses on Enterprise ---------------------------------------------


def _with_certification(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return Enterprise.id.in_(select(Certification.enterprise_id).where(*conditions))


def decision_due_condition(start: date, end: date) -> ColumnElement[bool]:
    """In certification, no decision yet, and the decision due between ``start`` and ``end`` (inclusive)."""
    return (Enterprise.stage == IN_CERTIFICATION) & _with_certification(
        Certification.decision_due_on.between(start, end), Certification.decided_on.is_(None)
    )


def decision_overdue_condition(today: date | None = None) -> ColumnElement[bool]:
    """In certification and past the decision deadline without a recorded decision."""
    today = today or local_today()
    return (Enterprise.stage == IN_CERTIFICATION) & _with_certification(
        Certification.decision_due_on < today, Certification.decided_on.is_(None)
    )


def reverification_cycle_years() -> int:
    from crm.reference.cache import cached

    return cached(("setting", "reverification_cycle_years"), lambda: int(get_setting("reverification_cycle_years")))


def stage_rows() -> list[Any]:
    """Every stage in order, as snapshots kept per process (``crm.reference.cache``): for pages that only read."""
    from crm.reference.cache import cached, snapshot

    return cached(
        ("pipeline", "stages"),
        lambda: [snapshot(s) for s in db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code))],
    )


def reason_rows() -> dict[str, Any]:
    """Every transition reason by code, as snapshots kept per process."""
    from crm.reference.cache import cached, snapshot

    return cached(
        ("pipeline", "reasons"), lambda: {r.code: snapshot(r) for r in db.session.scalars(select(TransitionReason))}
    )


def reverification_due_condition(start: date, end: date, cycle_years: int | None = None) -> ColumnElement[bool]:
    """Certified, with the re-verification (复核) due between ``start`` and ``end`` (inclusive).

    The due date is ``cycle_start_on`` plus the configured cycle, so the condition is a range on that column:
    changing the setting moves every due date at once.
    """
    years = cycle_years if cycle_years is not None else reverification_cycle_years()
    return (Enterprise.stage == CERTIFIED) & _with_certification(
        Certification.cycle_start_on.between(
            deadlines.earliest_start_due_on_or_after(start, years),
            deadlines.latest_start_due_on_or_before(end, years),
        )
    )


def reverification_overdue_condition(today: date | None = None, cycle_years: int | None = None):
    today = today or local_today()
    years = cycle_years if cycle_years is not None else reverification_cycle_years()
    return (Enterprise.stage == CERTIFIED) & _with_certification(
        Certification.cycle_start_on < deadlines.earliest_start_due_on_or_after(today, years)
    )


def reapply_locked_condition(on: date | None = None) -> ColumnElement[bool]:
    """May not apply again yet on ``on``: within a year of a failure, withdrawal or downgrade."""
    on = on or local_today()
    return _with_certification(Certification.reapply_on > on)


def reapply_allowed_condition(start: date, end: date) -> ColumnElement[bool]:
    """The one-year lock-out ends (re-application becomes possible) between ``start`` and ``end``."""
    return _with_certification(Certification.reapply_on.between(start, end))


def obligations_owed_condition(year: int) -> ColumnElement[bool]:
    """Certified, and already certified by 30 June of ``year``: the year's internal audit and audited report are
    owed (an enterprise certified later in the year starts with the next one)."""
    cutoff = deadlines.report_due(year)
    return (Enterprise.stage == CERTIFIED) & Enterprise.id.not_in(
        select(Certification.enterprise_id).where(Certification.decided_on > cutoff)
    )


def report_missing_condition(year: int) -> ColumnElement[bool]:
    """Owes the audited financial report due by 30 June of ``year`` and it is not recorded as sent."""
    return obligations_owed_condition(year) & Enterprise.id.not_in(
        select(ComplianceYear.enterprise_id).where(
            ComplianceYear.year == year, ComplianceYear.report_submitted.is_(True)
        )
    )


def internal_audit_missing_condition(year: int) -> ColumnElement[bool]:
    """Owes the internal audit of ``year`` and none is recorded as done."""
    return obligations_owed_condition(year) & Enterprise.id.not_in(
        select(ComplianceYear.enterprise_id).where(
            ComplianceYear.year == year, ComplianceYear.internal_audit_done.is_(True)
        )
    )


def incentives_suspended_condition() -> ColumnElement[bool]:
    return Enterprise.incentives_suspended.is_(True)


#: Named filters for the board and the enterprise list: (key, label).
DEADLINE_FILTERS: tuple[tuple[str, Any], ...] = (
    ("stale", _l("Past the stage's SLA")),
    ("decision_due", _l("Decision due within 14 days or overdue")),
    ("reverification_due", _l("Re-verification due within 90 days or overdue")),
    ("reapply_locked", _l("May not apply again yet")),
    ("report_missing", _l("Audited report for this year not recorded")),
    ("audit_missing", _l("Internal audit for last year not recorded")),
    ("suspended", _l("Incentives suspended")),
)


def deadline_condition(name: str, today: date | None = None) -> ColumnElement[bool] | None:
    """The WHERE clause of a named filter of ``DEADLINE_FILTERS``; None for an unknown name."""
    today = today or local_today()
    if name == "stale":
        return stale_condition(today)
    if name == "decision_due":
        return decision_due_condition(EARLIEST, today + timedelta(days=14))
    if name == "reverification_due":
        return reverification_due_condition(EARLIEST, today + timedelta(days=90))
    if name == "reapply_locked":
        return reapply_locked_condition(today)
    if name == "report_missing":
        return report_missing_condition(today.year)
    if name == "audit_missing":
        return internal_audit_missing_condition(today.year - 1)
    if name == "suspended":
        return incentives_suspended_condition()
    return None


# --- certification deadlines: scoped statements for reminders ------------------------------------------


def _enterprises_with_certification(user: Any = None) -> Select:
    return scoped_enterprises(
        select(Enterprise, Certification).join(Certification, Certification.enterprise_id == Enterprise.id), user=user
    )


def decision_due_between(start: date, end: date, user: Any = None) -> Select:
    """Rows of (Enterprise, Certification) whose certification decision is due between the dates."""
    return (
        _enterprises_with_certification(user)
        .where(decision_due_condition(start, end))
        .order_by(Certification.decision_due_on, Enterprise.id)
    )


def reverification_due_between(start: date, end: date, user: Any = None) -> Select:
    """Rows of (Enterprise, Certification) whose re-verification is due between the dates.

    The due date of a row is ``reverification_due_on(certification)``."""
    return (
        _enterprises_with_certification(user)
        .where(reverification_due_condition(start, end))
        .order_by(Certification.cycle_start_on, Enterprise.id)
    )


def reapply_allowed_between(start: date, end: date, user: Any = None) -> Select:
    """Rows of (Enterprise, Certification) whose one-year lock-out ends between the dates."""
    return (
        _enterprises_with_certification(user)
        .where(reapply_allowed_condition(start, end))
        .order_by(Certification.reapply_on, Enterprise.id)
    )


def report_missing(year: int, user: Any = None) -> Select:
    """Certified enterprises in scope without the audited report of ``year`` recorded (due 30 June)."""
    return (
        scoped_enterprises(select(Enterprise), user=user).where(report_missing_condition(year)).order_by(Enterprise.id)
    )


def internal_audit_missing(year: int, user: Any = None) -> Select:
    """Certified enterprises in scope without an internal audit recorded for ``year``."""
    return (
        scoped_enterprises(select(Enterprise), user=user)
        .where(internal_audit_missing_condition(year))
        .order_by(Enterprise.id)
    )


def reverification_due_on(certification: Certification | None, cycle_years: int | None = None) -> date | None:
    if certification is None:
        return None
    years = cycle_years if cycle_years is not None else reverification_cycle_years()
    return deadlines.reverification_due(certification.cycle_start_on, years)


# --- the board ----------------------------------------------------------------------------------------

#: Cards shown per column (about what a screen shows); "Load more" fetches the next ones of that column.
BOARD_PAGE_SIZE = 10
#: Filters of the enterprise list the board passes on (the board's columns replace the stage filter).
BOARD_FILTER_KEYS = ("q", "area", "office", "deadline")


@dataclass
class BoardColumn:
    key: str
    title: str
    kind: StageKind
    stages: list[Any]
    total: int = 0
    cards: list[Card] = field(default_factory=list)
    next_cursor: str | None = None

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.stages]

    @property
    def target(self) -> str | None:
        """The stage a card dropped here moves to, when the column has exactly one."""
        return self.stages[0].code if len(self.stages) == 1 else None


@dataclass
class Card:
    #: A row of ``card_select()`` (id, name, area_id, stage, stage_entered_at, readiness ...).
    enterprise: Any
    stage: Any
    days_in_stage: int
    is_stale: bool
    officer_name: str | None = None
    decision_due_on: date | None = None
    decision_overdue: bool = False
    reapply_on: date | None = None
    reverification_due_on: date | None = None
    #: A member of a 1+N cohort whose lead is already AEO-certified.
    is_priority: bool = False


def board_layout(stages: list[Any] | None = None) -> list[BoardColumn]:
    """A column per open stage, then one for the won stages and one for the lost stages."""
    stages = stages if stages is not None else stage_rows()
    columns = [BoardColumn(s.code, s.display_name, s.kind, [s]) for s in stages if s.kind == StageKind.OPEN]
    won = [s for s in stages if s.kind == StageKind.WON]
    lost = [s for s in stages if s.kind == StageKind.LOST]
    if won:
        title = won[0].display_name if len(won) == 1 else str(_l("Won"))
        columns.append(BoardColumn("won", title, StageKind.WON, won))
    if lost:
        columns.append(BoardColumn("lost", str(_l("Lost")), StageKind.LOST, lost))
    return columns


def column_for_stage(columns: list[BoardColumn], stage_code: str) -> BoardColumn | None:
    return next((c for c in columns if stage_code in c.codes), None)


def board_base(filters: Mapping[str, Any], user: Any = None, today: date | None = None) -> Select:
    """Enterprises in scope matching the list's filters (without the stage filter) and a deadline filter."""
    from crm.cohorts.queries import board_conditions
    from crm.enterprises.queries import enterprise_list

    list_filters = {key: value for key, value in filters.items() if key not in ("stage", "deadline")}
    stmt = enterprise_list(list_filters, user=user)
    for clause in board_conditions(filters, user=user):
        stmt = stmt.where(clause)
    deadline = (filters.get("deadline") or "").strip()
    if deadline:
        condition = deadline_condition(deadline, today)
        if condition is not None:
            stmt = stmt.where(condition)
    return stmt.order_by(None)


def _column_order(column: BoardColumn) -> tuple[Any, Any]:
    # Open columns: longest in the stage first (the ones that need attention); closed columns: latest first.
    # Table columns rather than the ORM's attributes: the board builds one short query per stage per view.
    table = Enterprise.__table__
    if column.kind == StageKind.OPEN:
        return (table.c.stage_entered_at.asc(), table.c.id.asc())
    return (table.c.stage_entered_at.desc(), table.c.id.desc())


def encode_cursor(enterprise: Any) -> str:
    raw = f"{enterprise.stage_entered_at.astimezone(UTC).isoformat()}|{enterprise.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _sep, ident = raw.partition("|")
        value = datetime.fromisoformat(moment)
        if value.tzinfo is None:
            return None
        return value, int(ident)
    except (ValueError, UnicodeDecodeError):
        return None


def _stage_ids(
    ids: Select, column: BoardColumn, stage_code: str, after: tuple[datetime, int] | None, limit: int
) -> Select:
    """One page of one stage of a column, from ``ids`` (the board's base selecting only ``enterprises.id``): an
    ORDER BY ... LIMIT that the (scope, stage, stage_entered_at, id) indexes serve, after a keyset cursor (one stage
    at a time: ``stage IN (...)`` would make PostgreSQL walk another index)."""
    table = Enterprise.__table__
    stmt = ids.where(table.c.stage == stage_code)
    if after is not None:
        moment, ident = after
        if column.kind == StageKind.OPEN:
            stmt = stmt.where(
                or_(
                    table.c.stage_entered_at > moment,
                    and_(table.c.stage_entered_at == moment, table.c.id > ident),
                )
            )
        else:
            stmt = stmt.where(
                or_(
                    table.c.stage_entered_at < moment,
                    and_(table.c.stage_entered_at == moment, table.c.id < ident),
                )
            )
    return stmt.order_by(*_column_order(column)).limit(limit)


def card_select(pages: Any = None) -> Select:
    """What a card shows, as plain rows of one statement: the enterprise's columns, its customs officer's name, its
    certification's dates and the 1+N priority flag. From ``pages`` (a subquery of ``id`` and ``column_index``)
    when given, else from every enterprise (add a WHERE). Written on the tables, not the ORM's attributes, since
    the board builds it on every view."""
    from crm.auth.models import User
    from crm.cohorts.queries import priority_condition

    enterprises = Enterprise.__table__
    users = User.__table__
    certifications = Certification.__table__
    stmt = select(
        *([pages.c.column_index] if pages is not None else []),
        enterprises.c.id,
        enterprises.c.name,
        enterprises.c.area_id,
        enterprises.c.stage,
        enterprises.c.stage_entered_at,
        enterprises.c.readiness_outcome,
        enterprises.c.readiness_total,
        enterprises.c.incentives_suspended,
        users.c.display_name.label("officer_display_name"),
        users.c.username.label("officer_username"),
        certifications.c.decision_due_on,
        certifications.c.decided_on,
        certifications.c.cycle_start_on,
        certifications.c.reapply_on,
        priority_condition().label("is_priority"),
    )
    source = enterprises if pages is None else pages.join(enterprises, enterprises.c.id == pages.c.id)
    return stmt.select_from(
        source.outerjoin(users, users.c.id == enterprises.c.customs_officer_id).outerjoin(
            certifications, certifications.c.enterprise_id == enterprises.c.id
        )
    )


def fill_columns(
    base: Select,
    columns: list[BoardColumn],
    *,
    after: tuple[datetime, int] | None = None,
    per_page: int = BOARD_PAGE_SIZE,
    today: date | None = None,
    stages: dict[str, Any] | None = None,
) -> list[BoardColumn]:
    """Fill columns with one page of cards each (after the keyset cursor ``after``, never an OFFSET).

    One statement whatever the number of cards: a UNION ALL of short index-ordered id queries (one per stage of
    each column, one card more than shown, to know whether there is a next page) joined to what the cards show.
    """
    if not columns:
        return columns
    ids = base.with_only_columns(Enterprise.__table__.c.id)
    # Each page is wrapped in its own subquery (SQLite allows no ORDER BY or LIMIT in a part of a UNION).
    parts = [
        _stage_ids(ids.add_columns(literal(index).label("column_index")), column, code, after, per_page + 1)
        .subquery()
        .select()
        for index, column in enumerate(columns)
        for code in column.codes
    ]
    stmt = card_select(union_all(*parts).subquery())
    rows_by_column: dict[int, list[Any]] = {index: [] for index in range(len(columns))}
    for row in db.session.execute(stmt):
        rows_by_column[row.column_index].append(row)
    for index, column in enumerate(columns):
        # A column of several stages merges their pages: its first per_page + 1 in the column's order.
        rows = sorted(
            rows_by_column[index], key=lambda e: (e.stage_entered_at, e.id), reverse=column.kind != StageKind.OPEN
        )[: per_page + 1]
        column.next_cursor = encode_cursor(rows[per_page - 1]) if len(rows) > per_page else None
        column.cards = build_cards(rows[:per_page], today=today, stages=stages)
    return columns


def load_card_rows(ids: list[int]) -> dict[int, Any]:
    """The card rows (``card_select()``) of the given enterprises, by id (rows with attribute access)."""
    if not ids:
        return {}
    stmt = card_select().where(Enterprise.__table__.c.id.in_(ids))
    return {row.id: row for row in db.session.execute(stmt)}


def build_cards(rows: list[Any], *, today: date | None = None, stages: dict[str, Any] | None = None) -> list[Card]:
    """Cards for rows of ``card_select()``: plain Python, no query (the deadlines' dates come with the rows)."""
    today = today or local_today()
    stages = stages if stages is not None else {s.code: s for s in stage_rows()}
    cycle_years = reverification_cycle_years() if any(row.stage == CERTIFIED for row in rows) else 0
    cards = []
    for row in rows:
        stage = stages[row.stage]
        days = (today - local_date(row.stage_entered_at)).days
        card = Card(
            enterprise=row,
            stage=stage,
            days_in_stage=days,
            is_stale=stage.sla_days is not None and days > stage.sla_days,
            officer_name=row.officer_display_name or row.officer_username,
            is_priority=bool(row.is_priority),
        )
        if row.stage == IN_CERTIFICATION and row.decision_due_on is not None and row.decided_on is None:
            card.decision_due_on = row.decision_due_on
            card.decision_overdue = row.decision_due_on < today
        if row.stage == CERTIFIED and row.cycle_start_on is not None:
            card.reverification_due_on = deadlines.reverification_due(row.cycle_start_on, cycle_years)
        if row.reapply_on and row.reapply_on > today:
            card.reapply_on = row.reapply_on
        cards.append(card)
    return cards


def board_totals(
    base: Select, filters: Mapping[str, Any], user: Any = None, today: date | None = None
) -> dict[str, int]:
    """{stage code: enterprises on the board}, for ``base`` (``board_base`` of the same filters, user and day).

    Cached in Redis until the next committed change, as the enterprise list's stage counts are
    (``counts_cache``): the key holds what the count depends on, the viewer's scope, the filters, the day
    (deadline filters) and the viewer only when a filter means "me"."""
    from crm.core.scope import scope_of
    from crm.enterprises.counts_cache import cached_counts

    scope = scope_of(user)
    viewer = user if user is not None else current_user
    parts = {
        "board": sorted((str(key), str(value)) for key, value in filters.items()),
        "scope": [scope.unrestricted, sorted(scope.area_ids), sorted(scope.office_ids)],
        "day": (today or local_today()).isoformat(),
        "user": getattr(viewer, "id", None) if "me" in filters.values() else None,
    }

    def compute() -> dict[str, int]:
        counted = base.with_only_columns(Enterprise.stage, func.count()).group_by(Enterprise.stage)
        return dict(db.session.execute(counted).all())

    return cached_counts(parts, compute)


def board(
    filters: Mapping[str, Any], user: Any = None, *, per_page: int = BOARD_PAGE_SIZE, today: date | None = None
) -> list[BoardColumn]:
    """Every column of the board with its total and first page of cards, for the filters and the user's scope.

    Two queries: the totals per stage (cached until the data changes, see ``board_totals``), and the cards of
    every column (stages come from the per-process cache).
    """
    today = today or local_today()
    ordered = stage_rows()
    stages = {s.code: s for s in ordered}
    columns = board_layout(ordered)
    base = board_base(filters, user=user, today=today)
    totals = board_totals(base, filters, user=user, today=today)
    for column in columns:
        column.total = sum(totals.get(code, 0) for code in column.codes)
    fill_columns(base, [c for c in columns if c.total], per_page=per_page, today=today, stages=stages)
    return columns


# --- the enterprise section -----------------------------------------------------------------------------

HISTORY_PREVIEW = 10
#: How many of the latest benefits the section lists.
BENEFITS_SHOWN = 50


@dataclass
class EnterpriseSection:
    """Everything the pipeline section of an enterprise page shows."""

    stage: Stage
    stages: list[Stage]
    days_in_stage: int
    is_stale: bool
    certification: Certification | None
    decision_due_on: date | None
    decision_days_left: int | None
    reapply_on: date | None
    reverification_due_on: date | None
    reverification_days_left: int | None
    cycle_years: int
    compliance: list[ComplianceYear]
    credit_events: list[CreditStatusChange]
    benefits: list[BenefitRecord]
    benefit_total: int
    history: list[StageChange]
    history_total: int
    reasons: dict[str, TransitionReason]
    suspended_since: date | None
    today: date
    can_transition: bool
    can_edit: bool
    #: {user id: name}, for the history's authors.
    user_names: dict[int, str] = field(default_factory=dict)
    #: The competent office of the certification (a per-process snapshot), if recorded.
    certification_office: Any = None
    #: The newest stage changes (``SECTION_TIMELINE_ROWS`` of them, or all), for the page's timeline.
    recent_history: list[StageChange] = field(default_factory=list)

    def user_name(self, user_id: int | None) -> str | None:
        return self.user_names.get(user_id) if user_id else None

    @property
    def sla_days(self) -> int | None:
        return self.stage.sla_days

    @property
    def is_certified(self) -> bool:
        return self.stage.code == CERTIFIED

    @property
    def report_due_on(self) -> date:
        return deadlines.report_due(self.today.year)

    def owes(self, year: int) -> bool:
        """Whether the year's internal audit and audited report are owed (certified by 30 June of that year)."""
        decided_on = self.certification.decided_on if self.certification else None
        return decided_on is None or decided_on <= deadlines.report_due(year)

    @property
    def compliance_this_year(self) -> ComplianceYear | None:
        return next((row for row in self.compliance if row.year == self.today.year), None)

    @property
    def compliance_last_year(self) -> ComplianceYear | None:
        return next((row for row in self.compliance if row.year == self.today.year - 1), None)

    def reason_label(self, code: str | None) -> str:
        reason = self.reasons.get(code or "")
        return reason.display_name if reason else (code or "")

    def stage_label(self, code: str | None) -> str:
        stage = next((s for s in self.stages if s.code == code), None)
        return stage.display_name if stage else (code or "—")


@cache
def _history_statement() -> Select:
    """The newest stage changes with their count, built once per process (the enterprise id is bound)."""
    return (
        select(StageChange, func.count().over().label("total"))
        .where(StageChange.enterprise_id == bindparam("enterprise_id"))
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
        .limit(max(HISTORY_PREVIEW, SECTION_TIMELINE_ROWS))
    )


@cache
def _benefits_statement() -> Select:
    """The latest benefits with their count, built once per process (the enterprise id is bound)."""
    return (
        select(BenefitRecord, func.count().over().label("total"))
        .where(BenefitRecord.enterprise_id == bindparam("enterprise_id"))
        .options(joinedload(BenefitRecord.measure))
        .order_by(BenefitRecord.used_on.desc(), BenefitRecord.id.desc())
        .limit(BENEFITS_SHOWN)
    )


@cache
def enterprise_section_records() -> Any:
    """The section's ``records`` (``DetailSection``): a correlated EXISTS, the enterprise has benefit records (the
    one list of the section that is often empty; its stage history is read always)."""
    return select(BenefitRecord.id).where(BenefitRecord.enterprise_id == Enterprise.id).exists()


def enterprise_section_context(
    enterprise: Enterprise, user: Any = None, today: date | None = None, *, has_records: bool = True
) -> dict[str, Any]:
    """The context of ``templates/pipeline/_enterprise_section.html``: ``{"pipeline": EnterpriseSection}``.

    Render the partial with ``enterprise`` plus this dict, e.g.
    ``render_template("enterprises/detail.html", enterprise=e, **enterprise_section_context(e))``.

    A few queries whatever the history's length: the certification, the stage history and the benefits each with
    their totals (a window count), the yearly records only once certified; the credit events are the enterprise's
    ``credit_history`` (loaded once for every section that shows it) and names come from the per-process cache.
    ``has_records=False``: the caller knows the enterprise has no benefit record (no query for them).
    """
    from crm.enterprises.listing import ListReference
    from crm.reference.cache import user_names

    user = user if user is not None else current_user
    today = today or local_today()
    stages = stage_rows()
    stage = next(s for s in stages if s.code == enterprise.stage)
    days = days_since(enterprise.stage_entered_at, today)
    cert = enterprise.certification  # loaded with the record on the enterprise page, else one query
    cycle_years = reverification_cycle_years()
    decision_due_on = (
        cert.decision_due_on if cert and enterprise.stage == IN_CERTIFICATION and not cert.decided_on else None
    )
    reverification_on = (
        deadlines.reverification_due(cert.cycle_start_on, cycle_years)
        if cert and enterprise.stage == CERTIFIED
        else None
    )
    # A few more than the preview: the page's timeline takes its stage entries from them.
    history_rows = db.session.execute(_history_statement(), {"enterprise_id": enterprise.id}).all()
    benefit_rows = (
        db.session.execute(_benefits_statement(), {"enterprise_id": enterprise.id}).all() if has_records else []
    )
    # The yearly obligations are shown (and owed) only after certification.
    compliance = (
        list(
            db.session.scalars(
                select(ComplianceYear)
                .where(ComplianceYear.enterprise_id == enterprise.id)
                .order_by(ComplianceYear.year.desc())
                .limit(10)
            )
        )
        if cert is not None and enterprise.stage == CERTIFIED
        else []
    )
    credit_events = credit_events_of(enterprise)

    section = EnterpriseSection(
        stage=stage,
        stages=stages,
        days_in_stage=days,
        is_stale=stage.sla_days is not None and days > stage.sla_days,
        certification=cert,
        decision_due_on=decision_due_on,
        decision_days_left=(decision_due_on - today).days if decision_due_on else None,
        reapply_on=cert.reapply_on if cert and cert.reapply_on and cert.reapply_on > today else None,
        reverification_due_on=reverification_on,
        reverification_days_left=(reverification_on - today).days if reverification_on else None,
        cycle_years=cycle_years,
        compliance=compliance,
        credit_events=credit_events,
        benefits=[row[0] for row in benefit_rows],
        benefit_total=benefit_rows[0].total if benefit_rows else 0,
        history=[row[0] for row in history_rows[:HISTORY_PREVIEW]],
        recent_history=[row[0] for row in history_rows],
        history_total=history_rows[0].total if history_rows else 0,
        reasons=reason_rows(),
        suspended_since=suspended_since(enterprise),
        today=today,
        can_transition=has_permission(user, Permission.TRANSITION),
        can_edit=has_permission(user, Permission.EDIT),
        user_names=user_names(),
        certification_office=ListReference().office_names.get(cert.office_id) if cert and cert.office_id else None,
    )
    return {"pipeline": section}


def stage_timeline_answer(enterprise: Enterprise, context: dict[str, Any], wanted: int) -> list[Any] | None:
    """The stage-change entries of the enterprise's timeline, from the section's context (``DetailSection``)."""
    from crm.enterprises.timeline import stage_change_entries_of

    section = context["pipeline"]
    rows = section.recent_history
    if wanted > len(rows) and section.history_total > len(rows):
        return None
    return stage_change_entries_of(rows[:wanted])


#: How many credit events the enterprise page shows.
CREDIT_EVENTS_SHOWN = 20


def credit_events_of(enterprise: Enterprise, limit: int = CREDIT_EVENTS_SHOWN) -> list[CreditStatusChange]:
    """The enterprise's latest credit-status changes, newest first: read from its ``credit_history`` (one query
    for the pipeline and credit sections together, or none when the page loaded it with the enterprise)."""
    return sorted(enterprise.credit_history, key=lambda c: (c.effective_on, c.id or 0), reverse=True)[:limit]


def suspended_since(enterprise: Enterprise) -> date | None:
    """``incentives_suspended_since``, read from the enterprise's ``credit_history`` (already loaded for the page)."""
    from crm.enterprises.models import CreditStatus

    if not enterprise.incentives_suspended:
        return None
    downgrades = (CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED)
    return max((e.effective_on for e in enterprise.credit_history if e.status in downgrades), default=None)


def history_for(enterprise_id: int, user: Any = None) -> Select:
    """The stage history of an enterprise, newest first, limited to the user's scope."""
    stmt = (
        select(StageChange)
        .where(StageChange.enterprise_id == enterprise_id)
        .options(selectinload(StageChange.changed_by))
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
    )
    return scoped_by_enterprise(stmt, StageChange.enterprise_id, user=user)
