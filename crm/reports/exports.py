"""Writers of the report files, with the signature of the export jobs (see crm/exports/registry.py):

    write(params, fmt, out, *, user, generated_at, progress) -> row count

``params`` are the report's query arguments as plain JSON values; an invalid one raises ExportParamsError before
anything is written. The report pages call the same writers for their download buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, BinaryIO

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import aliased

from crm.auth.models import User
from crm.core.scope import scope_of
from crm.core.timeutil import local_date
from crm.enterprises.models import Enterprise, TargetTier
from crm.exports.registry import ExportParamsError
from crm.extensions import db
from crm.pipeline.models import Stage
from crm.reference.models import Area, CustomsOffice
from crm.reports import fixed, queries, render
from crm.reports.filters import FilterError, ReportFilters, parse_filters
from crm.reports.queries import GROUPINGS_BY_KEY, PipelineReport
from crm.reports.render import Column, Document, Sheet

Progress = Callable[[int, int | None], None]
LOCALE = "zh_CN"


def _error_message(error: FilterError) -> str:
    return "；".join(f"{name}: {' '.join(messages)}" for name, messages in error.errors.items())


def _check_format(fmt: str) -> None:
    if fmt not in render.FORMATS:
        raise ExportParamsError(_("Unknown file format."))


def _filters(params: Mapping[str, Any], **kwargs: Any) -> ReportFilters:
    try:
        return parse_filters(params, **kwargs)
    except FilterError as error:
        raise ExportParamsError(_error_message(error)) from None


def _grouping_key(params: Mapping[str, Any]) -> str:
    key = params.get("group_by") or "area"
    if not isinstance(key, str) or key not in GROUPINGS_BY_KEY:
        raise ExportParamsError(_("Unknown grouping."))
    return key


def check_pipeline_params(params: Mapping[str, Any]) -> None:
    """Refuse invalid filters or grouping of a pipeline report before its export job is queued."""
    _filters(params)
    _grouping_key(params)


def _exporter(user: Any) -> str:
    return str(user) if user is not None else ""


# --- pipeline report -------------------------------------------------------------------------------------


def pipeline_columns(report: PipelineReport) -> tuple[list[Column], list[list[int]]]:
    """The columns of a pipeline report table and their groups for the PDF."""
    columns = [Column(report.grouping.file_label, "text", 20)]
    stage_positions = []
    for stage in report.stages:
        stage_positions.append(len(columns))
        columns.append(Column(stage.name_zh, "int", 9))
    stage_positions.append(len(columns))
    columns.append(Column("合计", "int", 8))
    activity = list(range(len(columns), len(columns) + 5))
    columns += [
        Column("期内通过认证", "int", 10),
        Column("期内完成任务", "int", 10),
        Column("逾期未完成任务", "int", 10),
        Column("期内走访次数", "int", 10),
        Column("培训参训人次", "int", 10),
    ]
    conversions = []
    for stage in report.conversion_stages:
        conversions.append(len(columns))
        columns.append(Column(f"{stage.name_zh}推进率（%）", "percent", 11))
    medians = []
    for stage in report.conversion_stages:
        medians.append(len(columns))
        columns.append(Column(f"{stage.name_zh}停留天数中位数", "float", 11))
    return columns, [stage_positions, activity, conversions, medians]


def pipeline_row(report: PipelineReport, row: Any) -> list[Any]:
    if row is report.totals:
        label = "合计"
    elif row.key is None:
        label = "未归类" if report.grouping.kind == "membership" else "未设置"
    else:
        label = row.label
    values: list[Any] = [label]
    values += [row.counts.get(stage.code, 0) for stage in report.stages]
    values += [row.total, row.certified, row.tasks_done, row.tasks_overdue, row.visits, row.attendance]
    values += [row.conversion_rate(stage.code) for stage in report.conversion_stages]
    values += [row.median_days.get(stage.code) for stage in report.conversion_stages]
    return values


PIPELINE_NOTE = (
    "阶段列为当前处于各阶段的企业数（按月分组时为当月进入各阶段的次数）；推进率为期内离开该阶段的企业中向后推进"
    "（未退出、未落选）的比例；停留天数中位数按期内离开该阶段的记录计算。"
)


GROUPING_NOTES = {
    "category": "一家企业属于多个重点企业类别时在每个类别中各计一次，合计中只计一次。",
    "cohort": "一家企业属于多个培育群组（含牵头企业）时在每个群组中各计一次，合计中只计一次。",
    "officer": "企业分别计入其商务负责人和海关培育专员名下，合计中只计一次。",
}


def pipeline_sheet(report: PipelineReport) -> Sheet:
    columns, groups = pipeline_columns(report)
    note = PIPELINE_NOTE + GROUPING_NOTES.get(report.grouping.key, "")
    return Sheet(
        name=f"按{report.grouping.file_label}",
        title=f"培育进度统计（按{report.grouping.file_label}）",
        columns=columns,
        rows=[pipeline_row(report, row) for row in report.rows],
        footer=[pipeline_row(report, report.totals)],
        note=note,
        pdf_column_groups=groups,
    )


DETAIL_COLUMNS = [
    Column("企业名称", "text", 36),
    Column("统一社会信用代码", "text", 22),
    Column("所在地市", "text", 10),
    Column("主管海关", "text", 14),
    Column("培育阶段", "text", 12),
    Column("进入阶段日期", "date", 13),
    Column("目标层级", "text", 14),
    Column("商务负责人", "text", 12),
    Column("海关培育专员", "text", 12),
]


def detail_rows(filters: ReportFilters, user: Any) -> Iterator[list[Any]]:
    """The enterprises the report counts, one row each, read in batches."""
    commerce, customs = aliased(User, name="commerce_user"), aliased(User, name="customs_user")
    stmt = (
        select(
            Enterprise.name,
            Enterprise.uscc,
            Area.name_zh,
            CustomsOffice.name_zh,
            Stage.name_zh,
            Enterprise.stage_entered_at,
            Enterprise.target_tier,
            commerce.display_name,
            customs.display_name,
        )
        .select_from(Enterprise)
        .join(Area, Area.id == Enterprise.area_id)
        .outerjoin(CustomsOffice, CustomsOffice.id == Enterprise.office_id)
        .join(Stage, Stage.code == Enterprise.stage)
        .outerjoin(commerce, commerce.id == Enterprise.commerce_officer_id)
        .outerjoin(customs, customs.id == Enterprise.customs_officer_id)
        .where(scope_of(user).enterprise_filter(), *filters.conditions())
        .order_by(Area.sort_order, Stage.sort_order, Enterprise.name, Enterprise.id)
        .execution_options(yield_per=1000)
    )
    tiers = {tier.value: str(tier.label) for tier in TargetTier}
    for row in db.session.execute(stmt):
        values = list(row)
        values[5] = local_date(values[5]) if values[5] else None
        values[6] = tiers.get(getattr(values[6], "value", values[6]), "")
        yield values


def pipeline_document(
    params: Mapping[str, Any], *, user: Any, generated_at: datetime, every_grouping: bool = True
) -> tuple[Document, int]:
    """The pipeline report at the chosen grouping, then (``every_grouping``: the workbook) at every other grouping
    and the detail rows."""
    filters = _filters(params)
    selected = _grouping_key(params)
    with force_locale(LOCALE):
        main = queries.pipeline_report(filters, selected, user)
        sheets = [pipeline_sheet(main)]
        for key, grouping in GROUPINGS_BY_KEY.items() if every_grouping else ():
            if key != selected:
                # Every grouping but the month has the same totals: computed once.
                shared = main.totals if (grouping.kind == "month") == (main.grouping.kind == "month") else None
                sheet = pipeline_sheet(queries.pipeline_report(filters, key, user, totals=shared))
                sheet.in_pdf = False
                sheets.append(sheet)
        if every_grouping:
            sheets.append(
                Sheet(
                    name="企业明细",
                    title="统计范围内的企业",
                    columns=DETAIL_COLUMNS,
                    rows=detail_rows(filters, user),
                    in_pdf=False,
                )
            )
        document = Document(
            title="AEO培育进度统计报表",
            exporter=_exporter(user),
            generated_at=generated_at,
            filters=filters.described(),
            sheets=sheets,
        )
    return document, len(main.rows)


def pipeline_report_writer(
    params: dict[str, Any], fmt: str, out: BinaryIO, *, user: Any, generated_at: datetime, progress: Progress
) -> int:
    """The pipeline report (XLSX: a sheet per grouping and the detail rows; CSV and PDF: the chosen grouping)."""
    _check_format(fmt)
    # CSV holds the first sheet and the PDF the chosen grouping's: only the workbook needs the others.
    document, count = pipeline_document(params, user=user, generated_at=generated_at, every_grouping=fmt == "xlsx")
    with force_locale(LOCALE):
        render.write(document, fmt, out, progress)
    return count


# --- monthly progress ------------------------------------------------------------------------------------

PROGRESS_COLUMNS = [
    Column("地区", "text", 14),
    Column("推荐候选", "int", 10),
    Column("入库培育", "int", 10),
    Column("培育辅导中", "int", 10),
    Column("已申请认证", "int", 10),
    Column("本月通过认证", "int", 10),
    Column("本年累计通过认证", "int", 12),
    Column("本月走访次数", "int", 10),
    Column("本月培训场次", "int", 10),
    Column("本月参训人次", "int", 10),
]


def _progress_row(row: fixed.ProgressRow) -> list[Any]:
    return ["合计" if row.key is None else row.label, *(row.figures[name] for name in fixed.PROGRESS_FIGURES)]


def monthly_progress_writer(
    params: dict[str, Any], fmt: str, out: BinaryIO, *, user: Any, generated_at: datetime, progress: Progress
) -> int:
    """The monthly 培育工作进展 summary per area."""
    _check_format(fmt)
    try:
        with force_locale(LOCALE):
            report = fixed.monthly_progress(params, user)
    except FilterError as error:
        raise ExportParamsError(_error_message(error)) from None
    with force_locale(LOCALE):
        title = f"{report.year}年{report.month}月AEO培育工作进展情况"
        filters = [("月份", report.key), *report.filters.described()[1:]]
        sheet = Sheet(
            name="培育工作进展",
            title=title,
            columns=PROGRESS_COLUMNS,
            rows=[_progress_row(row) for row in report.rows],
            footer=[_progress_row(report.totals)],
            note="阶段数为月末时处于各阶段的企业数（按阶段变更记录推算）；认证、走访和培训按所选月份统计，培训场次合计中同一场培训只计一次。",
        )
        document = Document(title, _exporter(user), generated_at, filters, [sheet])
        render.write(document, fmt, out, progress)
    return len(report.rows)


# --- certified enterprises -------------------------------------------------------------------------------

CERTIFIED_COLUMNS = [
    Column("企业名称", "text", 36),
    Column("统一社会信用代码", "text", 22),
    Column("海关注册编码", "text", 14),
    Column("所在地市", "text", 10),
    Column("主管海关", "text", 14),
    Column("认证类型", "text", 14),
    Column("证书编号", "text", 18),
    Column("认证日期", "date", 12),
    Column("认证海关", "text", 14),
    Column("复核周期起始日", "date", 13),
    Column("最近复核日期", "date", 13),
    Column("企业协调员", "text", 12),
    Column("暂停享受激励措施", "text", 10),
]


def certified_rows(filters: ReportFilters, user: Any, *, whole_history: bool) -> Iterator[list[Any]]:
    for row in fixed.iter_certified(filters, user, whole_history=whole_history):
        yield [
            row.name,
            row.uscc,
            row.customs_code,
            row.area,
            row.office,
            fixed.tier_label(row.tier),
            row.certificate_no,
            row.decided_on,
            row.deciding_office,
            row.cycle_start_on,
            row.last_reverified_on,
            row.coordinator,
            bool(row.incentives_suspended),
        ]


def certified_whole_history(params: Mapping[str, Any]) -> bool:
    """The list covers every certified enterprise unless a period is given."""
    return not (params.get("from") or params.get("to"))


def certified_list_writer(
    params: dict[str, Any], fmt: str, out: BinaryIO, *, user: Any, generated_at: datetime, progress: Progress
) -> int:
    """The certified enterprises with their certificate data."""
    _check_format(fmt)
    filters = _filters(params)
    whole = certified_whole_history(params)
    with force_locale(LOCALE):
        described = filters.described()[1:] if whole else filters.described()
        count = fixed.certified_count(filters, user, whole_history=whole)
        sheet = Sheet(
            name="高级认证企业名单",
            title="AEO高级认证企业名单",
            columns=CERTIFIED_COLUMNS,
            rows=certified_rows(filters, user, whole_history=whole),
            # A4 landscape holds ten columns: the PDF leaves out the customs code and the re-verification dates.
            pdf_column_groups=[[0, 1, 3, 4, 5, 6, 7, 8, 11, 12]],
        )
        document = Document("AEO高级认证企业名单", _exporter(user), generated_at, described, [sheet])
        render.write(document, fmt, out, lambda done, total: progress(done, count))
    return count


# --- uptake of support measures --------------------------------------------------------------------------


def measure_uptake_writer(
    params: dict[str, Any], fmt: str, out: BinaryIO, *, user: Any, generated_at: datetime, progress: Progress
) -> int:
    """Uses of each support measure, and per responsible unit, in the period."""
    _check_format(fmt)
    filters = _filters(params)
    with force_locale(LOCALE):
        uptake = fixed.measure_uptake(filters, user)
        by_measure = Sheet(
            name="按措施",
            title="支持措施落实情况（按措施）",
            columns=[
                Column("措施", "text", 36),
                Column("责任单位", "text", 50),
                Column("享受次数", "int", 10),
                Column("享受企业数", "int", 10),
            ],
            rows=[[r.label, r.responsible_units, r.uses, r.enterprises] for r in uptake.measures],
            footer=[["合计", "", uptake.total_uses, uptake.total_enterprises]],
        )
        by_unit = Sheet(
            name="按责任单位",
            title="支持措施落实情况（按责任单位）",
            columns=[
                Column("责任单位", "text", 30),
                Column("负责措施（序号）", "text", 30),
                Column("享受次数", "int", 10),
                Column("享受企业数", "int", 10),
            ],
            rows=[[r.label, r.responsible_units, r.uses, r.enterprises] for r in uptake.units],
            note="一项措施有多个责任单位时，在每个责任单位下各计一次。",
        )
        document = Document(
            "支持措施落实情况统计", _exporter(user), generated_at, filters.described(), [by_measure, by_unit]
        )
        render.write(document, fmt, out, progress)
    return len(uptake.measures)


# The names the export registry refers to ("crm.reports.exports:pipeline_report", ...).
pipeline_report = pipeline_report_writer
monthly_progress = monthly_progress_writer
certified_list = certified_list_writer
measure_uptake = measure_uptake_writer
