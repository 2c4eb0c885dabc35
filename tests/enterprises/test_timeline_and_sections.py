"""The merged timeline (newest first, paginated by time, authors) and the detail-section registry."""

from datetime import UTC, date, datetime, timedelta

from crm.core.timeline import TimelineEntry
from crm.core.timeutil import local_midnight, local_today
from crm.enterprises import sections, services, timeline
from crm.enterprises.models import ContactRole, EnterpriseNote
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.pipeline.services import enter_first_stage
from crm.plans.models import Plan
from crm.plans.services import complete_task, create_task


def test_entries_from_every_source_are_merged_newest_first_with_authors(app, make_user, make_enterprise):
    user = make_user("bureau", areas=["350100"], display_name="林晓")
    enterprise = make_enterprise()
    with app.test_request_context():
        from flask_login import login_user

        login_user(user)
        enter_first_stage(enterprise, by=user)
        db.session.flush()
        services.save_contact(enterprise, None, {"name": "王伟", "role": ContactRole.CUSTOMS_LEAD})
        services.update_enterprise(enterprise, {"address": "福州市马尾区"}, by=user)
        services.add_note(enterprise, "第一次走访", by=user)
        plan = Plan(enterprise_id=enterprise.id)
        db.session.add(plan)
        db.session.flush()
        task = create_task(plan, title="建立关务内控制度")
        complete_task(task, note="已印发")
        db.session.flush()
        page = timeline.merged_timeline(enterprise.id, limit=50)
    kinds = {e.kind for e in page.entries}
    assert {"stage", "note", "edit", "task"} <= kinds
    times = [e.at for e in page.entries]
    assert times == sorted(times, reverse=True)
    note = next(e for e in page.entries if e.kind == "note")
    assert note.author == "林晓" and note.body == "第一次走访"
    edit = next(e for e in page.entries if e.title == "修改了企业信息")
    assert "福州市马尾区" in edit.body and edit.author == "林晓"
    assert any("建立关务内控制度" in e.title and e.body == "已印发" for e in page.entries)
    assert any(e.title.startswith("新增联系人") for e in page.entries)


def test_task_entries_name_who_added_and_who_completed_each_task(app, make_user, make_enterprise):
    """The completer is the latest actor of an audited update that set the status to done (else the owner); the
    author of an addition is its latest creation record's actor (else its label)."""
    from crm.core.audit import AuditLog

    adder, first, last, owner = (make_user("bureau", areas=["350100"], display_name=n) for n in "甲乙丙丁")
    enterprise = make_enterprise()
    plan = Plan(enterprise_id=enterprise.id)
    db.session.add(plan)
    db.session.flush()
    reopened = create_task(plan, title="两次完成", owner=owner)
    by_owner = create_task(plan, title="无人记录", owner=owner)
    by_job = create_task(plan, title="任务导入")
    for task in (reopened, by_owner):
        complete_task(task, note="")
    db.session.flush()

    def log(task, action, actor, changes=None, label="someone"):
        actor_id = actor.id if actor else None
        db.session.add(
            AuditLog(
                actor_id=actor_id,
                actor_label=label,
                action=action,
                record_type="CultivationTask",
                record_id=str(task.id),
                enterprise_id=enterprise.id,
                changes=changes,
            )
        )
        db.session.flush()

    log(reopened, "create", adder)
    log(by_job, "create", None, label="job:import")
    log(reopened, "update", first, {"status": ["todo", "done"]})
    log(reopened, "update", adder, {"status": ["done", "doing"]})
    log(reopened, "update", last, {"status": ["doing", "done"]})
    log(reopened, "update", None, {"status": ["doing", "done"]})
    log(reopened, "update", adder, {"title": ["两次", "两次完成"]})
    log(by_owner, "update", first, {"status": ["todo", "doing"]})
    with app.test_request_context():
        entries = timeline.task_entries(enterprise.id)
    authors = {e.title: e.author for e in entries}
    assert len(entries) == len(authors)  # each once, though "两次完成" has two creation records (create_task's)
    assert authors["新增培育任务：两次完成"] == "甲" and authors["新增培育任务：任务导入"] == "job:import"
    assert authors["完成培育任务：两次完成"] == "丙" and authors["完成培育任务：无人记录"] == "丁"


