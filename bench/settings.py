"""What the benchmark measures, where, and against which targets: the one file to edit as features land.

- ``URLS``: every page it loads. ``None`` means the page does not exist yet; point it at the final route and
  the measurement that needs it starts running.
- ``FIGURES``: every figure with its label and unit (the measuring functions are in ``bench/figures.py``).
- ``TARGETS``: issue 12's table, as ratios of figures of the same run.
- ``VOLUMES_PER_ENTERPRISE``: what ``flask crm seed-demo --volume`` is asked for, per enterprise.
"""

from __future__ import annotations

from bench.results import Target

SMOKE_SIZE = 5_000
FULL_SIZE = 100_000

#: ``seed-demo --volume NAME=COUNT`` at ``COUNT = ratio * enterprises``: at 100,000 enterprises a million stage
#: changes, 500,000 cultivation tasks, 200,000 visits and 500 training events. seed-demo says which volumes no
#: seeder honours yet; results.json records the rows each table really holds.
VOLUMES_PER_ENTERPRISE: dict[str, float] = {
    "stage_changes": 10,
    "cultivation_tasks": 5,
    "visits": 2,
    "events": 0.005,
}
#: Tables counted after seeding (a table that does not exist yet is reported as missing).
SEEDED_TABLES = (
    "enterprises",
    "stage_changes",
    "credit_status_changes",
    "cultivation_tasks",
    "visits",
    "events",
    "users",
)
DEMO_SEED = 2026

#: The scoped user of the page figures, logged in through the form: the officer of 厦门海关, a 直属海关 whose
#: scope covers its subordinate offices (Xiamen, Quanzhou, Zhangzhou, Longyan: about 60% of the enterprises,
#: so that page 1,000 exists at the full size).
SCOPED_USER = "customs.xiamen"
#: The board figure's user: 平潭 holds about 5% of the enterprises, 5,000 cards at the full size.
BOARD_USER = "bureau.pingtan"
#: Exports of every enterprise (100,000 rows at the full size) are a manager's.
EXPORT_USER = "manager"
#: The import runs on a manager's behalf too (every area in scope), through ``flask crm import-enterprises``.
IMPORT_USER = "manager"
#: Page of the "list at page 1,000" figure (the last page when the scope has fewer).
DEEP_PAGE = 1_000
PER_PAGE = 50

#: Every page the benchmark loads. Paths on the app unless said otherwise; ``{id}`` is an enterprise in the
#: user's scope, ``{page}`` a page number. ``None``: not there yet.
URLS: dict[str, str | None] = {
    # On the floor app (bench/floor_app.py): 50 rows by raw SQL in a plain Jinja table.
    "floor_list": "/?stage=cultivating",
    # Filtered (stage), sorted (the list's default: last updated first), 50 rows, scoped, total count shown.
    "enterprise_list": "/enterprises/?stage=cultivating",
    "list_page": "/enterprises/?page={page}",
    "enterprise_detail": "/enterprises/{id}",
    "home": "/",
    "dashboard": "/dashboard/",
    "board": "/pipeline/",
    # Where an export is started (the form of the list's and reports' export buttons: kind, format, query); the
    # job runs in a Celery worker the measurement starts, and /exports/<id>/status is polled to its end.
    "csv_export": "/exports/",
    "xlsx_export": "/exports/",
}
#: The web-worker memory figure cycles through these (``{id}`` and ``{page}`` vary per request). Add each new
#: page as it lands so the 2,000 requests stay a fair mix of what users do.
MIXED_PATHS: tuple[str, ...] = (
    "/",
    "/enterprises/",
    "/enterprises/?page={page}",
    "/enterprises/?stage=cultivating",
    "/enterprises/?stage=pooled&page={page}",
    "/enterprises/?q=科技",
    "/enterprises/{id}",
    "/enterprises/{id}",
    "/enterprises/{id}",
    "/profile",
    "/pipeline/",
)
MIXED_REQUESTS = 2_000

#: wrk: throughput with a few connections on the 2 sync workers; response times with one connection, so
#: they are service times rather than queueing.
THROUGHPUT = {"threads": 2, "connections": 4}
LATENCY = {"threads": 1, "connections": 1}
#: Seconds of each wrk run (after a warm-up run), by size; ``--duration`` overrides.
DURATIONS = {SMOKE_SIZE: (3, 1), FULL_SIZE: (15, 3)}
GUNICORN_WORKERS = 2

