"""Prepare the browser tests' server database: migrate, seed reference and demo data, one user per role.

Run by the ``live_server`` fixture in its own process, against the server's own database (never the
suite's): ``python -m tests.browser.seed FACTS.json``. It writes what the journeys need to know (logins,
enterprises in and out of each user's scope, anything a journey's own seeder adds) to ``FACTS.json``.

A journey that needs records of its own (an event with a registration token, an export to watch) adds a
function to ``JOURNEY_SEEDERS``: it receives the demo context and the facts dict, creates its rows through
the feature's services, and records what the test needs (ids, URLs) in ``facts``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Every browser user's password (the demo users' passwords are random).
BROWSER_PASSWORD = "Browser-Minjiang-2048!"
#: One user per role, named ``browser.<key>``. ``language`` is for the journey that switches languages: the
#: choice is saved on the account, so no other test may log in as that user. ``english`` reads English.
BROWSER_USERS: dict[str, dict[str, Any]] = {
    "admin": {"role": "admin", "display_name": "浏览器测试 管理员"},
    "manager": {"role": "manager", "display_name": "浏览器测试 省商务厅"},
    "bureau": {"role": "bureau", "area_codes": ["350500"], "display_name": "浏览器测试 泉州市商务局"},
    "customs": {"role": "customs", "office_codes": ["xiamen"], "display_name": "浏览器测试 厦门海关"},
    "viewer": {"role": "viewer", "area_codes": ["350200"], "display_name": "浏览器测试 信用处"},
    "language": {"role": "bureau", "area_codes": ["350100"], "display_name": "浏览器测试 福州市商务局"},
    "english": {"role": "bureau", "area_codes": ["350200"], "language": "en", "display_name": "Browser test, Xiamen"},
}
#: Demo enterprises in the server's database (enough for several pages in every scope).
DEFAULT_ENTERPRISES = 400


def username(key: str) -> str:
    return f"browser.{key}"


def seed_users(facts: dict[str, Any]) -> None:
    from crm.auth.services import create_user

    facts["password"] = BROWSER_PASSWORD
    facts["users"] = {}
    facts["user_ids"] = {}
    for key, spec in BROWSER_USERS.items():
        spec = dict(spec)
        user = create_user(
            username(key),
            role=spec.pop("role"),
            password=BROWSER_PASSWORD,
            email=f"{username(key)}@browser.test",
            **spec,
        )
        facts["users"][key] = username(key)
        facts["user_ids"][key] = user.id


def record_scopes(facts: dict[str, Any]) -> None:
    """For each user: the first enterprise in scope and one outside it (None when the user sees all)."""
    from sqlalchemy import not_, select

    from crm.auth.services import find_user
    from crm.core.scope import build_scope
    from crm.enterprises.models import Enterprise
    from crm.extensions import db

    facts["enterprises"] = {}
    for key in BROWSER_USERS:
        scope = build_scope(find_user(username(key)))
        inside = db.session.scalar(select(Enterprise.id).where(scope.enterprise_filter()).order_by(Enterprise.id))
        outside = None
        if not scope.unrestricted:
            outside = db.session.scalar(
                select(Enterprise.id).where(not_(scope.enterprise_filter())).order_by(Enterprise.id)
            )
        facts["enterprises"][key] = {"in_scope": inside, "out_of_scope": outside}


def _enterprise(name: str, serial: int, **values: Any) -> Any:
    """A Quanzhou enterprise (in ``browser.bureau``'s scope) with a valid credit code."""
    from sqlalchemy import select

    from crm.core.models import utcnow
    from crm.demo.names import uscc_for
    from crm.enterprises.identifiers import name_key
    from crm.enterprises.models import Enterprise
    from crm.extensions import db
    from crm.reference.models import Area, CustomsOffice

    area = db.session.scalars(select(Area).where(Area.code == "350500")).one()
    office = db.session.scalars(select(CustomsOffice).where(CustomsOffice.code == "xm-quanzhou")).one()
    values.setdefault("stage_entered_at", utcnow())
    enterprise = Enterprise(
        name=name, name_key=name_key(name), uscc=uscc_for(serial, "350502"), area=area, office=office, **values
    )
    db.session.add(enterprise)
    db.session.flush()
    return enterprise


def seed_board(_ctx: Any, facts: dict[str, Any]) -> None:
    """Two cards for the board journey: one ready to apply (its guard asks for the date), one that may not move
    to "ready" (no plan, no pre-assessment)."""
    from datetime import date

    from sqlalchemy import select

    from crm.enterprises.models import TargetTier
    from crm.extensions import db
    from crm.standards.models import Assessment, AssessmentKind, AssessmentOutcome, StandardVersion

    ready = _enterprise("看板甲进出口有限公司", 880_001, stage="ready")
    refused = _enterprise("看板乙进出口有限公司", 880_002, stage="cultivating")
    version = db.session.scalars(select(StandardVersion).order_by(StandardVersion.id)).first()
    if version is None:
        version = StandardVersion(code="browser-2026", title="测试标准", tier=TargetTier.AEO_ADVANCED, rules={})
        db.session.add(version)
        db.session.flush()
    db.session.add(
        Assessment(
            enterprise_id=ready.id,
            version_id=version.id,
            kind=AssessmentKind.OFFICER,
            assessed_on=date.today(),
            is_draft=False,
            outcome=AssessmentOutcome.PASS,
            total=97,
        )
    )
    db.session.flush()
    facts["board"] = {"query": "看板", "ready": ready.id, "refused": refused.id}


def seed_event(_ctx: Any, facts: dict[str, Any]) -> None:
    """A published event of the Quanzhou commerce bureau, with one enterprise's registration link.

    It began half an hour ago and takes registrations until it ends (at the door): check-in opens on the event's
    day, so this works whatever the time of day the suite runs.
    """
    from datetime import timedelta

    from sqlalchemy import select

    from crm.auth.services import find_user
    from crm.core.models import utcnow
    from crm.events.models import Event, EventKind, EventStatus, Invitation, InvitationSource
    from crm.events.tokens import new_token
    from crm.extensions import db
    from crm.reference.models import RecommendingUnit

    enterprise = _enterprise("报名测试进出口有限公司", 880_003, stage="cultivating")
    starts_at = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30)
    event = Event(
        title="浏览器测试：高级认证标准解读会",
        kind=EventKind.STANDARD_INTERPRETATION,
        status=EventStatus.PUBLISHED,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=4),
        registration_closes_at=starts_at + timedelta(hours=3),
        venue="泉州市商务局多功能厅",
        published_at=utcnow(),
        created_by_id=find_user(username("bureau")).id,
    )
    event.organisers = [
        db.session.scalars(select(RecommendingUnit).where(RecommendingUnit.code == "commerce-350500")).one()
    ]
    token, token_hash = new_token()
    db.session.add_all(
        [
            event,
            Invitation(event=event, enterprise_id=enterprise.id, token_hash=token_hash, source=InvitationSource.SINGLE),
        ]
    )
    db.session.flush()
    facts["event"] = {
        "id": event.id,
        "title": event.title,
        "enterprise": enterprise.name,
        "registration_url": f"/e/{token}",
        "check_in_url": f"/events/{event.id}/checkin",
    }