def test_pages_follow_time(app, make_enterprise):
    enterprise = make_enterprise()
    start = datetime.now(UTC) + timedelta(days=1)  # newer than the record's own "added" entry
    for n in range(7):
        db.session.add(
            EnterpriseNote(enterprise_id=enterprise.id, body=f"备忘{n}", created_at=start + timedelta(days=n))
        )
    db.session.flush()
    with app.test_request_context():
        first = timeline.merged_timeline(enterprise.id, limit=3)
        assert [e.body for e in first.entries] == ["备忘6", "备忘5", "备忘4"]
        second = timeline.merged_timeline(enterprise.id, before=first.next_before, limit=3)
        assert [e.body for e in second.entries] == ["备忘3", "备忘2", "备忘1"]
        last = timeline.merged_timeline(enterprise.id, before=second.next_before, limit=3)
        assert [e.body for e in last.entries] == ["备忘0", ""]  # then the record's "added" entry
        assert last.entries[1].title == "新增企业" and last.next_before is None


def _notes_at(enterprise, moments: list[datetime]) -> None:
    for n, moment in enumerate(moments):
        db.session.add(EnterpriseNote(enterprise_id=enterprise.id, body=f"备忘{n}", created_at=moment))
    db.session.flush()


def _every_page(app, enterprise_id: int, limit: int) -> list[list[str]]:
    pages, before = [], None
    with app.test_request_context():
        while True:
            page = timeline.merged_timeline(enterprise_id, before=before, limit=limit)
            pages.append([e.body for e in page.entries if e.kind == "note"])
            if page.next_before is None:
                return pages
            before = page.next_before


def test_entries_of_one_instant_are_not_split_between_pages(app, make_enterprise):
    # The audit trail stamps every row of one flush with the same time; a cursor of that time alone skipped the
    # entries of the instant that fell after the page's end.
    enterprise = make_enterprise()
    start = datetime.now(UTC) + timedelta(days=1)
    same = start + timedelta(days=1)
    _notes_at(enterprise, [start, same, same, same, start + timedelta(days=2), start + timedelta(days=3)])
    pages = _every_page(app, enterprise.id, limit=3)
    assert pages[0] == ["备忘5", "备忘4"]
    assert sorted(pages[1]) == ["备忘1", "备忘2", "备忘3"]
    assert sorted(body for page in pages for body in page) == [f"备忘{n}" for n in range(6)]


def test_a_page_filled_by_one_instant_shows_all_of_it(app, make_enterprise):
    enterprise = make_enterprise()
    same = datetime.now(UTC) + timedelta(days=1)
    _notes_at(enterprise, [same] * 5 + [same - timedelta(hours=1)])
    pages = _every_page(app, enterprise.id, limit=3)
    assert sorted(pages[0]) == [f"备忘{n}" for n in range(5)]
    assert pages[1] == ["备忘5"]


def _tasks_completed_at(enterprise, completions: list[tuple[date, datetime]]) -> None:
    """One task per (completion day, last change): done that day, added a month before anything else happened."""
    plan = Plan(enterprise_id=enterprise.id)
    db.session.add(plan)
    db.session.flush()
    added = datetime.now(UTC) - timedelta(days=30)
    for n, (day, changed) in enumerate(completions):
        task = create_task(plan, title=f"任务{n}")
        complete_task(task, on=day)
        task.created_at = added
        task.updated_at = changed
    db.session.flush()


def _completions_of_every_page(app, enterprise_id: int, limit: int) -> list[list[tuple[str, datetime]]]:
    pages, before = [], None
    with app.test_request_context():
        while True:
            page = timeline.merged_timeline(enterprise_id, before=before, limit=limit)
            pages.append([(e.title, e.at) for e in page.entries if e.title.startswith("完成培育任务")])
            if page.next_before is None:
                return pages
            before = page.next_before