#: The columns of an export of enterprises (``crm/enterprises/exports.py`` ``export_select``: the 20 columns,
#: business types and key categories joined with 、, in the list's default order), for the ``psql COPY`` and
#: xlsxwriter floors. The app's export also turns codes into labels and instants into local dates.
EXPORT_SQL = """
SELECT e.name, e.uscc, e.customs_code, a.name_zh AS area, o.name_zh AS office, bt.names AS business_types,
       e.industry, kc.names AS key_categories, e.target_tier, e.trade_value, e.employees, e.address,
       e.credit_status, e.priority, s.name_zh AS stage, e.stage_entered_at, cu.display_name AS commerce_officer,
       co.display_name AS customs_officer, e.created_at, e.updated_at
FROM enterprises e
JOIN areas a ON a.id = e.area_id
LEFT JOIN customs_offices o ON o.id = e.office_id
JOIN stages s ON s.code = e.stage
LEFT JOIN (SELECT x.enterprise_id, string_agg(b.name_zh, '、') AS names FROM enterprise_business_types x
           JOIN business_types b ON b.id = x.business_type_id GROUP BY x.enterprise_id) bt ON bt.enterprise_id = e.id
LEFT JOIN (SELECT x.enterprise_id, string_agg(k.name_zh, '、') AS names FROM enterprise_key_categories x
           JOIN key_categories k ON k.id = x.key_category_id GROUP BY x.enterprise_id) kc ON kc.enterprise_id = e.id
LEFT JOIN users cu ON cu.id = e.commerce_officer_id
LEFT JOIN users co ON co.id = e.customs_officer_id
ORDER BY e.updated_at DESC, e.id DESC
"""
GROUP_BY_SQL = "SELECT area_id, stage, count(*) FROM enterprises GROUP BY area_id, stage"
IMPORT_ROWS = 10_000
#: Share of the import file's rows that match an enterprise already there (updates rather than creations).
IMPORT_EXISTING_SHARE = 0.3

#: key -> (label, unit)
FIGURES: dict[str, tuple[str, str]] = {
    "floor_list_rps": ("floor: 50 rows by raw SQL, plain Jinja", "req/s"),
    "enterprise_list_rps": ("enterprise list (filtered, sorted, scoped, counts)", "req/s"),
    "list_page_1_p50_ms": ("enterprise list page 1, median", "ms"),
    "list_deep_page_p50_ms": ("enterprise list page 1,000, median", "ms"),
    "enterprise_detail_rps": ("enterprise detail page", "req/s"),
    "group_by_ms": ("floor: one GROUP BY area, stage", "ms"),
    "copy_s": ("floor: psql COPY of the export's columns", "s"),
    "xlsxwriter_s": ("floor: xlsxwriter constant memory, plain cursor", "s"),
    "xlsxwriter_peak_mb": ("floor: xlsxwriter peak memory", "MB"),
    "openpyxl_parse_s": ("floor: openpyxl read-only parse of the import file", "s"),
    "worker_rss_mb": ("web worker memory after 2,000 mixed requests", "MB"),
    "dashboard_p50_ms": ("dashboard, median", "ms"),
    "board_p50_ms": ("board (5,000 cards in scope), median", "ms"),
    "board_list_p50_ms": ("enterprise list of the board's user, median", "ms"),
    "csv_export_s": ("CSV export of every enterprise", "s"),
    "csv_export_peak_mb": ("CSV export peak memory", "MB"),
    "xlsx_export_s": ("XLSX export of every enterprise", "s"),
    "xlsx_export_peak_mb": ("XLSX export peak memory", "MB"),
    "import_s": ("import of the 10,000-row XLSX (flask crm import-enterprises)", "s"),
    "sweep_large_s": ("reminder sweep, 200 due, at the full size", "s"),
    "sweep_small_s": ("reminder sweep, 200 due, at a tenth of it", "s"),
}

#: Issue 12's targets.
TARGETS: tuple[Target, ...] = (
    Target("list_vs_floor", "enterprise list ÷ floor list (req/s)", "enterprise_list_rps", "floor_list_rps", ">=", 0.6),
    Target("deep_page", "list page 1,000 ÷ page 1 (median)", "list_deep_page_p50_ms", "list_page_1_p50_ms", "<=", 2),
    Target("detail_vs_floor", "detail ÷ floor list (req/s)", "enterprise_detail_rps", "floor_list_rps", ">=", 0.5),
    Target("dashboard", "dashboard ÷ one GROUP BY", "dashboard_p50_ms", "group_by_ms", "<=", 6),
    Target("board", "board (5,000 cards) ÷ list page", "board_p50_ms", "board_list_p50_ms", "<=", 2),
    Target("csv_export", "CSV export ÷ psql COPY", "csv_export_s", "copy_s", "<=", 5),
    Target("csv_export_memory", "CSV export peak memory (MB)", "csv_export_peak_mb", None, "<=", 150),
    Target("xlsx_export", "XLSX export ÷ xlsxwriter floor", "xlsx_export_s", "xlsxwriter_s", "<=", 1.3),
    Target("xlsx_export_memory", "XLSX export peak memory (MB)", "xlsx_export_peak_mb", None, "<=", 150),
    Target("import", "import of 10,000 rows ÷ openpyxl parse", "import_s", "openpyxl_parse_s", "<=", 4),
    Target("reminder_sweep", "reminder sweep at full ÷ at a tenth", "sweep_large_s", "sweep_small_s", "<=", 1.5),
    Target("worker_memory", "web worker memory (MB)", "worker_rss_mb", None, "<=", 150),
)
