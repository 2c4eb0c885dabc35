"""The enterprise list: its filters (one registry), search, sort orders, stage counts and cheap deep pages.

``LIST_FILTERS`` is the one place a filter is declared: the list page builds its filter bar from it, the
list, the stage counts, the exports, saved views and bulk actions apply it, and the API reads a subset of it.
To add a filter (for example the cohorts feature's "cohort"), append one ``ListFilter`` whose ``condition``
turns the query argument into a WHERE clause on ``Enterprise``.

Pages are read in two steps: the ids of one page are taken from an index in the sort order (so page 1,000
walks index entries only), then the 50 rows are fetched by id. The total comes from the stage counts, so no
separate COUNT runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from crm.core.pagination import Page
from crm.core.permissions import Role
from crm.core.scope import scope_of
from crm.enterprises.identifiers import normalise_uscc, to_half_width
from crm.enterprises.models import (
    CreditStatus,
    Enterprise,
    Priority,
    TargetTier,
    enterprise_business_types,
    enterprise_key_categories,
)
from crm.extensions import db


class ListReference:
    """Reference rows the list needs (filter options and names for the rows), each loaded once per use."""

    def __init__(self, user: Any = None):
        self.user = user

    @cached_property
    def chinese(self) -> bool:
        from crm.core.i18n import is_chinese

        return is_chinese()

    def name(self, row: Any) -> str:
        """A reference row's name in the page's language (the language is looked up once, not per row)."""
        if row is None:
            return ""
        if self.chinese or not getattr(row, "name_en", ""):
            return row.name_zh
        return row.name_en

    @cached_property
    def areas(self) -> list[Any]:
        from crm.reference.models import Area

        return _reference_rows("areas", select(Area).order_by(Area.sort_order, Area.code))

    @cached_property
    def offices(self) -> list[Any]:
        from crm.reference.models import CustomsOffice

        return _reference_rows("offices", select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.code))

    @cached_property
    def stages(self) -> list[Any]:
        from crm.pipeline.queries import stage_rows

        return stage_rows()

    @cached_property
    def categories(self) -> list[Any]:
        from crm.reference.models import KeyCategory

        return _reference_rows("categories", select(KeyCategory).order_by(KeyCategory.sort_order, KeyCategory.code))

    @cached_property
    def business_types(self) -> list[Any]:
        from crm.reference.models import BusinessType

        return _reference_rows(
            "business_types", select(BusinessType).order_by(BusinessType.sort_order, BusinessType.code)
        )

    @cached_property
    def officers(self) -> list[Any]:
        """Commerce staff and customs officers (active), for the officer filter and the rows."""
        return active_officers()

    def by_code(self, rows: list[Any], code: str) -> Any:
        return next((row for row in rows if row.code == code), None)

    @cached_property
    def area_names(self) -> dict[int, Any]:
        return {a.id: a for a in self.areas}

    @cached_property
    def office_names(self) -> dict[int, Any]:
        return {o.id: o for o in self.offices}

    @cached_property
    def stage_by_code(self) -> dict[str, Any]:
        return {s.code: s for s in self.stages}


def _reference_rows(key: str, stmt: Select) -> list[Any]:
    """Snapshots of a reference table's rows in order, kept per process (``crm.reference.cache``)."""
    from crm.reference.cache import cached, snapshot

    return cached(("list", key), lambda: [snapshot(row) for row in db.session.scalars(stmt)])


def active_officers() -> list[Any]:
    """Active commerce staff and customs officers (id, display name, role), by role and name; kept per process."""
    from crm.auth.models import User
    from crm.reference.cache import OfficerRow, cached

    def load() -> list[Any]:
        rows = db.session.execute(
            select(User.id, User.display_name, User.role)
            .where(User.role.in_((Role.BUREAU, Role.CUSTOMS)), User.is_active.is_(True))
            .order_by(User.role, User.display_name, User.id)
        )
        return [OfficerRow(dict(row._mapping)) for row in rows]

    return cached(("list", "officers"), load)


Condition = Callable[[str, ListReference], "ColumnElement[bool] | None"]


@dataclass(frozen=True)
class ListFilter:
    """One filter of the enterprise list: its query argument, label, WHERE clause and (optional) choices."""

    name: str
    label: Any
    #: The WHERE clause for a value of the query argument, or None to ignore a value that means nothing.
    condition: Condition
    #: (value, label) choices for the filter bar; None for a yes/no switch.
    options: Callable[[ListReference], list[tuple[str, str]]] | None = None
    #: The stage counts above the table ignore the stage filter itself (they show every stage).
    counted: bool = True