def test_task_completions_of_one_day_are_ranked_by_the_time_they_show(app, make_enterprise):
    # The query ranked completions by their day (and id) while the entries show the time of the day they were
    # marked done: of many done the same day it kept the first added, not the latest done, and the pages that
    # followed skipped some.
    enterprise = make_enterprise()
    day = local_today() + timedelta(days=2)  # newer than the record's own entries
    nine = local_midnight(day) + timedelta(hours=9)
    # The later added, the later done; two of them changed again the next day (shown at the start of the day done).
    changes = [nine + timedelta(minutes=5 * n) for n in range(12)]
    changes[3] = changes[7] = local_midnight(day + timedelta(days=1)) + timedelta(hours=10)
    _tasks_completed_at(enterprise, [(day, changed) for changed in changes])
    at = {f"完成培育任务：任务{n}": changed for n, changed in enumerate(changes)}
    at["完成培育任务：任务3"] = at["完成培育任务：任务7"] = local_midnight(day)
    newest_first = sorted(at, key=lambda title: at[title], reverse=True)

    pages = _completions_of_every_page(app, enterprise.id, limit=5)
    assert [title for title, _ in pages[0]] == newest_first[:5]
    walked = [entry for page in pages for entry in page]
    assert len(walked) == len(at) and all(when == at[title] for title, when in walked)
    assert [title for title, _ in walked[:10]] == newest_first[:10]
    assert sorted(title for title, _ in walked[10:]) == ["完成培育任务：任务3", "完成培育任务：任务7"]  # one instant
    with app.test_request_context():
        newest = timeline.task_entries(enterprise.id, limit=3)
    assert [e.title for e in newest if e.title.startswith("完成")] == newest_first[:3]


def test_task_completions_page_by_the_time_they_show_across_days(app, make_enterprise):
    enterprise = make_enterprise()
    first = local_today() + timedelta(days=2)
    completions = []
    for offset in range(3):
        day = first + timedelta(days=offset)
        completions += [(day, local_midnight(day) + timedelta(hours=8, minutes=7 * n)) for n in range(4)]
    completions.reverse()  # the latest added first
    _tasks_completed_at(enterprise, completions)
    expected = sorted(
        ((f"完成培育任务：任务{n}", changed) for n, (_, changed) in enumerate(completions)), key=lambda e: e[1]
    )
    for limit in (3, 4, 5):
        pages = _completions_of_every_page(app, enterprise.id, limit=limit)
        assert [entry for page in pages for entry in page] == expected[::-1], limit


def test_a_provider_from_another_feature_is_one_entry(app, make_enterprise, monkeypatch):
    enterprise = make_enterprise()

    def visits(enterprise_id, *, before=None, limit=50):
        return [TimelineEntry(at=datetime(2030, 1, 1, tzinfo=UTC), kind="visit", title="走访", author="海关")]

    monkeypatch.setattr(timeline, "TIMELINE_PROVIDERS", (*timeline.TIMELINE_PROVIDERS, visits))
    with app.test_request_context():
        assert timeline.merged_timeline(enterprise.id).entries[0].kind == "visit"


def test_timeline_page(client, make_user, make_enterprise):
    enterprise = make_enterprise()
    db.session.add(StageChange(enterprise_id=enterprise.id, from_stage=None, to_stage="candidate"))
    db.session.commit()
    client.login(make_user("admin"))
    body = client.get(f"/enterprises/{enterprise.id}/timeline").get_data(as_text=True)
    assert "进入培育流程" in body
    assert client.get(f"/enterprises/{enterprise.id}/timeline?before=garbage").status_code == 200


def test_package_sections_follow_the_contract():
    section = sections.package_section("visits")
    assert section.template == "visits/_enterprise_section.html"
    assert section.context == "crm.visits.queries:enterprise_section_context"
    keys = [s.key for s in sections.DETAIL_SECTIONS]
    assert {"contacts", "recommendations", "credit", "pipeline", "standards", "plans", "visits", "events"} <= set(keys)


def test_every_registered_section_and_provider_resolves(app):
    from crm.enterprises.registry import resolve
    from crm.enterprises.timeline import TIMELINE_PROVIDERS

    for section in sections.DETAIL_SECTIONS:
        app.jinja_env.get_template(section.template)
        assert callable(resolve(section.context))
    for provider in TIMELINE_PROVIDERS:
        assert callable(resolve(provider))


def test_a_registered_section_is_rendered_on_the_page(client, make_user, make_enterprise, monkeypatch, tmp_path):
    enterprise = make_enterprise()
    extra = sections.DetailSection("probe", "enterprises/_section_credit.html", lambda e: {"credit_history": []})
    monkeypatch.setattr(sections, "DETAIL_SECTIONS", (*sections.DETAIL_SECTIONS, extra))
    client.login(make_user("admin"))
    assert 'id="section-probe"' in client.get(f"/enterprises/{enterprise.id}").get_data(as_text=True)
