"""Demo data: a year of visits across officers, with some planned ahead and some planned but not yet logged.

Written with bulk inserts (visits, their participants and topics) so a demo of 100,000 enterprises stays fast.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from crm.demo.services import BATCH, DemoContext, bulk_insert, reset_id_sequences
from crm.enterprises.models import Enterprise, TargetTier
from crm.extensions import db
from crm.standards.models import StandardItem
from crm.standards.services import current_version
from crm.visits.models import Visit, VisitKind, VisitStatus, visit_items, visit_participants
from crm.visits.services import local_datetime, refresh_last_visit

#: (fewest, most) visits in the past year by the enterprise's stage.
VISITS_BY_STAGE = {
    "candidate": (0, 1),
    "pooled": (0, 3),
    "cultivating": (2, 8),
    "ready": (3, 8),
    "applied": (2, 5),
    "in_certification": (1, 4),
    "certified": (1, 3),
    "not_passed": (1, 3),
    "withdrawn": (0, 1),
}
#: Stages whose enterprises may have a visit planned ahead.
PLANNED_STAGES = ("pooled", "cultivating", "ready", "applied")
#: Chances that an enterprise in those stages has a visit planned ahead, and one planned but not yet logged.
PLANNED_AHEAD = 0.3
PLANNED_NOT_LOGGED = 0.04
KIND_WEIGHTS = {
    VisitKind.ONSITE: 45,
    VisitKind.PHONE: 20,
    VisitKind.ONLINE: 15,
    VisitKind.JOINT: 12,
    VisitKind.MEETING: 8,
}
SUMMARIES = (
    "了解企业关务内控制度建设情况，查看单证管理流程，对照认证标准逐项梳理差距。",
    "就财务状况指标进行辅导，讲解资产负债率、速动比率等计算口径，企业将补充提供审计报告。",
    "现场查看仓储区、装卸区和视频监控覆盖情况，指导完善货物安全与进出区管理制度。",
    "组织企业关务、财务、信息部门座谈，明确认证准备工作分工和时间表。",
    "电话沟通整改进度，企业已完成岗位职责修订，信息系统权限管理仍在推进。",
    "线上讲解《海关高级认证企业标准》通用标准要点，解答企业关于内部审计的疑问。",
    "复核上次走访发现问题的整改情况，大部分已整改到位，少数需继续跟进。",
    "与企业法人代表沟通认证意向和目标时间，介绍认证后可享受的通关便利措施。",
)
REQUESTS = (
    "希望海关安排一次内部审计专题培训。",
    "申请在认证前开展一次预评估。",
    "咨询AEO互认国家通关便利措施。",
    "希望商务部门协调解决出口信用保险相关问题。",
    "",
    "",
    "",
)
ATTENDEES = ("关务经理 王女士", "财务总监 陈先生", "总经理 林先生", "单证主管 黄女士", "安全主管 郑先生")


def seed_visits(ctx: DemoContext) -> None:
    """Visits to the demo enterprises over the past year by their customs officer and commerce staff.

    With a ``visits`` volume (all visits, planned ones included), each enterprise's draw of past visits for its
    stage is scaled so that the enterprises still to come reach the total: the stages keep their proportions.
    """
    if not ctx.first_enterprise_id:
        return
    rng = ctx.rng
    rows = db.session.execute(
        select(
            Enterprise.id,
            Enterprise.stage,
            Enterprise.target_tier,
            Enterprise.address,
            Enterprise.commerce_officer_id,
            Enterprise.customs_officer_id,
        )
        .where(Enterprise.id.between(ctx.first_enterprise_id, ctx.last_enterprise_id))
        .order_by(Enterprise.id)
    ).all()
    items_by_tier = {tier: _item_ids(tier) for tier in TargetTier}
    first_id = next_id = (db.session.scalar(select(func.max(Visit.id))) or 0) + 1
    visits: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    target = ctx.volumes.get("visits")
    # What the draws below give on average, for the enterprises not reached yet (only those with an officer).
    expected_done = expected_planned = 0.0
    if target is not None:
        for _id, stage, _tier, _address, commerce_id, customs_id in rows:
            if commerce_id or customs_id:
                expected_done += sum(VISITS_BY_STAGE.get(stage, (0, 1))) / 2
                expected_planned += _planned_share(stage)
    carry = 0.0

    def flush_rows() -> None:
        """Insert what has been built so far (visits first, for the foreign keys) and start again."""
        for table, batch in ((Visit.__table__, visits), (visit_participants, people), (visit_items, topics)):
            bulk_insert(table, batch)
            batch.clear()

    for enterprise_id, stage, tier, address, commerce_id, customs_id in rows:
        officers = [u for u in (customs_id, commerce_id) if u]
        if not officers:
            continue
        if len(visits) >= BATCH:
            flush_rows()
        fewest, most = VISITS_BY_STAGE.get(stage, (0, 1))
        count = rng.randint(fewest, most)
        if target is not None:
            mean = (fewest + most) / 2
            wanted = max(0.0, target - (next_id - first_id) - expected_planned)
            scaled = count * wanted / expected_done + carry if expected_done else 0.0
            count = int(scaled)
            carry = scaled - count
            expected_done -= mean
            expected_planned -= _planned_share(stage)
        moments = sorted(_past_moment(ctx, rng) for _ in range(count))
        planned: list[datetime] = []
        if stage in PLANNED_STAGES and rng.random() < PLANNED_AHEAD:
            planned.append(_future_moment(ctx, rng))
        if stage in PLANNED_STAGES and rng.random() < PLANNED_NOT_LOGGED:
            day = (ctx.now - timedelta(days=rng.randint(1, 10))).date()
            planned.append(_working_day(local_datetime(day, time(10, 0))))  # planned, not yet logged
        for moment, status in [(m, VisitStatus.DONE) for m in moments] + [(m, VisitStatus.PLANNED) for m in planned]:
            kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
            if kind == VisitKind.JOINT and len(officers) > 1:
                lead, team = officers[0], list(officers)
            else:
                lead = officers[0] if rng.random() < 0.7 or len(officers) == 1 else officers[1]
                team = [lead] + [u for u in officers if u != lead and rng.random() < 0.3]
            done = status == VisitStatus.DONE
            visits.append(
                {
                    "id": next_id,
                    "enterprise_id": enterprise_id,
                    "status": status,
                    "kind": kind,
                    "starts_at": moment,
                    "duration_minutes": rng.choice((30, 60, 60, 90, 120)) if kind != VisitKind.PHONE else 15,
                    "location": address if kind in (VisitKind.ONSITE, VisitKind.JOINT) else "",
                    "officer_id": lead,
                    "attendee_names": rng.sample(ATTENDEES, k=rng.randint(1, 2)) if done else [],
                    "free_topics": [],
                    "summary": rng.choice(SUMMARIES) if done else "",
                    "requests": rng.choice(REQUESTS) if done else "",
                    "next_visit_on": (moment + timedelta(days=rng.randint(20, 60))).date() if done else None,
                    "logged_at": moment + timedelta(hours=rng.randint(1, 30)) if done else None,
                    "cancelled_at": None,
                    "cancel_reason": "",
                    "pending_follow_ups": [],
                    "created_at": moment - timedelta(days=rng.randint(0, 14)),
                    "updated_at": moment + timedelta(hours=2) if done else moment - timedelta(days=1),
                    "created_by_id": lead,
                    "updated_by_id": None,
                }
            )
            people.extend({"visit_id": next_id, "user_id": user_id} for user_id in dict.fromkeys(team))
            item_ids = items_by_tier.get(tier) or []
            if item_ids and done:
                topics.extend(
                    {"visit_id": next_id, "item_id": i} for i in rng.sample(item_ids, k=min(3, len(item_ids)))
                )
            next_id += 1
    flush_rows()
    if next_id > first_id:
        reset_id_sequences(Visit.__table__)
        refresh_last_visit()


def _planned_share(stage: str) -> float:
    """Planned visits an enterprise in ``stage`` gets on average."""
    return PLANNED_AHEAD + PLANNED_NOT_LOGGED if stage in PLANNED_STAGES else 0.0


def _item_ids(tier: TargetTier) -> list[int]:
    version = current_version(tier)
    if version is None:
        return []
    return list(
        db.session.scalars(
            select(StandardItem.id).where(StandardItem.version_id == version.id).order_by(StandardItem.id)
        )
    )


def _working_day(moment: datetime) -> datetime:
    while moment.weekday() >= 5:
        moment -= timedelta(days=1)
    return moment


def _past_moment(ctx: DemoContext, rng: random.Random) -> datetime:
    day = (ctx.now - timedelta(days=rng.randint(1, 362))).date()
    at = time(rng.choice((9, 9, 10, 10, 14, 14, 15, 16)), rng.choice((0, 30)))
    return _working_day(local_datetime(day, at))


def _future_moment(ctx: DemoContext, rng: random.Random) -> datetime:
    day = (ctx.now + timedelta(days=rng.randint(1, 30))).date()
    moment = local_datetime(day, time(rng.choice((9, 10, 14, 15)), rng.choice((0, 30))))
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment
