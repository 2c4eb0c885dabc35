"""Demo records of the pipeline: application dates and certificates, re-verification coming due, yearly
compliance records, credit downgrades (and a restoration) that suspend incentives, coordinators, benefits and
the reasons of the lost ones. Bulk inserts and set-based updates, so 100,000 enterprises stay fast."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, true, update

from crm.core.models import UTCDateTime
from crm.core.timeutil import local_date
from crm.enterprises.models import CreditStatus, CreditStatusChange, Enterprise
from crm.extensions import db
from crm.pipeline import deadlines
from crm.pipeline.models import (
    BenefitRecord,
    Certification,
    CertificationOutcome,
    ComplianceYear,
    LockoutCause,
    StageChange,
    TransitionReason,
)
from crm.reference.models import CustomsOffice, SupportMeasure

#: Share of certified enterprises whose certification is old enough for re-verification to come due.
REVERIFICATION_SHARE = 0.1
#: Share of certified enterprises downgraded to 失信 after certification.
DOWNGRADE_SHARE = 0.03
BENEFIT_NOTES = {
    4: "优先办理报关单修改撤销",
    5: "查验率明显下降，适用先放后检",
    6: "纳入保税+ERP监管试点",
    7: ("万元", (10, 100), "市级认证奖励资金"),
    8: ("个工作日", (1, 3), "出口退税办理时间"),
    9: ("万元", (200, 3000), "AEO专属信贷产品授信"),
    10: "跨境人民币结算便利",
    11: "船舶进出港优先靠泊",
    12: "展会摊位费补助",
    14: "向海关申请知识产权保护备案",
    15: ("万元", (1, 20), "出口信用保险保费优惠"),
    16: "港口优先装卸",
    17: "互认国家（地区）通关便利",
    18: "贸易摩擦应对法律指导",
    19: "外籍人才工作许可延长",
    20: "容缺受理",
}


def _certificate_number(office: CustomsOffice | None, year: int, sequence: int) -> str:
    prefix = {"fuzhou": "榕", "xiamen": "厦"}.get(office.code if office else "", "闽")
    return f"{prefix}关企认〔{year}〕{sequence}号"


def seed_pipeline_demo(ctx: Any) -> None:
    """Certification data for the demo enterprises that reached an application, and what follows it."""
    if not ctx.enterprise_facts:
        return
    rng = ctx.rng
    today = ctx.today
    first, last = ctx.first_enterprise_id, ctx.last_enterprise_id
    offices = {o.id: o for o in db.session.scalars(select(CustomsOffice))}
    reasons: dict[str, list[TransitionReason]] = defaultdict(list)
    for reason in db.session.scalars(select(TransitionReason).order_by(TransitionReason.sort_order)):
        reasons[reason.stage_code].append(reason)
    measures = {m.number: m.id for m in db.session.scalars(select(SupportMeasure))}
    interesting = ("applied", "in_certification", "certified", "not_passed")
    rows = db.session.execute(
        select(
            Enterprise.id,
            Enterprise.stage,
            Enterprise.stage_entered_at,
            Enterprise.target_tier,
            Enterprise.credit_status,
            Enterprise.office_id,
        )
        .where(Enterprise.id.between(first, last))
        .where(
            Enterprise.stage.in_(interesting)
            | Enterprise.credit_status.in_([CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED])
        )
        .order_by(Enterprise.id)
    ).all()

    certifications: dict[int, dict[str, Any]] = {}
    compliance: list[dict[str, Any]] = []
    benefits: list[dict[str, Any]] = []
    credit: list[dict[str, Any]] = []
    suspended: list[int] = []
    restored: list[int] = []
    moved_back: dict[int, timedelta] = {}
    coordinators: dict[int, list[int]] = defaultdict(list)
    sequence: dict[tuple[str, int], int] = defaultdict(int)

    def cert_row(enterprise_id: int) -> dict[str, Any]:
        return certifications.setdefault(
            enterprise_id,
            {
                "enterprise_id": enterprise_id,
                "applied_on": None,
                "accepted_on": None,
                "extended_on": None,
                "extension_note": "",
                "decision_due_on": None,
                "decided_on": None,
                "outcome": None,
                "reason_id": None,
                "certificate_no": None,
                "tier": None,
                "office_id": None,
                "cycle_start_on": None,
                "last_reverified_on": None,
                "reapply_on": None,
                "lockout_cause": None,
            },
        )

    for enterprise_id, stage, entered_at, target_tier, credit_status, office_id in rows:
        entered_on = local_date(entered_at)
        district_id = None
        if office_id is not None:
            district_id = offices[office_id].parent_id or office_id
        if stage == "applied":
            cert_row(enterprise_id)["applied_on"] = entered_on
        elif stage == "in_certification":
            row = cert_row(enterprise_id)
            row.update(applied_on=entered_on - timedelta(days=rng.randrange(7, 40)), accepted_on=entered_on)
            extended = rng.random() < 0.15 and entered_on + timedelta(days=60) <= today
            if extended:
                row.update(extended_on=entered_on + timedelta(days=60), extension_note="海关通知延长认证期限30日")
            row["decision_due_on"] = deadlines.decision_due(entered_on, extended)
        elif stage in ("certified", "not_passed"):
            decided_on = entered_on
            if stage == "certified" and rng.random() < REVERIFICATION_SHARE:
                # Certified long ago: re-verification comes due in the coming months (or is just overdue).
                decided_on = deadlines.add_years(today, -5) + timedelta(days=rng.randrange(-20, 150))
                moved_back[enterprise_id] = timedelta(days=(entered_on - decided_on).days)
            accepted_on = decided_on - timedelta(days=rng.randrange(40, 115))
            row = cert_row(enterprise_id)
            row.update(
                applied_on=accepted_on - timedelta(days=rng.randrange(5, 30)),
                accepted_on=accepted_on,
                decision_due_on=deadlines.decision_due(accepted_on),
                decided_on=decided_on,
                office_id=district_id,
            )
            if stage == "not_passed":
                row.update(
                    outcome=CertificationOutcome.NOT_PASSED,
                    reason_id=rng.choice(reasons["not_passed"]).id if reasons["not_passed"] else None,
                    reapply_on=deadlines.reapply_after(decided_on),
                    lockout_cause=LockoutCause.NOT_PASSED,
                )
            else:
                district = offices.get(district_id) if district_id else None
                sequence[(district.code if district else "", decided_on.year)] += 1
                row.update(
                    outcome=CertificationOutcome.CERTIFIED,
                    certificate_no=_certificate_number(
                        district, decided_on.year, sequence[(district.code if district else "", decided_on.year)]
                    ),
                    tier=target_tier,
                    cycle_start_on=decided_on,
                )
                if office_id is not None:
                    coordinators[office_id].append(enterprise_id)
                compliance.extend(_compliance_years(rng, enterprise_id, decided_on, today))
                benefits_until = today
                if rng.random() < DOWNGRADE_SHARE and decided_on + timedelta(days=11) < today:
                    effective_on = today - timedelta(days=rng.randrange(10, min(200, (today - decided_on).days)))
                    benefits_until = effective_on - timedelta(days=1)  # no incentive after the downgrade
                    credit.append(
                        {
                            "enterprise_id": enterprise_id,
                            "status": CreditStatus.DISCREDITED,
                            "effective_on": effective_on,
                            "source": "海关企业信用状况认定决定",
                            "note": "超过规定期限未缴纳税款",
                        }
                    )
                    suspended.append(enterprise_id)
                    row.update(reapply_on=deadlines.reapply_after(effective_on), lockout_cause=LockoutCause.DOWNGRADED)
                benefits.extend(_benefits(rng, enterprise_id, decided_on, benefits_until, measures))
        if credit_status in (CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED) and stage != "certified":
            # The base demo made these discredited on the day they entered their stage.
            row = cert_row(enterprise_id)
            if rng.random() < 0.3 and entered_on + timedelta(days=30) <= today:
                restored_on = entered_on + timedelta(days=rng.randrange(30, max(31, (today - entered_on).days + 1)))
                credit.append(
                    {
                        "enterprise_id": enterprise_id,
                        "status": CreditStatus.REGULAR,
                        "effective_on": restored_on,
                        "source": "信用修复决定",
                        "note": "已补缴税款，申请信用修复获准",
                    }
                )
                restored.append(enterprise_id)
                row.update(reapply_on=deadlines.reapply_after(restored_on), lockout_cause=LockoutCause.UPGRADED)
            else:
                suspended.append(enterprise_id)
                row.update(reapply_on=deadlines.reapply_after(entered_on), lockout_cause=LockoutCause.DOWNGRADED)

    _insert(Certification.__table__, list(certifications.values()))
    _insert(ComplianceYear.__table__, compliance)
    _insert(BenefitRecord.__table__, benefits)
    now = ctx.now
    _insert(CreditStatusChange.__table__, [row | {"created_at": now, "updated_at": now} for row in credit])
    _update_in(Enterprise, suspended, {"credit_status": CreditStatus.DISCREDITED, "incentives_suspended": True})
    _update_in(Enterprise, restored, {"credit_status": CreditStatus.REGULAR, "incentives_suspended": False})
    for office_id, enterprise_ids in coordinators.items():
        officer = ctx.users.get(f"customs.{offices[office_id].code}")
        if officer is not None:
            _update_in(Enterprise, enterprise_ids, {"coordinator_id": officer.id})
    _move_certification_back(moved_back)
    _reasons_in_history(first, last, reasons)


def _compliance_years(rng, enterprise_id: int, decided_on: date, today: date) -> list[dict[str, Any]]:
    rows = []
    for year in range(decided_on.year, today.year + 1):
        report_due = deadlines.report_due(year)
        if decided_on > report_due:
            continue  # certified after 30 June: the obligations start the next year
        report_sent = rng.random() < (0.88 if report_due < today else 0.4)
        sent_on = report_due - timedelta(days=rng.randrange(0, 60)) if report_sent else None
        if sent_on is not None and sent_on > today:
            sent_on = today
        audit_done = rng.random() < (0.9 if year < today.year else 0.25)
        audit_on = date(year, rng.randrange(3, 12), rng.randrange(1, 28)) if audit_done else None
        if audit_on is not None and audit_on > today:
            audit_on = today
        rows.append(
            {
                "enterprise_id": enterprise_id,
                "year": year,
                "internal_audit_done": audit_done,
                "internal_audit_on": audit_on,
                "report_submitted": report_sent,
                "report_submitted_on": sent_on,
                "note": "",
            }
        )
    return rows


def _benefits(rng, enterprise_id: int, decided_on: date, today: date, measures: dict[int, int]) -> list[dict]:
    rows = []
    span = max(1, (today - decided_on).days)
    for _ in range(rng.choice((0, 1, 1, 2, 3, 4))):
        number = rng.choice(list(BENEFIT_NOTES))
        if number not in measures:
            continue
        spec = BENEFIT_NOTES[number]
        figure, unit, note = None, "", spec
        if isinstance(spec, tuple):
            unit, (low, high), note = spec
            figure = Decimal(rng.randrange(low, high + 1))
        rows.append(
            {
                "enterprise_id": enterprise_id,
                "measure_id": measures[number],
                "used_on": decided_on + timedelta(days=rng.randrange(0, span)),
                "figure": figure,
                "unit": unit,
                "note": note,
            }
        )
    return rows


def _insert(table, rows: list[dict[str, Any]]) -> None:
    from crm.demo.services import bulk_insert

    if rows:
        bulk_insert(table, rows)


def _update_in(model, ids: list[int], values: dict[str, Any], batch: int = 1000) -> None:
    for start in range(0, len(ids), batch):
        db.session.execute(update(model).where(model.id.in_(ids[start : start + batch])).values(**values))


def _move_certification_back(moved: dict[int, timedelta]) -> None:
    """Enterprises certified five years ago: their whole history moves back by the same span, to stay coherent."""
    if not moved:
        return
    ids = sorted(moved)
    enterprises, changes, credits = [], [], []
    for start in range(0, len(ids), 1000):
        batch = ids[start : start + 1000]
        for enterprise_id, created_at, entered_at in db.session.execute(
            select(Enterprise.id, Enterprise.created_at, Enterprise.stage_entered_at).where(Enterprise.id.in_(batch))
        ):
            shift = moved[enterprise_id]
            enterprises.append(
                {"b_id": enterprise_id, "b_created": created_at - shift, "b_entered": entered_at - shift}
            )
        for change_id, enterprise_id, changed_at, entered_at in db.session.execute(
            select(
                StageChange.id, StageChange.enterprise_id, StageChange.changed_at, StageChange.from_stage_entered_at
            ).where(StageChange.enterprise_id.in_(batch))
        ):
            shift = moved[enterprise_id]
            changes.append(
                {"b_id": change_id, "b_at": changed_at - shift, "b_entered": entered_at - shift if entered_at else None}
            )
        for credit_id, enterprise_id, effective_on in db.session.execute(
            select(CreditStatusChange.id, CreditStatusChange.enterprise_id, CreditStatusChange.effective_on).where(
                CreditStatusChange.enterprise_id.in_(batch)
            )
        ):
            credits.append({"b_id": credit_id, "b_on": effective_on - moved[enterprise_id]})
    table = Enterprise.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            created_at=bindparam("b_created", type_=UTCDateTime()),
            stage_entered_at=bindparam("b_entered", type_=UTCDateTime()),
            updated_at=bindparam("b_entered", type_=UTCDateTime()),
        ),
        enterprises,
    )
    history = StageChange.__table__
    db.session.execute(
        update(history)
        .where(history.c.id == bindparam("b_id"))
        .values(
            changed_at=bindparam("b_at", type_=UTCDateTime()),
            from_stage_entered_at=bindparam("b_entered", type_=UTCDateTime()),
        ),
        changes,
    )
    if credits:
        table = CreditStatusChange.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(effective_on=bindparam("b_on")), credits
        )


def _reasons_in_history(first: int, last: int, reasons: dict[str, list[TransitionReason]]) -> None:
    """History rows record the screening decision, and the lost ones a reason from the list (spread by id)."""
    history = StageChange.__table__
    in_demo = history.c.enterprise_id.between(first, last)
    from_candidate = history.c.from_stage == "candidate"
    db.session.execute(
        update(history)
        .where(in_demo, from_candidate, history.c.to_stage == "pooled")
        .values(data={"screening": "accepted"})
    )
    db.session.execute(
        update(history)
        .where(in_demo, from_candidate, history.c.to_stage == "withdrawn")
        .values(data={"screening": "declined", "reason": "declined_at_screening"})
    )
    later = ("declined_at_screening", "application_withdrawn", "status_given_up")
    for stage_code, extra in (("withdrawn", ~from_candidate), ("not_passed", true())):
        options = [r for r in reasons[stage_code] if r.code not in later]
        for index, reason in enumerate(options):
            db.session.execute(
                update(history)
                .where(
                    in_demo,
                    extra,
                    history.c.to_stage == stage_code,
                    history.c.enterprise_id % len(options) == index,
                )
                .values(data={"reason": reason.code})
            )
