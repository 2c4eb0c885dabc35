"""Demo 1+N cohorts of both kinds: groups led by certified parents, supply chains led by chain leaders.

One supply-chain cohort spans two areas, so a bureau user of either area sees it with members hidden.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm.cohorts.models import ActivityKind, Cohort, CohortActivity, CohortKind, CohortMember, MemberRelation
from crm.demo.services import DemoContext
from crm.enterprises.models import CreditStatus, Enterprise
from crm.extensions import db

GROUP_RELATIONS = (MemberRelation.SUBSIDIARY, MemberRelation.SUBSIDIARY, MemberRelation.BRANCH)
CHAIN_RELATIONS = (
    MemberRelation.SUPPLIER,
    MemberRelation.SUPPLIER,
    MemberRelation.CUSTOMER,
    MemberRelation.LOGISTICS,
    MemberRelation.OTHER,
)
NOTES = {
    CohortKind.GROUP: "集团母公司牵头，统一建设关务内控制度，子公司对照整改。",
    CohortKind.SUPPLY_CHAIN: "链主企业带动上下游伙伴，共同开展贸易安全和商业伙伴管理整改。",
}


def _by_area(ctx: DemoContext) -> dict[int, list[Any]]:
    rows = db.session.execute(
        select(Enterprise.id, Enterprise.area_id, Enterprise.credit_status, Enterprise.name)
        .where(Enterprise.id.between(ctx.first_enterprise_id, ctx.last_enterprise_id))
        .order_by(Enterprise.id)
    ).all()
    areas: dict[int, list[Any]] = {}
    for row in rows:
        areas.setdefault(row.area_id, []).append(row)
    return areas


def seed_cohorts(ctx: DemoContext) -> None:
    """A group and a supply-chain cohort in each of the three largest areas, one chain spanning two areas."""
    if not ctx.first_enterprise_id:
        return
    rng = ctx.rng
    areas = sorted(_by_area(ctx).items(), key=lambda item: (-len(item[1]), item[0]))[:3]
    if not areas:
        return
    admin = ctx.users.get("admin")
    for index, (_area_id, rows) in enumerate(areas):
        pool = list(rows)
        rng.shuffle(pool)
        for kind in (CohortKind.GROUP, CohortKind.SUPPLY_CHAIN):
            if len(pool) < 3:
                break
            certified = [r for r in pool if r.credit_status in (CreditStatus.AEO_ADVANCED, CreditStatus.AEO)]
            lead = certified[0] if certified and (kind == CohortKind.GROUP or rng.random() < 0.5) else pool[0]
            pool.remove(lead)
            size = min(len(pool), rng.randint(3, 7))
            members = [pool.pop() for _ in range(size)]
            if kind == CohortKind.SUPPLY_CHAIN and index == 0 and len(areas) > 1 and areas[1][1]:
                members.append(areas[1][1][-1])  # an upstream partner in another area
            short = lead.name[:8]
            cohort = Cohort(
                name=f"{short}{'集团' if kind == CohortKind.GROUP else '产业链'} 1+N 培育",
                kind=kind,
                lead_enterprise_id=lead.id,
                target_date=ctx.today + timedelta(days=rng.randint(120, 540)),
                notes=NOTES[kind],
                created_by_id=getattr(admin, "id", None),
            )
            db.session.add(cohort)
            db.session.flush()
            relations = GROUP_RELATIONS if kind == CohortKind.GROUP else CHAIN_RELATIONS
            seen = set()
            for row in members:
                if row.id in seen or row.id == lead.id:
                    continue
                seen.add(row.id)
                db.session.add(CohortMember(cohort_id=cohort.id, enterprise_id=row.id, relation=rng.choice(relations)))
            db.session.add(
                CohortActivity(
                    cohort_id=cohort.id,
                    kind=ActivityKind.CREATED,
                    occurred_at=ctx.now - timedelta(days=rng.randint(30, 200)),
                    actor_id=getattr(admin, "id", None),
                    data={"lead_enterprise_id": lead.id},
                )
            )
            db.session.add(
                CohortActivity(
                    cohort_id=cohort.id,
                    kind=ActivityKind.MEMBERS_ADDED,
                    occurred_at=ctx.now - timedelta(days=rng.randint(1, 29)),
                    actor_id=getattr(admin, "id", None),
                    data={"enterprise_ids": sorted(seen), "relation": relations[0].value},
                )
            )
    db.session.flush()