def _reference_condition(rows_of: Callable[[ListReference], list[Any]], column: Any) -> Condition:
    def condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
        row = ref.by_code(rows_of(ref), value)
        return None if row is None else column == row.id

    return condition


def _office_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    """An office and, for a 直属海关, its subordinate offices."""
    office = ref.by_code(ref.offices, value)
    if office is None:
        return None
    ids = sorted({office.id} | {o.id for o in ref.offices if o.parent_id == office.id})
    return Enterprise.office_id.in_(ids)


def _stage_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    return Enterprise.stage == value if value in ref.stage_by_code else None


def _link_condition(rows_of: Callable[[ListReference], list[Any]], table: Any, column: str) -> Condition:
    def condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
        row = ref.by_code(rows_of(ref), value)
        if row is None:
            return None
        return exists().where(table.c.enterprise_id == Enterprise.id, table.c[column] == row.id)

    return condition


def _enum_condition(enum: type, column: Any) -> Condition:
    def condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
        try:
            return column == enum(value)
        except ValueError:
            return None

    return condition


def _officer_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    if value == "none":
        return and_(Enterprise.commerce_officer_id.is_(None), Enterprise.customs_officer_id.is_(None))
    if value == "me":
        user_id = getattr(ref.user, "id", None)
    else:
        try:
            user_id = int(value)
        except ValueError:
            return None
    if user_id is None:
        return None
    return or_(Enterprise.commerce_officer_id == user_id, Enterprise.customs_officer_id == user_id)


def _officer_options(ref: ListReference) -> list[tuple[str, str]]:
    return [("me", _("Assigned to me")), ("none", _("Nobody assigned"))] + [
        (str(u.id), f"{u.display_name} ({u.role_enum.label})") for u in ref.officers
    ]


def _deadline_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    """Certification deadlines and follow-up duties (crm.pipeline.queries.DEADLINE_FILTERS)."""
    from crm.pipeline.queries import deadline_condition

    return deadline_condition(value)


def _deadline_options(ref: ListReference) -> list[tuple[str, str]]:
    from crm.pipeline.queries import DEADLINE_FILTERS

    return [(name, str(label)) for name, label in DEADLINE_FILTERS if name != "stale"]


def _stale_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    if value not in ("1", "true", "on", "yes"):
        return None
    from crm.pipeline.queries import stale_condition

    return stale_condition()


def _cohort_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    """The lead and members of a 1+N cohort the user can see (crm.cohorts.queries)."""
    from crm.cohorts.queries import list_cohort_condition

    return list_cohort_condition(value, ref)


def _cohort_options(ref: ListReference) -> list[tuple[str, str]]:
    from crm.cohorts.queries import list_cohort_options

    return list_cohort_options(ref)


def _cohort_priority_condition(value: str, ref: ListReference) -> ColumnElement[bool] | None:
    """Members of a cohort whose lead is already AEO-certified (measure 2 of the notice)."""
    from crm.cohorts.queries import list_priority_condition

    return list_priority_condition(value, ref)


def _names(rows: list[Any], ref: ListReference) -> list[tuple[str, str]]:
    return [(row.code, ref.name(row)) for row in rows]


LIST_FILTERS: tuple[ListFilter, ...] = (
    ListFilter(
        "area", _l("Area"), _reference_condition(lambda r: r.areas, Enterprise.area_id), lambda r: _names(r.areas, r)
    ),
    ListFilter("office", _l("Customs office"), _office_condition, lambda r: _names(r.offices, r)),
    ListFilter("stage", _l("Stage"), _stage_condition, lambda r: _names(r.stages, r), counted=False),
    ListFilter(
        "category",
        _l("Key-enterprise category"),
        _link_condition(lambda r: r.categories, enterprise_key_categories, "key_category_id"),
        lambda r: _names(r.categories, r),
    ),
    ListFilter(
        "business_type",
        _l("Business type"),
        _link_condition(lambda r: r.business_types, enterprise_business_types, "business_type_id"),
        lambda r: _names(r.business_types, r),
    ),
    ListFilter(
        "priority", _l("Priority"), _enum_condition(Priority, Enterprise.priority), lambda r: Priority.choices()
    ),
    ListFilter(
        "target_tier",
        _l("Target tier"),
        _enum_condition(TargetTier, Enterprise.target_tier),
        lambda r: TargetTier.choices(),
    ),
    ListFilter(
        "credit_status",
        _l("Credit status"),
        _enum_condition(CreditStatus, Enterprise.credit_status),
        lambda r: CreditStatus.choices(),
    ),
    ListFilter("officer", _l("Assigned officer"), _officer_condition, _officer_options),
    ListFilter("stale", _l("Past the stage's time limit"), _stale_condition),
    ListFilter("deadline", _l("Deadline"), _deadline_condition, _deadline_options),
    ListFilter("cohort", _l("1+N cohort"), _cohort_condition, _cohort_options),
    ListFilter("cohort_priority", _l("1+N priority"), _cohort_priority_condition),
)

