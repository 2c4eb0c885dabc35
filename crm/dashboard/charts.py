"""The dashboard's figures shaped for the page: each chart's numbers as a table, and the same numbers as the
JSON the chart script draws (so the chart and its table never disagree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _

from crm.core.scope import scope_of
from crm.dashboard import queries
from crm.dashboard.queries import DashboardFilter


@dataclass
class Chart:
    """One chart: ``kind`` is how the script draws it (funnel, bar, stacked, line); the table holds its numbers."""

    key: str
    title: str
    kind: str
    categories: list[str]
    #: (series name, values in the order of ``categories``)
    series: list[tuple[str, list[float | int | None]]]
    #: The table under the chart: its header and rows (the first cell of each row names the category).
    header: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "categories": self.categories,
            "series": [{"name": name, "data": values} for name, values in self.series],
        }


@dataclass
class Dashboard:
    flt: DashboardFilter
    charts: list[Chart]
    #: Headline numbers: enterprises, certified in the year, the year's target, stale, overdue tasks, suspended.
    summary: dict[str, int | None]

    def charts_json(self) -> dict[str, Any]:
        return {chart.key: chart.as_json() for chart in self.charts}


def _month_label(month: date) -> str:
    return format_date(month, "yyyy-MM")


def _percent(done: int, target: int | None) -> str:
    return f"{round(100 * done / target)}%" if target else "—"


def build_dashboard(flt: DashboardFilter) -> Dashboard:
    """Run the dashboard's aggregate queries and shape every chart."""
    stages = queries.ordered_stages()
    areas, offices = queries.reference_rows()
    stage_names = {stage.code: stage.display_name for stage in stages}
    data = queries.figures(flt)
    counts = data.counts
    area_names = {area.id: area.display_name for area in areas}
    office_names = {office.id: office.display_name for office in offices}
    charts: list[Chart] = []

    # Funnel: every stage in pipeline order (the lost stages after the won one, as the board shows them).
    funnel = [(stage_names[stage.code], counts.by_stage.get(stage.code, 0)) for stage in stages]
    charts.append(
        Chart(
            "funnel",
            _("Pipeline funnel by stage"),
            "funnel",
            [name for name, _count in funnel],
            [(_("Enterprises"), [count for _name, count in funnel])],
            [_("Stage"), _("Enterprises")],
            [[name, count] for name, count in funnel],
            note=_("Enterprises in each stage today."),
        )
    )

    # Enterprises per area and per office, by stage (stacked bars).
    area_ids = [area.id for area in areas if any(counts.by_area_stage.get((area.id, s.code)) for s in stages)]
    area_ids += sorted({a for a, _s in counts.by_area_stage} - set(area_ids) - {None})
    charts.append(
        _stacked(
            "areas",
            _("Enterprises per area by stage"),
            _("Area"),
            [(area_names.get(area_id, str(area_id)), area_id) for area_id in area_ids],
            stages,
            stage_names,
            counts.by_area_stage,
        )
    )
    office_keys = [
        office.id for office in offices if any(counts.by_office_stage.get((office.id, s.code)) for s in stages)
    ]
    office_keys += sorted({o for o, _s in counts.by_office_stage if o is not None} - set(office_keys))
    office_rows = [(office_names.get(office_id, str(office_id)), office_id) for office_id in office_keys]
    if any(o is None for o, _s in counts.by_office_stage):
        office_rows.append((_("No competent office"), None))
    charts.append(
        _stacked(
            "offices",
            _("Enterprises per customs office by stage"),
            _("Customs office"),
            office_rows,
            stages,
            stage_names,
            counts.by_office_stage,
        )
    )

    # Certified in the year against each area's target.
    certified = data.certified
    targets = queries.targets_by_area(flt.year)
    # Areas with enterprises covered or certified; with no narrowing, also the areas of the scope with a target.
    scope = scope_of(flt.user)
    target_area_ids = [
        area.id
        for area in areas
        if area.id in certified
        or area.id in area_ids
        or (area.id in targets and flt.area_id is None and flt.office_id is None and scope.covers_area(area.id))
    ]
    charts.append(
        Chart(
            "targets",
            _("Certified in %(year)s against the target", year=flt.year),
            "bar",
            [area_names.get(a, str(a)) for a in target_area_ids],
            [
                (_("Certified"), [certified.get(a, 0) for a in target_area_ids]),
                (_("Target"), [targets.get(a) for a in target_area_ids]),
            ],
            [_("Area"), _("Certified"), _("Target"), _("Of the target")],
            [
                [
                    area_names.get(a, str(a)),
                    certified.get(a, 0),
                    targets.get(a),
                    _percent(certified.get(a, 0), targets.get(a)),
                ]
                for a in target_area_ids
            ],
            note=_("Enterprises moved into the certified stage during the year; targets are set by administrators."),
        )
    )

    months = [_month_label(month) for month in flt.months]
    trend = data.monthly
    labels = {"entries": _("Entries"), "applications": _("Applications"), "certifications": _("Certifications")}
    charts.append(_monthly("trend", _("Entries, applications and certifications per month"), months, trend, labels))

    durations = list(data.durations)
    order = {stage.code: index for index, stage in enumerate(stages)}
    durations.sort(key=lambda d: order.get(d.stage, len(order)))
    charts.append(
        Chart(
            "durations",
            _("Days in each stage: median and 90th percentile"),
            "bar",
            [stage_names.get(d.stage, d.stage) for d in durations],
            [
                (_("Median"), [d.median_days for d in durations]),
                (_("90th percentile"), [d.p90_days for d in durations]),
            ],
            [_("Stage"), _("Stays"), _("Median (days)"), _("90th percentile (days)")],
            [[stage_names.get(d.stage, d.stage), d.stays, d.median_days, d.p90_days] for d in durations],
            note=_("Over the stays that ended within the date range."),
        )
    )

    stale_stages = [stage for stage in stages if stage.sla_days is not None]
    charts.append(
        Chart(
            "stale",
            _("Stale enterprises"),
            "bar",
            [stage.display_name for stage in stale_stages],
            [(_("Stale enterprises"), [counts.stale_by_stage.get(stage.code, 0) for stage in stale_stages])],
            [_("Stage"), _("Time limit (days)"), _("Stale enterprises")],
            [[stage.display_name, stage.sla_days, counts.stale_by_stage.get(stage.code, 0)] for stage in stale_stages],
            note=_("Longer than the stage's time limit without a stage change or a visit, today."),
        )
    )

    overdue = data.overdue
    overdue_ids = [a for a in area_names if overdue.get(a)] + sorted(set(overdue) - set(area_names))
    charts.append(
        Chart(
            "overdue",
            _("Overdue tasks per area"),
            "bar",
            [area_names.get(a, str(a)) for a in overdue_ids],
            [(_("Overdue tasks"), [overdue[a] for a in overdue_ids])],
            [_("Area"), _("Overdue tasks")],
            [[area_names.get(a, str(a)), overdue[a]] for a in overdue_ids],
            note=_("Unfinished cultivation tasks past their due date, today."),
        )
    )

    contacts = data.contacts
    labels = {"visits": _("Visits"), "trainings": _("Trainings attended"), "attendees": _("Attendees checked in")}
    charts.append(_monthly("contacts", _("Visits and trainings per month"), months, contacts, labels, kind="bar"))

    suspended_ids = [a for a in area_names if counts.suspended_by_area.get(a)]
    suspended_ids += sorted(a for a in counts.suspended_by_area if counts.suspended_by_area[a] and a not in area_names)
    charts.append(
        Chart(
            "suspended",
            _("Incentives suspended"),
            "bar",
            [area_names.get(a, str(a)) for a in suspended_ids],
            [(_("Enterprises"), [counts.suspended_by_area[a] for a in suspended_ids])],
            [_("Area"), _("Enterprises")],
            [[area_names.get(a, str(a)), counts.suspended_by_area[a]] for a in suspended_ids],
            note=_("Enterprises whose incentives under the notice are suspended after a credit downgrade, today."),
        )
    )

    summary = {
        "enterprises": counts.total,
        "certified": sum(certified.values()),
        "target": sum(targets.get(a, 0) for a in target_area_ids)
        if any(a in targets for a in target_area_ids)
        else None,
        "stale": sum(counts.stale_by_stage.values()),
        "overdue": sum(overdue.values()),
        "suspended": sum(counts.suspended_by_area.values()),
    }
    return Dashboard(flt, charts, summary)