def seed_import(_ctx: Any, facts: dict[str, Any]) -> None:
    """A checked import of the Quanzhou bureau waiting on its preview (one new row, one invalid), made as the
    upload form and the check job make it."""
    import io

    from crm.auth.services import find_user
    from crm.demo.names import uscc_for
    from crm.enterprises import imports
    from crm.enterprises.models import EnterpriseImport
    from crm.enterprises.spreadsheets import check_spreadsheet
    from crm.extensions import db

    user = find_user(username("bureau"))
    filename = "推荐企业名单.csv"
    rows = [
        "报送企业,统一社会信用代码,地区",
        f"预览甲进出口有限公司,{uscc_for(880_004, '350502')},泉州",
        "预览乙进出口有限公司,123,泉州",
    ]
    text = "\n".join(rows) + "\n"
    upload = io.BytesIO(text.encode("utf-8"))
    kind = check_spreadsheet(upload, filename)
    upload.seek(0)
    table = imports.read_batch_table(EnterpriseImport(kind=kind), upload)
    batch = imports.start_import(upload, filename=filename, kind=kind, table=table, user=user)
    imports.store_analysis(batch, imports.analyse(table, batch.mapping or {}, user=user))
    db.session.flush()
    facts["import"] = {"id": batch.id}


def seed_notification(_ctx: Any, facts: dict[str, Any]) -> None:
    """One delivered notification for the Quanzhou bureau, so its notification centre lists something."""
    from crm.auth.services import find_user
    from crm.notifications.delivery import deliver
    from crm.notifications.services import notify

    message = notify(
        find_user(username("bureau")), "浏览器测试：培育任务即将到期", "请在本周内完成。", url="/plans/tasks"
    )
    deliver(message.id)
    facts["notification"] = {"title": message.subject}