FILTERS_BY_NAME = {f.name: f for f in LIST_FILTERS}


def filter_options(ref: ListReference) -> dict[str, list[tuple[str, str]]]:
    """Each filter's choices for the user of ``ref`` in the page's language (officers, offices, the cohorts the
    user can see ...), kept per process until the enterprise or reference data change."""
    from crm.core.i18n import current_language
    from crm.enterprises.counts_cache import cached_per_version

    def load() -> dict[str, list[tuple[str, str]]]:
        return {spec.name: [(str(v), str(t)) for v, t in spec.options(ref)] for spec in LIST_FILTERS if spec.options}

    return cached_per_version(("list-filter-options", getattr(ref.user, "id", None), current_language()), load)


def filter_option_markup(ref: ListReference) -> dict[str, Any]:
    """``filter_options`` as escaped ``<option>`` markup (``crm.core.filters.OptionsMarkup``), for the list's filter
    bar: kept alike (per user, language and data version), so a page escapes none of its 200 options again."""
    from crm.core.filters import OptionsMarkup
    from crm.core.i18n import current_language
    from crm.enterprises.counts_cache import cached_per_version

    def load() -> dict[str, Any]:
        return {name: OptionsMarkup(options) for name, options in filter_options(ref).items()}

    return cached_per_version(("list-filter-markup", getattr(ref.user, "id", None), current_language()), load)


def search_condition(q: str) -> ColumnElement[bool] | None:
    """Substring of the name, the 统一社会信用代码 or the 海关注册编码 (full-width input accepted).

    Codes are stored upper case without spaces, so a code-like query is normalised the same way first.
    """
    q = to_half_width(q or "").strip()
    if not q:
        return None
    code = normalise_uscc(q)
    needles = [q] if code == q or not (code.isalnum() and code.isascii()) else [q, code]
    text = Enterprise.search_text
    return or_(*(text.like(f"%{_escape_like(needle)}%", escape="\\") for needle in needles))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- sorting ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSort:
    key: str
    label: Any
    column: Any
    #: Whether this column may be NULL (then NULLs come last in both directions).
    nullable: bool = False


LIST_SORTS: dict[str, ListSort] = {
    s.key: s
    for s in (
        ListSort("updated", _l("Last changed"), Enterprise.updated_at),
        ListSort("name", _l("Name"), Enterprise.name),
        ListSort("created", _l("Date added"), Enterprise.created_at),
        ListSort("entered", _l("Time in stage"), Enterprise.stage_entered_at),
        ListSort("priority", _l("Priority"), Enterprise.priority, nullable=True),
        ListSort("trade_value", _l("Import and export value"), Enterprise.trade_value, nullable=True),
    )
}
DEFAULT_SORT = "-updated"


def sort_choices() -> tuple[tuple[str, str], ...]:
    """(value, label) of every sort order: ``name`` ascending, ``-name`` descending; made once per language."""
    from crm.core.i18n import current_language

    language = current_language()
    choices = _sort_choices.get(language)
    if choices is None:
        made = []
        for sort in LIST_SORTS.values():
            made.append((sort.key, _("%(field)s, ascending", field=sort.label)))
            made.append((f"-{sort.key}", _("%(field)s, descending", field=sort.label)))
        choices = _sort_choices[language] = tuple(made)
    return choices


_sort_choices: dict[str, tuple[tuple[str, str], ...]] = {}


def order_by(sort: str, *, reverse: bool = False) -> list[Any]:
    """ORDER BY clauses of a sort, or (``reverse``) of its exact reverse, NULLs included."""
    key = sort.lstrip("-")
    spec = LIST_SORTS.get(key) or LIST_SORTS[DEFAULT_SORT.lstrip("-")]
    descending = sort.startswith("-") if key in LIST_SORTS else DEFAULT_SORT.startswith("-")
    if reverse:
        descending = not descending
    column = spec.column.desc() if descending else spec.column.asc()
    if spec.nullable:
        column = column.nulls_first() if reverse else column.nulls_last()
    return [column, Enterprise.id.desc() if descending else Enterprise.id.asc()]


# --- the query ------------------------------------------------------------------------------------------