def _stacked(key, title, first_column, row_keys, stages, stage_names, counts) -> Chart:
    """A stacked bar of enterprises per row (area or office) and stage, with its table (and a total column)."""
    series = [
        (stage_names[stage.code], [counts.get((row_key, stage.code), 0) for _name, row_key in row_keys])
        for stage in stages
    ]
    header = [first_column] + [stage_names[stage.code] for stage in stages] + [_("In all")]
    rows = []
    for index, (name, _row_key) in enumerate(row_keys):
        values = [values[index] for _stage, values in series]
        rows.append([name, *values, sum(values)])
    return Chart(key, title, "stacked", [name for name, _key in row_keys], series, header, rows, _("Today."))


def _monthly(key, title, months, series, labels, kind="line") -> Chart:
    names = list(labels)
    return Chart(
        key,
        title,
        kind,
        months,
        [(labels[name], series[name]) for name in names],
        [_("Month")] + [labels[name] for name in names],
        [[month, *[series[name][index] for name in names]] for index, month in enumerate(months)],
    )


def scope_summary(user: Any) -> dict[str, Any]:
    """The headline numbers of the user's scope for the home page (this year so far), without the charts."""
    start, end = queries.default_range()
    flt = DashboardFilter(start=start, end=end, user=user)
    data = queries.figures(flt)
    scope = scope_of(user)
    targets = {
        a: t for a, t in queries.targets_by_area(flt.year).items() if scope.covers_area(a) or a in data.certified
    }
    return {
        "year": flt.year,
        "certified": sum(data.certified.values()),
        "target": sum(targets.values()) if targets else None,
        "stale": sum(data.counts.stale_by_stage.values()),
        "overdue": sum(data.overdue.values()),
        "suspended": sum(data.counts.suspended_by_area.values()),
    }
