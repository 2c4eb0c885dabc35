"""Demo plans and cultivation tasks for enterprises in cultivation and later stages, and two plan templates."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from crm.demo.services import BATCH, DemoContext, bulk_insert, reset_id_sequences
from crm.enterprises.models import Enterprise, TargetTier
from crm.extensions import db
from crm.plans.models import CultivationTask, OffsetAnchor, Plan, PlanStatus, PlanTemplate, PlanTemplateTask, TaskStatus
from crm.plans.models import cultivation_task_items as task_items
from crm.standards.models import StandardItem, StandardVersion

#: At most this many demo plans (with 3 to 7 tasks each) unless a ``cultivation_tasks`` volume asks for more.
MAX_PLANS = 10000
#: Tasks per plan on average (the 3-to-7 draw): with a ``cultivation_tasks`` volume, one plan per this many tasks
#: (as far as there are enterprises in the stages that get plans).
TASKS_PER_PLAN = 5
OPEN_STAGES = ("cultivating", "ready", "applied", "in_certification")
CLOSED_STAGES = ("certified", "not_passed")

TASKS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("指定关务负责人并开通中国海关信用管理服务平台账号", (1,)),
    ("组织关务、报关人员参加海关业务培训", (3,)),
    ("建立进出口单证复核制度并留存复核记录", (5,)),
    ("完善单证归档制度，整理近三年报关档案", (6,)),
    ("建立禁限审查岗位职责和审查流程", (7,)),
    ("ERP 与报关、收付汇数据对接，实现三流可追溯", (8,)),
    ("完善信息安全制度，开展等级保护测评", (9,)),
    ("开展年度内部审计并形成内审报告", (10, 11)),
    ("委托会计师事务所出具上年度审计报告", (12,)),
    ("分析资产负债结构，优化偿债能力指标", (13,)),
    ("核对海关注册备案信息，办理变更手续", (16,)),
    ("清理逾期未缴税款及滞纳金", (22,)),
    ("完善经营场所门禁和视频监控，录像保存90天以上", (45, 48)),
    ("建立员工入职背景审查和离职权限注销制度", (50, 52)),
    ("执行集装箱七点检查并留存施封照片", (54, 55)),
    ("建立商业伙伴评估和监控制度，更新伙伴名录", (66, 67)),
    ("开展贸易安全专题培训", (68,)),
    ("报关人员参加关务水平评估", (74,)),
)
GOALS = (
    "一年内完成整改，通过海关预评估并提交高级认证申请",
    "补齐内部控制和贸易安全短板，力争年内申请认证",
    "以财务指标和信息系统整改为重点，达到认证标准后提交申请",
)
MEASURES = (
    "海关培育专员每季度上门辅导一次；商务局协调第三方机构开展内审；组织参加AEO认证专题培训。",
    "纳入1+N集团式培育，由集团母公司牵头统一建设关务制度；海关提供标准解读和模拟认证。",
    "按一企一策清单逐项整改，商务局跟踪进度，海关在整改完成后开展预评估。",
)
TEMPLATES = {
    "高级认证企业标准培育流程": (
        ("企业对照标准开展自评", OffsetAnchor.START, 14, (10,)),
        ("海关培育专员上门辅导", OffsetAnchor.START, 30, ()),
        ("完成制度建设和整改", OffsetAnchor.TARGET, 90, ()),
        ("开展年度内部审计", OffsetAnchor.TARGET, 60, (10, 11)),
        ("海关预评估（模拟认证）", OffsetAnchor.TARGET, 30, ()),
        ("准备并提交认证申请材料", OffsetAnchor.TARGET, 0, ()),
    ),
    "认证企业（中小企业）培育流程": (
        ("企业对照标准开展自评", OffsetAnchor.START, 14, ()),
        ("参加AEO认证专题培训", OffsetAnchor.START, 45, (3,)),
        ("海关预评估", OffsetAnchor.TARGET, 30, ()),
        ("提交认证申请", OffsetAnchor.TARGET, 0, ()),
    ),
}


def seed_templates() -> None:
    for name, tasks in TEMPLATES.items():
        if db.session.scalar(select(func.count(PlanTemplate.id)).where(PlanTemplate.name == name)):
            continue
        template = PlanTemplate(name=name, description="演示模板，可按本地实际修改。")
        db.session.add(template)
        db.session.flush()
        for order, (title, anchor, days, numbers) in enumerate(tasks, start=1):
            db.session.add(
                PlanTemplateTask(
                    template_id=template.id,
                    title=title,
                    anchor=anchor,
                    offset_days=days,
                    sort_order=order * 10,
                    item_numbers=list(numbers),
                )
            )
    db.session.flush()


def _task_titles(rng: random.Random, count: int) -> list[tuple[str, tuple[int, ...]]]:
    """``count`` tasks for one plan: distinct titles while the list lasts, then rounds of follow-up checks."""
    chosen = rng.sample(TASKS, k=min(count, len(TASKS)))
    for n in range(len(TASKS), count):
        title, numbers = chosen[n % len(TASKS)]
        chosen.append((f"{title}（第{n // len(TASKS) + 1}轮复查）", numbers))
    return chosen


def seed_demo_plans(ctx: DemoContext) -> int:
    """Plans (active in the open stages, completed after them) with their tasks; returns the number of plans.

    Without a ``cultivation_tasks`` volume: the first ``MAX_PLANS`` enterprises in those stages, 3 to 7 tasks
    each. With one: a plan for as many of them as the total needs at about ``TASKS_PER_PLAN`` tasks each (all of
    them for the benchmark's five tasks per enterprise), each plan's 3-to-7 draw scaled so the tasks add up to the
    total.
    """
    rng = ctx.rng
    seed_templates()
    version = db.session.scalars(select(StandardVersion).where(StandardVersion.code == "aeo-advanced-2026")).first()
    item_ids = (
        dict(
            db.session.execute(
                select(StandardItem.number, StandardItem.id).where(StandardItem.version_id == version.id)
            ).all()
        )
        if version
        else {}
    )
    chosen = [
        (eid, facts) for eid, facts in sorted(ctx.enterprise_facts.items()) if facts[2] in OPEN_STAGES + CLOSED_STAGES
    ]
    task_target = ctx.volumes.get("cultivation_tasks")
    if task_target is None:
        chosen = chosen[:MAX_PLANS]
    else:
        chosen = chosen[: -(-task_target // TASKS_PER_PLAN)]
    if not chosen:
        return 0
    first_id, last_id = chosen[0][0], chosen[-1][0]
    has_plan = set(db.session.scalars(select(Plan.enterprise_id).where(Plan.enterprise_id.between(first_id, last_id))))
    next_plan = (db.session.scalar(select(func.max(Plan.id))) or 0) + 1
    next_task = (db.session.scalar(select(func.max(CultivationTask.id))) or 0) + 1
    people = {
        eid: (commerce, customs, tier)
        for eid, commerce, customs, tier in db.session.execute(
            select(
                Enterprise.id, Enterprise.commerce_officer_id, Enterprise.customs_officer_id, Enterprise.target_tier
            ).where(Enterprise.id.between(first_id, last_id))
        )
    }
    plans: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    plan_count = tasks_made = 0
    carry = 0.0

    def flush_rows() -> None:
        """Insert what has been built so far (plans first, for the foreign keys) and start again."""
        for table, rows in ((Plan.__table__, plans), (CultivationTask.__table__, tasks), (task_items, links)):
            bulk_insert(table, rows)
            rows.clear()

    for position, (eid, (_area, _office, stage)) in enumerate(chosen):
        if eid in has_plan:
            continue  # the enterprise already has a plan
        if len(tasks) >= BATCH:
            flush_rows()
        commerce, customs, tier = people[eid]
        is_open = stage in OPEN_STAGES
        started = ctx.today - timedelta(days=rng.randint(60, 400))
        target = started + timedelta(days=rng.choice((240, 300, 365, 420)))
        moment = ctx.now - (ctx.today - started)
        plans.append(
            {
                "id": next_plan,
                "enterprise_id": eid,
                "status": PlanStatus.ACTIVE if is_open else PlanStatus.COMPLETED,
                "goal": rng.choice(GOALS),
                "target_tier": tier or TargetTier.AEO_ADVANCED,
                "started_on": started,
                "target_application_on": target,
                "commerce_officer_id": commerce,
                "customs_officer_id": customs,
                "contact_id": None,
                "measures": rng.choice(MEASURES),
                "template_id": None,
                "created_at": moment,
                "updated_at": moment,
                "created_by_id": commerce,
                "updated_by_id": commerce,
            }
        )
        plan_count += 1
        share_done = {"cultivating": 0.35, "ready": 0.8, "applied": 0.9, "in_certification": 0.95}.get(stage, 1.0)
        task_count = rng.randint(3, 7)
        if task_target is not None:
            # Scale the draw so the plans still to come can reach the total; the carry keeps the rounding fair.
            scaled = task_count * (task_target - tasks_made) / (TASKS_PER_PLAN * (len(chosen) - position)) + carry
            task_count = max(0, int(scaled))
            carry = scaled - task_count
            tasks_made += task_count
        for title, numbers in _task_titles(rng, task_count):
            due = started + timedelta(days=rng.randint(20, max(21, (target - started).days)))
            done = rng.random() < share_done
            status = (
                TaskStatus.DONE
                if done
                else rng.choice((TaskStatus.TODO, TaskStatus.DOING, TaskStatus.DOING, TaskStatus.BLOCKED))
            )
            completed = min(due - timedelta(days=rng.randint(0, 20)), ctx.today) if done else None
            tasks.append(
                {
                    "id": next_task,
                    "plan_id": next_plan,
                    "enterprise_id": eid,
                    "title": title,
                    "description": "",
                    "owner_id": rng.choice((commerce, customs)),
                    "owner_contact_id": None,
                    "due_on": due,
                    "status": status,
                    "completed_on": completed,
                    "completion_note": "已按要求完成整改并留存记录。" if done else "",
                    "template_task_id": None,
                    "source_kind": None,
                    "source_id": None,
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
            links.extend({"task_id": next_task, "item_id": item_ids[n]} for n in numbers if n in item_ids)
            next_task += 1
        next_plan += 1
    flush_rows()
    reset_id_sequences(Plan.__table__, CultivationTask.__table__)
    return plan_count
