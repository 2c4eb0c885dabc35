"""The enterprise page reads a fixed number of queries, however many records each of its sections holds."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, select

from crm.enterprises.models import (
    Contact,
    ContactRole,
    CreditStatus,
    CreditStatusChange,
    EnterpriseNote,
    Recommendation,
)
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.plans.models import Plan
from crm.plans.services import create_task
from crm.reference.models import RecommendingUnit
from crm.visits.models import Visit, VisitStatus


def _count_queries(client, path: str) -> tuple[int, str]:
    count = [0]

    def note(*_args):
        count[0] += 1

    client.get(path)  # fills the per-process caches
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert response.status_code == 200
    return count[0], response.get_data(as_text=True)


def _add_records(enterprise, user, n: int, start: datetime) -> None:
    unit = db.session.scalars(select(RecommendingUnit)).first()
    plan = db.session.scalars(select(Plan).where(Plan.enterprise_id == enterprise.id)).first()
    if plan is None:
        plan = Plan(enterprise_id=enterprise.id)
        db.session.add(plan)
        db.session.flush()
    for k in range(n):
        at = start + timedelta(hours=k)
        db.session.add(StageChange(enterprise_id=enterprise.id, from_stage=None, to_stage="candidate", changed_at=at))
        db.session.add(EnterpriseNote(enterprise_id=enterprise.id, body=f"备忘{k}", author_id=user.id, created_at=at))
        db.session.add(
            Recommendation(
                enterprise_id=enterprise.id, unit_id=unit.id, recommended_on=date(2026, 1, 1), recommended_by_id=user.id
            )
        )
        db.session.add(
            CreditStatusChange(
                enterprise_id=enterprise.id, status=CreditStatus.REGULAR, effective_on=date(2026, 1, 1), source="测试"
            )
        )
        db.session.add(Contact(enterprise_id=enterprise.id, name=f"联系人{k}", role=ContactRole.CUSTOMS_LEAD))
        for status in (VisitStatus.DONE, VisitStatus.PLANNED):
            db.session.add(Visit(enterprise_id=enterprise.id, status=status, starts_at=at, officer_id=user.id))
        create_task(plan, title=f"任务{k}")
    db.session.commit()


def test_the_page_reads_a_fixed_number_of_queries(client, reference_cache, make_user, make_enterprise):
    user = make_user("admin")
    enterprise = make_enterprise()
    client.login(user)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _add_records(enterprise, user, 1, start)
    few, _html = _count_queries(client, f"/enterprises/{enterprise.id}")
    _add_records(enterprise, user, 25, start + timedelta(days=10))
    many, html = _count_queries(client, f"/enterprises/{enterprise.id}")
    assert many == few, (few, many)
    assert few <= 11  # the layout's own (the user, notifications) included
    assert "备忘24" in html and "联系人24" in html


def test_possible_duplicates_are_read_only_for_an_enterprise_with_a_namesake(
    client, reference_cache, make_user, make_enterprise
):
    """Whether another enterprise shares the name key comes with the record: no query for the similar names of an
    enterprise without one; with one, the warning lists those in the user's scope."""
    client.login(make_user("bureau", areas=["350100"]))
    alone = make_enterprise(name="福州独一无二贸易有限公司")
    first = make_enterprise(name="福州恒达鞋业有限公司")
    twin = make_enterprise(name="福州恒达鞋业股份有限公司")
    hidden = make_enterprise(name="福州恒达鞋业 有限公司", area="350200", office="xm-dongdu")

    without, html = _count_queries(client, f"/enterprises/{alone.id}")
    assert "Possible duplicates" not in html and "可能重复" not in html
    with_namesake, html = _count_queries(client, f"/enterprises/{first.id}")
    assert with_namesake == without + 1
    assert f'href="/enterprises/{twin.id}"' in html and f'href="/enterprises/{hidden.id}"' not in html


def test_sections_known_to_be_empty_read_nothing_and_render_as_when_they_read(
    app, reference_cache, make_user, make_enterprise
):
    """A section whose ``records`` EXISTS is false is given ``has_records=False``: its query spared, the same HTML."""
    from flask import render_template
    from flask_login import login_user

    from crm.enterprises.sections import DETAIL_SECTIONS

    enterprise = make_enterprise()
    flagged = [section for section in DETAIL_SECTIONS if section.records is not None]
    assert {s.key for s in flagged} >= {
        "pipeline",
        "recommendations",
        "standards",
        "plans",
        "visits",
        "events",
        "cohorts",
    }
    with app.test_request_context():
        login_user(make_user("admin"))
        count = [0]

        def note(*_args):
            count[0] += 1

        for section in flagged:
            section.render_context(enterprise)  # fills the per-process caches
            count[0] = 0
            event.listen(db.engine, "before_cursor_execute", note)
            try:
                read = section.render_context(enterprise)
                reading = count[0]
                skipped = section.render_context(enterprise, has_records=False)
            finally:
                event.remove(db.engine, "before_cursor_execute", note)
            assert count[0] - reading == reading - 1, section.key  # the section's one optional query spared
            assert render_template(section.template, enterprise=enterprise, **skipped) == render_template(
                section.template, enterprise=enterprise, **read
            ), section.key


def test_an_enterprise_without_records_reads_fewer_queries(client, reference_cache, make_user, make_enterprise):
    """The sections, notes and edits it has none of are known from the record's own query."""
    user = make_user("admin")
    client.login(user)
    bare = make_enterprise()
    busy = make_enterprise()
    _add_records(busy, user, 1, datetime(2026, 1, 1, tzinfo=UTC))
    few, _html = _count_queries(client, f"/enterprises/{bare.id}")
    full, _html = _count_queries(client, f"/enterprises/{busy.id}")
    assert few <= 5 and full - few >= 6, (few, full)
