"""The audit pages: the administrators' search and export, a record's history and an enterprise's history."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.audit.queries import AuditFilters, audit_search, enterprise_history, keyset_page, record_history
from crm.core.audit import Actor as _Actor
from crm.core.audit import AuditAction, AuditLog, acting_as, record_event
from crm.core.models import utcnow
from crm.core.timeutil import local_midnight, local_today
from crm.extensions import db


def test_the_search_filters_by_user_action_record_and_dates(make_user, make_enterprise):
    editor = make_user("bureau", areas=["350500"])
    enterprise = make_enterprise(area="350500", office=None)
    with acting_as("cli:test"):
        record_event(AuditAction.EXPORT, "by a command")
    record_event(AuditAction.LOGIN, "by the editor", record=editor, actor=_actor(editor))
    db.session.flush()

    def ids(**filters):
        return [row.id for row in db.session.scalars(audit_search(AuditFilters(**filters)))]

    by_user = db.session.scalars(audit_search(AuditFilters(user=editor.username.upper()))).all()
    assert by_user and all(row.actor_id == editor.id for row in by_user)
    assert all(
        row.actor_label.startswith("cli:") for row in db.session.scalars(audit_search(AuditFilters(user="cli:")))
    )
    assert all(row.action == "export" for row in db.session.scalars(audit_search(AuditFilters(action="export"))))
    enterprise_rows = db.session.scalars(
        audit_search(AuditFilters(record_type="Enterprise", record_id=str(enterprise.id)))
    ).all()
    assert [row.action for row in enterprise_rows] == ["create"]
    today = local_today()
    assert ids(date_from=today, date_to=today) == ids()
    assert ids(date_to=today - timedelta(days=1)) == []
    assert ids(q="by a command") == ids(action="export", user="cli:")


def _actor(user):
    from crm.core.audit import Actor

    return Actor(user.id, user.username, "10.0.0.9")


def test_keyset_pages_walk_older_and_newer_without_offsets(app):
    for n in range(7):
        record_event("test", f"entry {n}")
    db.session.flush()
    stmt = audit_search(AuditFilters(action="test"))
    first = keyset_page(stmt, per_page=3)
    assert [row.summary for row in first.items] == ["entry 6", "entry 5", "entry 4"]
    assert first.newer_than is None and first.older_than == first.items[-1].id
    second = keyset_page(stmt, per_page=3, before=first.older_than)
    assert [row.summary for row in second.items] == ["entry 3", "entry 2", "entry 1"]
    last = keyset_page(stmt, per_page=3, before=second.older_than)
    assert [row.summary for row in last.items] == ["entry 0"] and last.older_than is None
    back = keyset_page(stmt, per_page=3, after=second.newer_than)
    assert [row.summary for row in back.items] == ["entry 6", "entry 5", "entry 4"]


def test_the_search_page_is_for_administrators_and_shows_diffs(client, make_user, make_enterprise):
    admin = make_user("admin")
    enterprise = make_enterprise(name="审计页面有限公司")
    enterprise.industry = "制造业"
    db.session.commit()
    client.login(make_user("manager"))
    assert client.get("/admin/audit/").status_code == 403
    client.login(admin)
    page = client.get(f"/admin/audit/?record_type=Enterprise&record_id={enterprise.id}").get_data(as_text=True)
    assert "审计页面有限公司" in page and "制造业" in page
    bad = client.get("/admin/audit/?date_from=2026-05-01&date_to=2026-04-01")
    assert bad.status_code == 200 and "结束日期早于开始日期" in bad.get_data(as_text=True)
    assert client.get("/admin/audit/?before=abc").status_code == 400


def test_exports_are_streamed_neutralised_and_audited(client, make_user, make_enterprise):
    admin = make_user("admin")
    enterprise = make_enterprise(name='=HYPERLINK("http://evil")公司')
    client.login(admin)
    response = client.get(f"/admin/audit/export.csv?record_type=Enterprise&record_id={enterprise.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff") and "'=HYPERLINK" in body
    export_row = db.session.scalars(select(AuditLog).where(AuditLog.action == "export")).one()
    assert export_row.actor_id == admin.id
    assert export_row.changes["filters"] == {"record_type": "Enterprise", "record_id": str(enterprise.id)}
    assert export_row.changes["rows"] == 1 and export_row.changes["format"] == "csv"

    workbook = client.get("/admin/audit/export.xlsx?action=export", buffered=True)
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    xlsx_row = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id.desc())
    ).first()
    # The XLSX export lists itself (recorded before the rows are read) and the CSV export.
    assert [row[0] for row in rows[1:]] == [xlsx_row.id, export_row.id]
    assert xlsx_row.changes["format"] == "xlsx" and xlsx_row.changes["filters"] == {"action": "export"}


def test_only_administrators_export_the_audit_trail(client, make_user):
    client.login(make_user("manager"))
    assert client.get("/admin/audit/export.csv").status_code == 403
    assert client.get("/admin/audit/export.pdf").status_code == 404


def test_an_enterprise_history_shows_its_records_changes_within_scope(client, make_user, make_enterprise):
    from crm.enterprises.models import Contact

    enterprise = make_enterprise(area="350500", office=None)
    other = make_enterprise(area="350100")
    contact = Contact(enterprise=enterprise, name="历史联系人")
    db.session.add(contact)
    db.session.commit()
    contact.mobile = "13800000000"
    db.session.commit()
    rows = db.session.scalars(enterprise_history(enterprise.id)).all()
    assert {row.record_type for row in rows} == {"Enterprise", "Contact"}
    assert rows[0].changes == {"mobile": ["", "13800000000"]}

    client.login(make_user("bureau", areas=["350500"]))
    page = client.get(f"/enterprises/{enterprise.id}/history")
    assert page.status_code == 200 and "历史联系人" in page.get_data(as_text=True)
    assert client.get(f"/enterprises/{other.id}/history").status_code == 404
    assert "/admin/audit/records/" not in page.get_data(as_text=True)  # no links to the admin-only pages


def test_a_record_history_is_paginated_and_for_administrators(client, make_user):
    user = make_user("viewer", areas=["350100"])
    for n in range(3):
        user.display_name = f"名字{n}"
        db.session.commit()
    assert len(db.session.scalars(record_history("User", user.id)).all()) == 4
    admin = make_user("admin")
    client.login(admin)
    page = client.get(f"/admin/audit/records/User/{user.id}?per_page=2")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "名字2" in text and "page=2" in text
    client.login(user)
    assert client.get(f"/admin/audit/records/User/{user.id}").status_code == 403


def test_the_history_partial_can_be_included_by_another_page(app, make_enterprise):
    from flask import render_template_string

    from crm.core.pagination import paginate

    enterprise = make_enterprise(name="部件测试有限公司")
    with app.test_request_context("/?history_page=1"):
        html = render_template_string(
            '{% from "audit/_history.html" import history_table %}{{ history_table(page, page_arg="history_page") }}',
            page=paginate(enterprise_history(enterprise.id), 1, 10),
        )
    assert "部件测试有限公司" in html and "<table" in html


def test_entries_older_than_a_day_are_found_by_date(app):
    from crm.core.audit import AuditLog as Log

    db.session.add(Log(created_at=utcnow() - timedelta(days=3), actor_label="system", action="test", summary="old"))
    db.session.flush()
    three_days_ago = local_today() - timedelta(days=3)
    found = db.session.scalars(audit_search(AuditFilters(date_from=three_days_ago, date_to=three_days_ago))).all()
    assert [row.summary for row in found] == ["old"]


def _entry(summary: str, created_at, **values) -> AuditLog:
    """An audit row written at ``created_at`` (rows of one flush share theirs; a late commit has an older one)."""
    values.setdefault("record_type", "Probe")
    row = AuditLog(created_at=created_at, actor_label="system", action="test", summary=summary, **values)
    db.session.add(row)
    db.session.flush()
    return row


def _late_commits_and_one_flush():
    """Seven rows whose ids do not follow their times: the newest-first order is f e d c b g a."""
    now = utcnow()
    one_flush = now - timedelta(minutes=5)
    _entry("a", now - timedelta(minutes=9))
    for summary in "bcde":
        _entry(summary, one_flush)
    _entry("f", now - timedelta(minutes=1))
    _entry("g", now - timedelta(minutes=7))  # a larger id with an older time: its transaction committed late
    return list("fedcbga")


def test_the_search_lists_newest_first_by_time_then_id(app):
    expected = _late_commits_and_one_flush()
    assert [row.summary for row in db.session.scalars(audit_search(AuditFilters(action="test")))] == expected


def test_keyset_pages_across_rows_of_one_time_skip_and_repeat_nothing_both_ways(app):
    expected = _late_commits_and_one_flush()
    stmt = audit_search(AuditFilters(action="test"))
    # Two rows a page: the rows b, c, d, e share one created_at and two page boundaries fall among them.
    older = [keyset_page(stmt, per_page=2)]
    while older[-1].older_than is not None:
        older.append(keyset_page(stmt, per_page=2, before=older[-1].older_than))
    assert [[row.summary for row in page.items] for page in older] == [["f", "e"], ["d", "c"], ["b", "g"], ["a"]]
    assert older[0].newer_than is None and all(page.newer_than == page.items[0].id for page in older[1:])
    newer = [older[-1]]
    while newer[-1].newer_than is not None:
        newer.append(keyset_page(stmt, per_page=2, after=newer[-1].newer_than))
    assert [[row.summary for row in page.items] for page in reversed(newer)] == [
        ["f", "e"],
        ["d", "c"],
        ["b", "g"],
        ["a"],
    ]
    assert [row.summary for page in reversed(newer) for row in page.items] == expected
    assert newer[-1].newer_than is None and all(page.older_than == page.items[-1].id for page in newer[1:])


def test_a_page_link_to_an_id_that_names_no_entry_continues_from_the_nearest_entry(app):
    _late_commits_and_one_flush()
    stmt = audit_search(AuditFilters(action="test"))
    last_id = db.session.scalar(select(func.max(AuditLog.id)))
    # g has the greatest id: "before" an id past it starts at g, included.
    assert [row.summary for row in keyset_page(stmt, per_page=2, before=last_id + 100).items] == ["g", "a"]
    assert keyset_page(stmt, per_page=2, after=last_id + 100).items == []
    assert keyset_page(stmt, per_page=2, before=0).items == []


def test_the_date_and_text_filters_together_keep_the_days_matching_rows(app):
    day = local_today() - timedelta(days=10)
    start = local_midnight(day)  # the first of the two local days searched
    _entry("导出 企业 50%", start + timedelta(hours=9))
    _entry("导出 企业 50% 次日", start + timedelta(days=2) - timedelta(microseconds=1))  # the last instant
    _entry("导出 企业 50% 前一天", start - timedelta(microseconds=1))
    _entry("导出 企业 50% 后一天", start + timedelta(days=2))
    _entry("导出 企业 5000", start + timedelta(hours=10))  # "%" is a character, not a wildcard
    _entry("其他", start + timedelta(hours=11))
    _entry("导出 企业 50% 晚提交", start + timedelta(hours=8))  # inserted last, older time
    found = db.session.scalars(
        audit_search(AuditFilters(action="test", date_from=day, date_to=day + timedelta(days=1), q="50%"))
    ).all()
    assert [row.summary for row in found] == ["导出 企业 50% 次日", "导出 企业 50%", "导出 企业 50% 晚提交"]
    only_text = db.session.scalars(audit_search(AuditFilters(action="test", q="企业 50% 前"))).all()
    assert [row.summary for row in only_text] == ["导出 企业 50% 前一天"]


def test_the_export_streams_the_pages_order_across_batches(client, make_user, monkeypatch):
    from crm.audit import views

    monkeypatch.setattr(views, "EXPORT_BATCH", 2)
    expected = _late_commits_and_one_flush()
    db.session.commit()
    client.login(make_user("admin"))
    response = client.get("/admin/audit/export.csv?record_type=Probe")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[8] for row in rows[1:]] == expected


def test_the_user_filter_keeps_rows_labelled_with_the_username(make_user):
    with acting_as("cli:test"):
        newcomer = make_user("viewer", username="newcomer")
        other = make_user("viewer", username="other.user")
    record_event(AuditAction.LOGIN_FAILED, "before the account existed", actor=_Actor(None, "newcomer"))
    record_event(AuditAction.LOGIN, "newcomer", actor=_Actor(newcomer.id, "newcomer"))
    record_event(AuditAction.LOGIN, "other", actor=_Actor(other.id, "other.user"))
    db.session.flush()

    def summaries(user):
        return [row.summary for row in db.session.scalars(audit_search(AuditFilters(user=user, action="")))]

    assert sorted(summaries("newcomer")) == ["before the account existed", "newcomer"]
    assert summaries("other.user") == ["other"]
    assert summaries("cli:") and all(
        row.actor_label.startswith("cli:") for row in db.session.scalars(audit_search(AuditFilters(user="cli:")))
    )


def test_histories_list_newest_first_by_time(make_enterprise):
    enterprise = make_enterprise()
    created = db.session.scalars(enterprise_history(enterprise.id)).one()
    late = _entry("late commit", created.created_at - timedelta(minutes=1), enterprise_id=enterprise.id)
    assert db.session.scalars(enterprise_history(enterprise.id)).all() == [created, late]
    record_late = _entry(
        "late commit", created.created_at - timedelta(minutes=1), record_type="Enterprise", record_id=str(enterprise.id)
    )
    assert db.session.scalars(record_history("Enterprise", enterprise.id)).all() == [created, record_late]
