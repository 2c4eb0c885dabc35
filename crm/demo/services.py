"""Deterministic demo data: users of every role and enterprises spread over every area and office.

Enterprises and their history are written with bulk inserts so 100,000 of them take well under two
minutes. Features extend the demo with their own records through ``feature_seeders`` (listed by hand),
each receiving the same ``DemoContext``.

Volumes: ``seed-demo --volume NAME=COUNT`` asks for a total number of rows of some kind (the benchmark asks
for a million stage changes at 100,000 enterprises). Each name a seeder honours is listed in
``DEMO_VOLUMES``; a seeder reads its number from ``ctx.volumes`` (``ctx.volume(NAME, default)`` for a plain default).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select

from crm.auth.models import User
from crm.auth.services import create_user, find_user
from crm.core.audit import record_event
from crm.core.permissions import Role
from crm.demo.names import customs_code_for, enterprise_name, uscc_for
from crm.enterprises.identifiers import name_key
from crm.enterprises.models import (
    CreditStatus,
    CreditStatusChange,
    Enterprise,
    Priority,
    TargetTier,
    enterprise_business_types,
    enterprise_key_categories,
)
from crm.extensions import db
from crm.pipeline.models import Stage, StageChange
from crm.reference.models import Area, BusinessType, CustomsOffice, KeyCategory

logger = logging.getLogger(__name__)

BATCH = 5_000
#: Relative number of candidates per area: the big trading cities carry most.
AREA_WEIGHTS = {
    "350100": 18,
    "350200": 22,
    "350300": 5,
    "350400": 3,
    "350500": 24,
    "350600": 10,
    "350700": 3,
    "350800": 4,
    "350900": 6,
    "350128": 5,
}
AREA_SLUGS = {
    "350100": "fuzhou",
    "350200": "xiamen",
    "350300": "putian",
    "350400": "sanming",
    "350500": "quanzhou",
    "350600": "zhangzhou",
    "350700": "nanping",
    "350800": "longyan",
    "350900": "ningde",
    "350128": "pingtan",
}
#: Share of enterprises whose current stage is each code; the path to it follows the pipeline order.
STAGE_WEIGHTS = {
    "candidate": 22,
    "pooled": 20,
    "cultivating": 24,
    "ready": 8,
    "applied": 5,
    "in_certification": 5,
    "certified": 9,
    "not_passed": 2,
    "withdrawn": 5,
}
OPEN_PATH = ("candidate", "pooled", "cultivating", "ready", "applied", "in_certification")
#: Most back-and-forth moves one enterprise gets when a ``stage_changes`` volume asks for more history.
MAX_REVISITS = 25

#: Volumes a demo seeder honours (``seed-demo --volume NAME=COUNT``): name -> what the count means.
#: A feature's seeder adds its line here and reads its number from ``ctx.volumes`` (the benchmark passes
#: ``VOLUMES_PER_ENTERPRISE`` of ``bench/settings.py``). Without a volume each seeder makes its usual amount.
DEMO_VOLUMES: dict[str, str] = {
    "stage_changes": "stage history rows in all (at least one per stage on each enterprise's path)",
    "cultivation_tasks": (
        "cultivation tasks in all, over a plan for each of as many enterprises in cultivation or later stages"
        " as they need at about five tasks a plan (without it: at most 10,000 plans of 3 to 7 tasks)"
    ),
    "visits": (
        "visits in all, planned ones included, spread over the enterprises with an officer in proportion to"
        " their stage's usual number"
    ),
    "events": "training events in all, the first ones from the demo's catalogue, each with its invitations",
}


@dataclass
class DemoContext:
    """What the demo has created so far, for feature seeders to build on."""

    rng: random.Random
    today: date
    now: datetime
    users: dict[str, User] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    areas: dict[str, Area] = field(default_factory=dict)
    offices: dict[str, CustomsOffice] = field(default_factory=dict)
    #: id range of the enterprises created by this run.
    first_enterprise_id: int = 0
    last_enterprise_id: int = 0
    #: enterprise id -> (area code, office code, stage code), for seeders that need them.
    enterprise_facts: dict[int, tuple[str, str | None, str]] = field(default_factory=dict)
    #: Requested totals by volume name (``seed-demo --volume NAME=COUNT``); see ``DEMO_VOLUMES``.
    volumes: dict[str, int] = field(default_factory=dict)

    def volume(self, name: str, default: int) -> int:
        """The requested number of rows of kind ``name``, or the seeder's own ``default``."""
        return self.volumes.get(name, default)

    def officers_for(self, office_code: str | None) -> list[User]:
        return [
            u for u in self.users.values() if u.role == Role.CUSTOMS and any(o.code == office_code for o in u.offices)
        ]