@dataclass
class ListQuery:
    """The list's arguments, read from a query string: filter values, search, sort."""

    filters: dict[str, str] = field(default_factory=dict)
    q: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args: Mapping[str, Any], allowed: tuple[str, ...] | None = None) -> ListQuery:
        names = allowed if allowed is not None else tuple(FILTERS_BY_NAME)
        filters = {}
        for name in names:
            value = (args.get(name) or "").strip()
            if value and name in FILTERS_BY_NAME:
                filters[name] = value
        sort = (args.get("sort") or DEFAULT_SORT).strip()
        if sort.lstrip("-") not in LIST_SORTS:
            sort = DEFAULT_SORT
        return cls(filters=filters, q=(args.get("q") or "").strip()[:100], sort=sort)

    def as_args(self) -> dict[str, str]:
        args = dict(self.filters)
        if self.q:
            args["q"] = self.q
        if self.sort != DEFAULT_SORT:
            args["sort"] = self.sort
        return args

    @property
    def is_filtered(self) -> bool:
        return bool(self.filters or self.q)

    def conditions(self, ref: ListReference, *, user: Any = None, counting: bool = False) -> list[Any]:
        """WHERE clauses: the caller's scope, the search, and each filter (not the stage one when counting)."""
        clauses: list[Any] = [scope_of(user).enterprise_filter()]
        search = search_condition(self.q)
        if search is not None:
            clauses.append(search)
        for name, value in self.filters.items():
            spec = FILTERS_BY_NAME[name]
            if counting and not spec.counted:
                continue
            clause = spec.condition(value, ref)
            if clause is not None:
                clauses.append(clause)
        return clauses

    def ids(self, ref: ListReference, user: Any = None, *, reverse: bool = False) -> Select:
        """The ids of the matching enterprises in the list's order (or in its reverse)."""
        return (
            select(Enterprise.id)
            .where(*self.conditions(ref, user=user))
            .order_by(*order_by(self.sort, reverse=reverse))
        )


def stage_counts(query: ListQuery, ref: ListReference, user: Any = None) -> dict[str, int]:
    """{stage code: number of matching enterprises}, with every filter except the stage one.

    Cached in Redis until the next committed change (see ``counts_cache``).
    """
    from crm.core.timeutil import local_today
    from crm.enterprises.counts_cache import cached_counts

    scope = scope_of(user)
    counted = {name: value for name, value in query.filters.items() if FILTERS_BY_NAME[name].counted}
    parts = {
        "scope": [scope.unrestricted, sorted(scope.area_ids), sorted(scope.office_ids)],
        "filters": counted,
        "q": query.q,
        # Filters such as "stale" depend on the day, and "me" on the user.
        "day": local_today().isoformat(),
        "user": getattr(user, "id", None) if counted.get("officer") == "me" else None,
    }

    def compute() -> dict[str, int]:
        stmt = (
            select(Enterprise.stage, func.count())
            .where(*query.conditions(ref, user=user, counting=True))
            .group_by(Enterprise.stage)
        )
        return dict(db.session.execute(stmt).all())

    return cached_counts(parts, compute)


#: The columns a list row needs; names of areas, offices, stages and users are filled in from ListReference.
ROW_COLUMNS = (
    Enterprise.id,
    Enterprise.name,
    Enterprise.uscc,
    Enterprise.customs_code,
    Enterprise.area_id,
    Enterprise.office_id,
    Enterprise.stage,
    Enterprise.stage_entered_at,
    Enterprise.priority,
    Enterprise.target_tier,
    Enterprise.credit_status,
    Enterprise.incentives_suspended,
    Enterprise.readiness_outcome,
    Enterprise.readiness_total,
    Enterprise.commerce_officer_id,
    Enterprise.customs_officer_id,
    Enterprise.trade_value,
    Enterprise.updated_at,
)


@dataclass
class ListRow:
    """One row of the list, with its names and labels already in the page's language."""

    id: int
    name: str
    uscc: str
    customs_code: str | None
    area_id: int
    office_id: int | None
    area_name: str
    office_name: str
    stage: str
    stage_name: str
    #: "5 days" in the page's language.
    time_in_stage: str
    priority: Priority | None
    target_tier: TargetTier
    credit_status: CreditStatus
    credit_label: str
    incentives_suspended: bool
    readiness_outcome: str | None
    readiness_total: int | None
    #: The readiness badge's markup (``crm.standards.badges``).
    readiness_badge: Any
    commerce_officer: str | None
    customs_officer: str | None
    trade_value: Any
    updated_at: Any
    updated_on: str
    #: A member of a 1+N cohort whose lead is already AEO-certified.
    cohort_priority: bool = False