def record_demo_records(_ctx: Any, facts: dict[str, Any]) -> None:
    """The demo's records that pages open. For each user: the first active plan (and one of its tasks), cohort,
    officer's assessment (and its first item) and visit that took place, in the user's scope (None when none).
    For the administrators' pages: a standard, a plan template and a reminder rule."""
    from sqlalchemy import select

    from crm.auth.services import find_user
    from crm.cohorts.queries import visible_cohorts
    from crm.core.scope import scoped_by_enterprise
    from crm.extensions import db
    from crm.notifications.models import ReminderRule
    from crm.plans.models import CultivationTask, Plan, PlanStatus, PlanTemplate
    from crm.standards.models import Assessment, AssessmentKind, AssessmentResult, StandardItem, StandardVersion
    from crm.visits.models import Visit, VisitStatus

    facts["admin_records"] = {
        "standard_code": db.session.scalar(select(StandardVersion.code).order_by(StandardVersion.id).limit(1)),
        "plan_template_id": db.session.scalar(select(PlanTemplate.id).order_by(PlanTemplate.id).limit(1)),
        "reminder_rule_id": db.session.scalar(select(ReminderRule.id).order_by(ReminderRule.id).limit(1)),
    }

    def first(stmt: Any, column: Any, user: Any) -> Any:
        return db.session.scalar(scoped_by_enterprise(stmt, column, user).limit(1))

    facts["records"] = {}
    for key in BROWSER_USERS:
        user = find_user(username(key))
        plan = first(
            select(Plan.id).where(Plan.status == PlanStatus.ACTIVE).order_by(Plan.id), Plan.enterprise_id, user
        )
        plan_enterprise = db.session.scalar(select(Plan.enterprise_id).where(Plan.id == plan)) if plan else None
        task = db.session.scalar(select(CultivationTask.id).where(CultivationTask.plan_id == plan).limit(1))
        assessment = first(
            select(Assessment.id)
            .where(Assessment.kind == AssessmentKind.OFFICER, Assessment.is_draft.is_(False))
            .order_by(Assessment.id),
            Assessment.enterprise_id,
            user,
        )
        item = db.session.scalar(
            select(StandardItem.number)
            .join(AssessmentResult, AssessmentResult.item_id == StandardItem.id)
            .where(AssessmentResult.assessment_id == assessment)
            .order_by(StandardItem.number)
            .limit(1)
        )
        assessed = db.session.scalar(select(Assessment.enterprise_id).where(Assessment.id == assessment))
        visit = first(
            select(Visit.id).where(Visit.status == VisitStatus.DONE).order_by(Visit.id), Visit.enterprise_id, user
        )
        cohorts = visible_cohorts(user)
        facts["records"][key] = {
            "plan_id": plan,
            "plan_enterprise": plan_enterprise,
            "task_id": task,
            "assessment_id": assessment,
            "assessment_item": item,
            "assessed_enterprise": assessed,
            "visit_id": visit,
            "cohort_id": cohorts[0].id if cohorts else None,
        }


#: Journeys' own records: ``(name, function(demo_context, facts))``, listed by hand like the demo's seeders.
JOURNEY_SEEDERS: list[tuple[str, Callable[[Any, dict[str, Any]], None]]] = [
    ("board", seed_board),
    ("event", seed_event),
    ("import", seed_import),
    ("notification", seed_notification),
    ("demo records", record_demo_records),
]


def prepare(facts_path: Path, enterprises: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from crm import create_app
    from crm.core.audit import acting_as
    from crm.demo.services import seed_demo
    from crm.extensions import db
    from crm.reference.services import seed_reference

    app = create_app()
    facts: dict[str, Any] = {}
    with app.app_context():
        upgrade()
        with acting_as("tests:browser"):
            seed_reference()
            ctx = seed_demo(enterprises=enterprises, seed=2026)
            seed_users(facts)
            db.session.flush()
            for _name, seeder in JOURNEY_SEEDERS:
                seeder(ctx, facts)
            db.session.commit()
        record_scopes(facts)
        db.session.remove()
    facts_path.write_text(json.dumps(facts, ensure_ascii=False, indent=2), encoding="utf-8")
    return facts


if __name__ == "__main__":
    count = int(os.environ.get("CRM_BROWSER_ENTERPRISES") or DEFAULT_ENTERPRISES)
    prepare(Path(sys.argv[1]), count)
