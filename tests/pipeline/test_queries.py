"""Time in stage and staleness across the Asia/Shanghai day boundary."""

from datetime import UTC, date, datetime

from sqlalchemy import select

from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import Stage
from crm.pipeline.queries import days_in_stage, is_stale, stale_condition


def test_days_in_stage_counts_local_calendar_days(make_enterprise):
    # 2026-03-01 16:30 UTC is 2026-03-02 00:30 in Shanghai: the stage was entered on the 2nd, local time.
    enterprise = make_enterprise(stage="pooled", stage_entered_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    assert days_in_stage(enterprise, today=date(2026, 3, 2)) == 0
    assert days_in_stage(enterprise, today=date(2026, 3, 3)) == 1


def test_stale_after_the_sla_in_local_days(make_enterprise):
    sla = db.session.get(Stage, "pooled").sla_days
    entered = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # local 2026-03-02
    enterprise = make_enterprise(stage="pooled", stage_entered_at=entered)
    last_fresh_day = date(2026, 3, 2).fromordinal(date(2026, 3, 2).toordinal() + sla)
    first_stale_day = last_fresh_day.fromordinal(last_fresh_day.toordinal() + 1)
    assert not is_stale(enterprise, today=last_fresh_day)
    assert is_stale(enterprise, today=first_stale_day)
    stale_ids = set(db.session.scalars(select(Enterprise.id).where(stale_condition(first_stale_day))))
    fresh_ids = set(db.session.scalars(select(Enterprise.id).where(stale_condition(last_fresh_day))))
    assert enterprise.id in stale_ids and enterprise.id not in fresh_ids


def test_stages_without_sla_are_never_stale(make_enterprise):
    enterprise = make_enterprise(stage="certified", stage_entered_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert not is_stale(enterprise, today=date(2026, 1, 1))