def page_of_rows(query: ListQuery, ref: ListReference, page: int, per_page: int, total: int, user: Any = None) -> Page:
    """One page of rows: ids from the index in list order (offset), then the rows themselves by id.

    A page in the second half is counted from the end, in the reverse order (``total`` is exact: the stage
    counts of the same conditions), so the last page costs what the first does instead of walking past every
    row before it."""
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    offset = (page - 1) * per_page
    if 0 < offset and offset * 2 > total:
        limit = min(per_page, total - offset)
        ids = query.ids(ref, user, reverse=True).limit(limit).offset(max(0, total - offset - limit))
    else:
        ids = query.ids(ref, user).limit(per_page).offset(offset)
    ids_subquery = ids.subquery()
    stmt = select(*ROW_COLUMNS).join(ids_subquery, ids_subquery.c.id == Enterprise.id).order_by(*order_by(query.sort))
    raw = db.session.execute(stmt).all()
    from crm.reference.cache import user_names

    rows = _rows(raw, ref, user_names())
    from crm.cohorts.queries import priority_ids

    flagged = priority_ids([row.id for row in rows])
    for row in rows:
        row.cohort_priority = row.id in flagged
    return Page(items=rows, total=total, page=page, per_page=per_page)


def _rows(raw: list[Any], ref: ListReference, users: dict[int, str]) -> list[ListRow]:
    """Rows with names, labels, dates and durations worked out once per page, not once per cell."""
    from crm.core.filters import format_date
    from crm.core.timeutil import local_date, local_tz
    from crm.standards.badges import ReadinessBadges

    tz = local_tz()
    today = local_date(datetime.now(UTC), tz)
    badges = ReadinessBadges()
    days_text = _("%(n)s days")
    credit_labels = {member: member.label for member in CreditStatus}
    area_names = {area_id: ref.name(area) for area_id, area in ref.area_names.items()}
    office_names = {office_id: ref.name(office) or "—" for office_id, office in ref.office_names.items()}
    stage_names = {code: ref.name(stage) for code, stage in ref.stage_by_code.items()}
    dates: dict[Any, str] = {}
    durations: dict[Any, str] = {}

    def shown(instant: Any) -> str:
        day = local_date(instant, tz)
        if day not in dates:
            dates[day] = format_date(day)
        return dates[day]

    def time_in_stage(instant: Any) -> str:
        day = local_date(instant, tz)
        if day not in durations:
            durations[day] = days_text % {"n": (today - day).days}
        return durations[day]

    items = []
    for r in raw:
        items.append(
            ListRow(
                id=r.id,
                name=r.name,
                uscc=r.uscc,
                customs_code=r.customs_code,
                area_id=r.area_id,
                office_id=r.office_id,
                area_name=area_names.get(r.area_id, ""),
                office_name=office_names.get(r.office_id, "—"),
                stage=r.stage,
                stage_name=stage_names.get(r.stage, r.stage),
                time_in_stage=time_in_stage(r.stage_entered_at),
                priority=r.priority,
                target_tier=r.target_tier,
                credit_status=r.credit_status,
                credit_label=credit_labels[r.credit_status],
                incentives_suspended=r.incentives_suspended,
                readiness_outcome=r.readiness_outcome,
                readiness_total=r.readiness_total,
                readiness_badge=badges(r.readiness_outcome, r.readiness_total),
                commerce_officer=users.get(r.commerce_officer_id),
                customs_officer=users.get(r.customs_officer_id),
                trade_value=r.trade_value,
                updated_at=r.updated_at,
                updated_on=shown(r.updated_at),
            )
        )
    return items


@dataclass
class ListResult:
    query: ListQuery
    page: Page
    counts: dict[str, int]
    ref: ListReference

    @property
    def stage_counts(self) -> list[tuple[Any, int]]:
        return [(stage, self.counts.get(stage.code, 0)) for stage in self.ref.stages]

    @property
    def unfiltered_total(self) -> int:
        """Matching enterprises in every stage (the figure beside "all stages")."""
        return sum(self.counts.values())


def run_list(query: ListQuery, page: int, per_page: int, user: Any = None) -> ListResult:
    """Everything the list page shows: stage counts, the total, and one page of rows."""
    ref = ListReference(user)
    counts = stage_counts(query, ref, user)
    stage = query.filters.get("stage")
    total = counts.get(stage, 0) if stage in ref.stage_by_code else sum(counts.values())
    return ListResult(query=query, page=page_of_rows(query, ref, page, per_page, total, user), counts=counts, ref=ref)
