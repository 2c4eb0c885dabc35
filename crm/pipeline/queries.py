"""Read-side helpers for the pipeline: time in stage and staleness, computed in the CRM's time zone."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, false, or_, select

from crm.core.timeutil import days_since, local_midnight, local_today
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import Stage


def days_in_stage(enterprise: Enterprise, today: date | None = None) -> int:
    """Whole local calendar days since the enterprise entered its current stage."""
    return days_since(enterprise.stage_entered_at, today)


def stale_condition(today: date | None = None) -> ColumnElement[bool]:
    """A WHERE clause on ``Enterprise``: past its stage's SLA (more than ``sla_days`` local days in the stage).

    One range condition per stage with an SLA, so the (stage, stage_entered_at) index serves it.
    """
    today = today or local_today()
    conditions = []
    for code, sla_days in db.session.execute(select(Stage.code, Stage.sla_days).where(Stage.sla_days.isnot(None))):
        # Stale when days_in_stage > sla_days, i.e. entered before local midnight of (today - sla_days).
        threshold = local_midnight(today - timedelta(days=sla_days))
        conditions.append((Enterprise.stage == code) & (Enterprise.stage_entered_at < threshold))
    return or_(*conditions) if conditions else false()


def is_stale(enterprise: Enterprise, today: date | None = None) -> bool:
    stage = db.session.get(Stage, enterprise.stage)
    return bool(stage and stage.sla_days is not None and days_in_stage(enterprise, today) > stage.sla_days)