def chunks(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk_insert(table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows (dicts with the same keys) in batches: by ``COPY`` on PostgreSQL (``copy_rows``) when they give
    every column that has a Python-side default, else by an executemany INSERT (which fills those in)."""
    from crm.core.bulk import copy_rows, defaulted_columns_missing

    count = 0
    for batch in chunks(rows):
        if not defaulted_columns_missing(table, batch[0]):
            copy_rows(table, batch)
        else:
            logger.debug("Demo rows of %s lack defaulted columns: INSERT instead of COPY", table.name)
            db.session.execute(insert(table), batch)
        count += len(batch)
    return count


def reset_id_sequences(*tables: Table) -> None:
    """After bulk inserts with explicit ids, move each table's PostgreSQL id sequence past its highest id so the
    application's next insert does not collide (SQLite needs nothing: it continues from the largest rowid)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        next_id = select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()
        db.session.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), next_id, False)))


def demo_password(rng: random.Random) -> str:
    words = ("Haixia", "Minjiang", "Wuyi", "Gulangyu", "Meizhou", "Taining", "Tulou", "Luoyang", "Jiulong")
    return f"{rng.choice(words)}-{rng.choice(words)}-{rng.randrange(1000, 9999)}"


def seed_users(ctx: DemoContext) -> None:
    """An administrator, a manager, a viewer, staff for each area and officers for each customs office."""

    def ensure(username: str, role: Role, display_name: str, **scope) -> None:
        existing = find_user(username)
        if existing is not None:
            ctx.users[username] = existing
            return
        password = demo_password(ctx.rng)
        user = create_user(
            username,
            role=role,
            password=password,
            display_name=display_name,
            email=f"{username}@demo.aeo-crm.local",
            **scope,
        )
        ctx.users[username] = user
        ctx.passwords[username] = password

    ensure("admin", Role.ADMIN, "系统管理员")
    ensure("manager", Role.MANAGER, "省商务厅 外贸处")
    ensure("viewer", Role.VIEWER, "省发改委 信用处", area_codes=["350100", "350200"])
    for code, slug in AREA_SLUGS.items():
        area = ctx.areas[code]
        ensure(f"bureau.{slug}", Role.BUREAU, f"{area.name_zh}商务局", area_codes=[code])
    for office in ctx.offices.values():
        ensure(f"customs.{office.code}", Role.CUSTOMS, f"{office.name_zh} 培育专员", office_codes=[office.code])
    db.session.flush()
    managers = ctx.users["manager"]
    for user in ctx.users.values():
        if user.role in (Role.BUREAU, Role.CUSTOMS) and user.manager_id is None:
            user.manager_id = managers.id


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _path_to(stage: str, rng: random.Random) -> list[str]:
    """A plausible sequence of stages ending in ``stage``."""
    if stage in OPEN_PATH:
        return list(OPEN_PATH[: OPEN_PATH.index(stage) + 1])
    if stage == "certified":
        return [*OPEN_PATH, "certified"]
    if stage == "not_passed":
        return [*OPEN_PATH, "not_passed"]
    # withdrawn: declined at screening or left later
    left_at = rng.choice(("candidate", "candidate", "pooled", "cultivating"))
    return [*OPEN_PATH[: OPEN_PATH.index(left_at) + 1], "withdrawn"]


def _with_revisits(rng: random.Random, path: list[str], revisits: int) -> list[str]:
    """``path`` with ``revisits`` moves back to the previous stage and forward again (plan paused, gaps found).

    The final stage stays the last one; only open stages are left and re-entered.
    """
    path = list(path)
    for _ in range(revisits):
        positions = [i for i in range(1, len(path)) if path[i] in OPEN_PATH and path[i - 1] in OPEN_PATH]
        if not positions:
            break
        i = rng.choice(positions)
        path[i + 1 : i + 1] = [path[i - 1], path[i]]
    return path


