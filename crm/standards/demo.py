"""Demo assessments: passing ones for enterprises at 预评估达标 and beyond, failing and incomplete ones while
they are cultivated. Bulk inserts with ids assigned here; the pass rule is evaluated in memory."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from crm.demo.services import DemoContext, bulk_insert, reset_id_sequences
from crm.enterprises.models import Enterprise, enterprise_business_types
from crm.extensions import db
from crm.standards.models import (
    Assessment,
    AssessmentKind,
    AssessmentResult,
    Judgement,
    StandardItem,
    StandardVersion,
    standard_item_business_types,
)
from crm.standards.rules import Entry, evaluate

logger = logging.getLogger(__name__)

#: At most this many enterprises get demo assessments (74 result rows each), later stages first.
MAX_ASSESSED = 2000
PASSING_STAGES = ("ready", "applied", "in_certification", "certified")
ORDER = (*PASSING_STAGES, "not_passed", "cultivating")
EVIDENCE = {
    Judgement.BASIC: ("制度已建立但执行记录不完整", "部分岗位人员培训记录缺失", "抽查发现个别单证复核签字缺失"),
    Judgement.FAIL: ("未建立相应制度", "现场核查未发现相关记录", "资产负债率超过标准"),
}


def _judgements(
    rng, numbers: list[int], bonus: set[int], categories: dict[int, str], profile: str
) -> dict[int, Judgement]:
    """Judgements for one assessment: ``pass`` (meets the rule), ``fail`` or ``incomplete``."""
    judged = {n: (Judgement.NOT_APPLICABLE if n in bonus else Judgement.PASS) for n in numbers}
    scored = [n for n in numbers if n not in bonus]
    limited = [n for n in scored if categories[n] in ("internal_control", "trade_security")]
    other = [n for n in scored if n not in limited]
    for n in rng.sample(sorted(bonus), k=rng.choice((0, 0, 1, 2))):
        judged[n] = Judgement.PASS
    if profile == "pass":
        for n in rng.sample(limited, k=rng.choice((0, 1, 2, 3))):
            judged[n] = Judgement.BASIC
        for n in rng.sample(other, k=rng.choice((0, 0, 1))):
            judged[n] = Judgement.BASIC
    elif profile == "fail":
        for n in rng.sample(scored, k=rng.randint(1, 3)):
            judged[n] = Judgement.FAIL
        for n in rng.sample(limited, k=rng.randint(2, 6)):
            judged[n] = Judgement.BASIC
    else:
        for n in rng.sample(limited, k=rng.randint(0, 2)):
            judged[n] = Judgement.BASIC
        for n in rng.sample(scored, k=rng.randint(5, 25)):
            judged[n] = Judgement.PENDING
    return judged


def seed_demo_assessments(ctx: DemoContext) -> int:
    rng = ctx.rng
    version = db.session.scalars(select(StandardVersion).where(StandardVersion.code == "aeo-advanced-2026")).first()
    if version is None:
        logger.warning("No standard version: run `flask crm seed-reference` first; no demo assessments")
        return 0
    items = db.session.execute(
        select(StandardItem.id, StandardItem.number, StandardItem.is_bonus, StandardItem.clause_id).where(
            StandardItem.version_id == version.id
        )
    ).all()
    category_of_clause = {cl.id: c.code for c in version.categories for cl in c.clauses}
    item_ids = {number: item_id for item_id, number, _b, _c in items}
    bonus = {number for _i, number, is_bonus, _c in items if is_bonus}
    categories = {number: category_of_clause[clause_id] for _i, number, _b, clause_id in items}
    typed = {}
    for item_id, type_id in db.session.execute(select(standard_item_business_types)):
        typed.setdefault(item_id, set()).add(type_id)

    candidates = [(eid, facts) for eid, facts in ctx.enterprise_facts.items() if facts[2] in ORDER]
    candidates.sort(key=lambda pair: (ORDER.index(pair[1][2]), pair[0]))
    candidates = candidates[:MAX_ASSESSED]
    if not candidates:
        return 0
    enterprise_types: dict[int, set[int]] = {}
    ids = [eid for eid, _f in candidates]
    for start in range(0, len(ids), 5000):
        for eid, type_id in db.session.execute(
            select(enterprise_business_types.c.enterprise_id, enterprise_business_types.c.business_type_id).where(
                enterprise_business_types.c.enterprise_id.in_(ids[start : start + 5000])
            )
        ):
            enterprise_types.setdefault(eid, set()).add(type_id)

    next_id = (db.session.scalar(select(func.max(Assessment.id))) or 0) + 1
    assessments: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    readiness: dict[int, tuple[str, int]] = {}
    rules = version.rules

    def add(eid: int, kind: AssessmentKind, profile: str, days_ago: int, officer_id: int | None) -> None:
        nonlocal next_id
        types = enterprise_types.get(eid, set())
        numbers = sorted(n for n, iid in item_ids.items() if not typed.get(iid) or not types or typed[iid] & types)
        judged = _judgements(rng, numbers, bonus & set(numbers), categories, profile)
        evaluation = evaluate(rules, [Entry(n, categories[n], j, n in bonus) for n, j in judged.items()])
        assessed_on = ctx.today - timedelta(days=days_ago)
        moment = ctx.now - timedelta(days=days_ago)
        assessments.append(
            {
                "id": next_id,
                "enterprise_id": eid,
                "version_id": version.id,
                "kind": kind,
                "assessed_on": assessed_on,
                "is_draft": False,
                "assessor_id": officer_id,
                "outcome": evaluation.outcome,
                "total": evaluation.total,
                "bonus": evaluation.bonus,
                "financials": None,
                "note": "",
                "created_at": moment,
                "updated_at": moment,
            }
        )
        for number, judgement in judged.items():
            pending = judgement is Judgement.PENDING
            results.append(
                {
                    "assessment_id": next_id,
                    "item_id": item_ids[number],
                    "judgement": judgement,
                    "evidence": rng.choice(EVIDENCE[judgement]) if judgement in EVIDENCE else "",
                    "judged_by_id": None if pending else officer_id,
                    "judged_at": None if pending else moment,
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
        readiness[eid] = (evaluation.outcome.value, evaluation.total)  # added oldest first: the last one wins
        next_id += 1

    officer_of: dict[str | None, int | None] = {}
    for eid, (_area, office, stage) in candidates:
        if office not in officer_of:
            officers = ctx.officers_for(office)
            officer_of[office] = officers[0].id if officers else None
        officer_id = officer_of[office]
        if stage in PASSING_STAGES:
            add(eid, AssessmentKind.SELF, rng.choice(("fail", "incomplete", "pass")), rng.randint(120, 300), None)
            add(eid, AssessmentKind.OFFICER, "pass", rng.randint(20, 110), officer_id)
        elif stage == "not_passed":
            add(eid, AssessmentKind.OFFICER, "fail", rng.randint(30, 200), officer_id)
        else:
            add(eid, AssessmentKind.SELF, rng.choice(("fail", "fail", "incomplete")), rng.randint(60, 200), None)
            if rng.random() < 0.4:
                add(eid, AssessmentKind.OFFICER, rng.choice(("fail", "incomplete")), rng.randint(5, 55), officer_id)

    bulk_insert(Assessment.__table__, assessments)
    bulk_insert(AssessmentResult.__table__, results)
    table = Enterprise.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("eid"))
        .values(readiness_outcome=bindparam("outcome"), readiness_total=bindparam("total"))
    )
    rows = [{"eid": eid, "outcome": outcome, "total": total} for eid, (outcome, total) in readiness.items()]
    for start in range(0, len(rows), 5000):
        db.session.connection().execute(statement, rows[start : start + 5000])
    reset_id_sequences(Assessment.__table__)
    db.session.expire_all()
    return len(assessments)
