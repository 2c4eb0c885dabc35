"""Demo contacts and recommendations for the enterprises ``flask crm seed-demo`` created (bulk inserts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from crm.demo.names import mobile_number, person_name
from crm.demo.services import AREA_SLUGS, DemoContext, bulk_insert
from crm.enterprises.models import (
    Contact,
    ContactRole,
    Enterprise,
    Priority,
    Recommendation,
    enterprise_key_categories,
    recommendation_key_categories,
)
from crm.extensions import db
from crm.reference.models import RecommendingUnit

#: Area codes' telephone prefixes, for landline numbers.
PHONE_PREFIXES = {
    "350100": "0591",
    "350200": "0592",
    "350300": "0594",
    "350400": "0598",
    "350500": "0595",
    "350600": "0596",
    "350700": "0599",
    "350800": "0597",
    "350900": "0593",
    "350128": "0591",
}
REASONS = (
    "进出口规模位居本地区前列，内控体系较完善，具备冲击高级认证的基础。",
    "重点产业链龙头企业，带动上下游配套企业共同提升信用管理水平。",
    "高新技术企业，外贸增长快，有通过认证享受通关便利的迫切需求。",
    "专精特新“小巨人”企业，出口市场集中在AEO互认国家和地区。",
    "企业主动申请培育，已设立专职关务岗位并开展内部自查。",
    "跨境电商新业态企业，关务流程规范，守法记录良好。",
)
LOWER = {
    Priority.A: (Priority.A, Priority.B, Priority.C),
    Priority.B: (Priority.B, Priority.C),
    Priority.C: (Priority.C,),
}


def seed_contacts_and_recommendations(ctx: DemoContext) -> None:
    """Every enterprise gets one to three contacts (one primary, usually its head of customs affairs);
    each one with a priority gets one or two recommendations whose best priority is the enterprise's."""
    if not ctx.last_enterprise_id:
        return
    rng = ctx.rng
    units = {u.code: u for u in db.session.scalars(select(RecommendingUnit))}
    provincial = [units[c] for c in ("fj-commerce", "fj-industry", "fj-science") if c in units]
    customs_units = {"fuzhou": units.get("customs-fuzhou"), "xiamen": units.get("customs-xiamen")}
    rows = db.session.execute(
        select(Enterprise.id, Enterprise.priority, Enterprise.created_at, Enterprise.office_id)
        .where(Enterprise.id.between(ctx.first_enterprise_id, ctx.last_enterprise_id))
        .order_by(Enterprise.id)
    ).all()
    categories: dict[int, list[int]] = {}
    for enterprise_id, category_id in db.session.execute(
        select(enterprise_key_categories.c.enterprise_id, enterprise_key_categories.c.key_category_id)
        .where(enterprise_key_categories.c.enterprise_id.between(ctx.first_enterprise_id, ctx.last_enterprise_id))
        .order_by(enterprise_key_categories.c.enterprise_id, enterprise_key_categories.c.key_category_id)
    ):
        categories.setdefault(enterprise_id, []).append(category_id)
    district_of = {o.id: (o.parent.code if o.parent else o.code) for o in ctx.offices.values()}
    bureau = {code: ctx.users.get(f"bureau.{slug}") for code, slug in AREA_SLUGS.items()}

    contacts: list[dict[str, Any]] = []
    recommendations: list[dict[str, Any]] = []
    recommendation_categories: list[tuple[int, list[int]]] = []
    for enterprise_id, priority, created_at, office_id in rows:
        area_code = ctx.enterprise_facts.get(enterprise_id, ("350100", None, ""))[0]
        prefix = PHONE_PREFIXES.get(area_code, "0591")
        roles = [ContactRole.CUSTOMS_LEAD] if rng.random() < 0.85 else [ContactRole.LIAISON]
        roles += rng.sample([ContactRole.LEGAL_REPRESENTATIVE, ContactRole.FINANCE_LEAD], k=rng.choice((0, 1, 1, 2)))
        for position, role in enumerate(roles):
            contacts.append(
                {
                    "enterprise_id": enterprise_id,
                    "name": person_name(rng),
                    "role": role,
                    "title": {ContactRole.CUSTOMS_LEAD: "关务经理", ContactRole.LIAISON: "关务专员"}.get(role, ""),
                    "mobile": mobile_number(rng),
                    "phone": f"{prefix}-{rng.randrange(2000_0000, 8999_9999)}" if rng.random() < 0.6 else "",
                    "email": f"gw{enterprise_id}@demo-enterprise.cn" if position == 0 else "",
                    "is_primary": position == 0,
                    "created_at": created_at,
                    "updated_at": created_at,
                }
            )
        if priority is None:
            continue
        choices = [units.get(f"commerce-{area_code}")]
        district = customs_units.get(district_of.get(office_id, ""))
        if rng.random() < 0.35:
            choices.append(district if district is not None and rng.random() < 0.6 else rng.choice(provincial))
        on = (created_at - timedelta(days=rng.randrange(0, 20))).date()
        recommender = bureau.get(area_code)
        for index, unit in enumerate(u for u in dict.fromkeys(choices) if u is not None):
            recommendations.append(
                {
                    "enterprise_id": enterprise_id,
                    "unit_id": unit.id,
                    "recommended_by_id": recommender.id if recommender and index == 0 else None,
                    "recommended_on": on + timedelta(days=index * rng.randrange(1, 30)),
                    "reason": rng.choice(REASONS),
                    "priority": Priority(priority) if index == 0 else rng.choice(LOWER[Priority(priority)]),
                    "created_at": created_at,
                    "updated_at": created_at,
                }
            )
            recommendation_categories.append((enterprise_id, categories.get(enterprise_id, [])[:2]))
    bulk_insert(Contact.__table__, contacts)
    table = Recommendation.__table__
    ids: list[int] = []
    for start in range(0, len(recommendations), 5000):
        batch = recommendations[start : start + 5000]
        ids += db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), batch).scalars()
    links = [
        {"recommendation_id": rid, "key_category_id": cid}
        for rid, (_eid, cids) in zip(ids, recommendation_categories, strict=True)
        for cid in cids
    ]
    bulk_insert(recommendation_key_categories, links)