def seed_enterprises(ctx: DemoContext, count: int) -> None:
    rng = ctx.rng
    area_codes = list(AREA_WEIGHTS)
    offices_by_area: dict[str, list[CustomsOffice]] = {code: [] for code in area_codes}
    for office in ctx.offices.values():
        for area in office.areas:
            if office.parent_id is not None:
                offices_by_area[area.code].append(office)
    districts_by_area = {
        code: next(o for o in ctx.offices.values() if o.parent_id is None and any(a.code == code for a in o.areas))
        for code in area_codes
    }
    business_types = list(db.session.scalars(select(BusinessType.id).order_by(BusinessType.sort_order)))
    categories = list(db.session.scalars(select(KeyCategory.id).order_by(KeyCategory.sort_order)))
    stage_ids = {s.code for s in db.session.scalars(select(Stage))}
    missing = set(STAGE_WEIGHTS) - stage_ids
    if missing:
        raise RuntimeError(f"Reference data is missing stages {sorted(missing)}: run `flask crm seed-reference` first")

    start_id = (db.session.scalar(select(func.max(Enterprise.id))) or 0) + 1
    serial_base = db.session.scalar(select(func.count(Enterprise.id))) or 0
    taken_names = set(db.session.scalars(select(Enterprise.name)))
    taken_customs = set(db.session.scalars(select(Enterprise.customs_code).where(Enterprise.customs_code.isnot(None))))
    bureau_by_area = {code: ctx.users.get(f"bureau.{slug}") for code, slug in AREA_SLUGS.items()}
    officer_by_office = {o.code: ctx.users.get(f"customs.{o.code}") for o in ctx.offices.values()}
    creator = ctx.users.get("admin")

    enterprises: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    credit: list[dict[str, Any]] = []
    type_links: list[dict[str, Any]] = []
    category_links: list[dict[str, Any]] = []
    sequence: dict[str, int] = {}
    history_target = ctx.volumes.get("stage_changes")
    history_rows = 0

    def flush_rows() -> None:
        """Insert what has been built so far (enterprises first, for the foreign keys) and start again."""
        for table, rows in (
            (Enterprise.__table__, enterprises),
            (StageChange.__table__, history),
            (CreditStatusChange.__table__, credit),
            (enterprise_business_types, type_links),
            (enterprise_key_categories, category_links),
        ):
            bulk_insert(table, rows)
            rows.clear()

    for offset in range(count):
        if len(enterprises) >= BATCH:
            flush_rows()
        enterprise_id = start_id + offset
        area_code = _weighted(rng, AREA_WEIGHTS)
        area = ctx.areas[area_code]
        local_offices = offices_by_area[area_code]
        office = rng.choice(local_offices) if local_offices and rng.random() < 0.9 else districts_by_area[area_code]
        city = area.name_zh if area_code != "350128" else "平潭"
        name, industry = enterprise_name(rng, city, taken_names)
        district = area_code[:4] + f"{rng.choice((2, 3, 4, 5, 11, 12, 81, 82)):02d}"
        customs_code = None
        if rng.random() < 0.85:
            zone, kind = rng.choice((1, 2, 3, 4, 5, 9)), rng.choice((3, 4, 6, 6, 6, 1, 2))
            prefix = f"{area_code[:4]}{zone}{kind}"
            sequence[prefix] = sequence.get(prefix, rng.randrange(1, 400)) + rng.randrange(1, 7)
            if sequence[prefix] <= 9999:
                customs_code = customs_code_for(area_code, zone, kind, sequence[prefix])
                if customs_code in taken_customs:
                    customs_code = None
                else:
                    taken_customs.add(customs_code)
        stage = _weighted(rng, STAGE_WEIGHTS)
        path = _path_to(stage, rng)
        if history_target:
            # Spread the requested history over the enterprises that have moved at least once.
            wanted = history_target * (offset + 1) // count - history_rows - len(path)
            if wanted > 0 and len(path) > 1:
                path = _with_revisits(rng, path, min(MAX_REVISITS, -(-wanted // 2)))
            history_rows += len(path)
        days_ago = rng.randrange(30, 900)
        created_at = ctx.now - timedelta(days=days_ago, minutes=rng.randrange(0, 600))
        moments = sorted(created_at + (ctx.now - created_at) * rng.random() for _ in path[1:])
        times = [created_at, *moments]
        entered_at = times[-1]
        target_tier = TargetTier.AEO if rng.random() < 0.3 else TargetTier.AEO_ADVANCED
        if stage == "certified":
            credit_status = CreditStatus(target_tier.value)
        elif rng.random() < 0.02:
            credit_status = CreditStatus.DISCREDITED
        else:
            credit_status = CreditStatus.REGULAR
        commerce = bureau_by_area.get(area_code)
        officer = officer_by_office.get(office.code)
        enterprises.append(
            {
                "id": enterprise_id,
                "name": name,
                "name_key": name_key(name),
                "uscc": uscc_for(serial_base + offset + 1, district),
                "customs_code": customs_code,
                "area_id": area.id,
                "office_id": office.id,
                "industry": industry,
                "target_tier": target_tier,
                "trade_value": Decimal(rng.randrange(50, 500_000)) / Decimal(10),
                "employees": rng.choice((20, 45, 80, 120, 260, 480, 900, 1500, 3200)),
                "address": f"福建省{area.name_zh}市{rng.choice(('高新区', '经开区', '保税区', '自贸片区', '工业园'))}"
                if area_code != "350128"
                else f"福建省平潭综合实验区{rng.choice(('金井湾片区', '港口经济区', '中心商务区'))}",
                "credit_status": credit_status,
                "priority": rng.choice((Priority.A, Priority.B, Priority.B, Priority.C, None)),
                "priority_set_by_hand": False,
                "commerce_officer_id": commerce.id if commerce and stage != "candidate" else None,
                "customs_officer_id": officer.id if officer and stage != "candidate" else None,
                "notes": "",
                "stage": stage,
                "stage_entered_at": entered_at,
                "incentives_suspended": credit_status.is_discredited and stage == "certified",
                "created_at": created_at,
                "updated_at": entered_at,
                "created_by_id": creator.id if creator else None,
                "updated_by_id": None,
            }
        )
        previous, previous_moment = None, None
        for code, moment in zip(path, times, strict=True):
            backwards = (
                previous in OPEN_PATH and code in OPEN_PATH and OPEN_PATH.index(code) < OPEN_PATH.index(previous)
            )
            history.append(
                {
                    "enterprise_id": enterprise_id,
                    "from_stage": previous,
                    "to_stage": code,
                    "changed_at": moment,
                    "from_stage_entered_at": previous_moment,
                    "changed_by_id": (officer or commerce or creator).id if (officer or commerce or creator) else None,
                    "comment": "退回上一阶段，补充材料后重新推进" if backwards else "",
                }
            )
            previous, previous_moment = code, moment
        credit.append(
            {
                "enterprise_id": enterprise_id,
                "status": CreditStatus.REGULAR if credit_status != CreditStatus.REGULAR else credit_status,
                "effective_on": (created_at - timedelta(days=rng.randrange(100, 2000))).date(),
                "source": "海关企业信用信息公示平台",
                "note": "",
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
        if credit_status != CreditStatus.REGULAR:
            credit.append(
                {
                    "enterprise_id": enterprise_id,
                    "status": credit_status,
                    "effective_on": entered_at.date(),
                    "source": "海关认证决定" if credit_status.is_aeo else "信用中国",
                    "note": "",
                    "created_at": entered_at,
                    "updated_at": entered_at,
                }
            )
        for type_id in rng.sample(business_types, k=rng.choice((1, 1, 1, 2, 2, 3))):
            type_links.append({"enterprise_id": enterprise_id, "business_type_id": type_id})
        for category_id in rng.sample(categories, k=rng.choice((0, 1, 1, 1, 2, 2, 3))):
            category_links.append({"enterprise_id": enterprise_id, "key_category_id": category_id})
        ctx.enterprise_facts[enterprise_id] = (area_code, office.code, stage)

    flush_rows()
    reset_id_sequences(Enterprise.__table__)
    ctx.first_enterprise_id, ctx.last_enterprise_id = start_id, start_id + count - 1


def feature_seeders() -> list[tuple[str, Callable[[DemoContext], Any]]]:
    """Each feature's demo records, listed by hand, run after users and enterprises."""
    from crm.cohorts.demo import seed_cohorts
    from crm.dashboard.demo import seed_targets
    from crm.enterprises.demo import seed_contacts_and_recommendations
    from crm.events.demo import seed_events
    from crm.pipeline.demo import seed_pipeline_demo
    from crm.plans.demo import seed_demo_plans
    from crm.standards.demo import seed_demo_assessments
    from crm.visits.demo import seed_visits

    return [
        ("contacts and recommendations", seed_contacts_and_recommendations),
        ("pipeline", seed_pipeline_demo),
        ("assessments", seed_demo_assessments),
        ("plans and tasks", seed_demo_plans),
        ("training events", seed_events),
        ("visits", seed_visits),
        ("1+N cohorts", seed_cohorts),
        ("certification targets", seed_targets),
    ]


def seed_demo(
    enterprises: int = 300, seed: int = 2026, now: datetime | None = None, volumes: Mapping[str, int] | None = None
) -> DemoContext:
    """Create demo users and ``enterprises`` enterprises (plus every feature's records); the caller commits.

    ``volumes`` asks for totals by name (see ``DEMO_VOLUMES``), e.g. ``{"stage_changes": 1_000_000}``.
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    ctx = DemoContext(rng=random.Random(seed), today=now.date(), now=now, volumes=dict(volumes or {}))
    ctx.areas = {a.code: a for a in db.session.scalars(select(Area).order_by(Area.sort_order, Area.code))}
    ctx.offices = {o.code: o for o in db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order))}
    if not ctx.areas or not ctx.offices:
        raise RuntimeError("Reference data is missing: run `flask crm seed-reference` first")
    seed_users(ctx)
    if enterprises:
        seed_enterprises(ctx, enterprises)
    for name, seeder in feature_seeders():
        step = time.monotonic()
        seeder(ctx)
        logger.info("Demo %s seeded in %.1fs", name, time.monotonic() - step)
    record_event(
        "seed",
        f"Demo data: {enterprises} enterprises (seed {seed})",
        details={"enterprises": enterprises, "volumes": ctx.volumes},
    )
    logger.info("Demo data seeded in %.1fs", time.monotonic() - started)
    return ctx
