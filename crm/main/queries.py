"""Read-side helpers for the home page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from crm.core.scope import scoped_enterprises
from crm.enterprises.models import Enterprise
from crm.extensions import db
from crm.pipeline.models import Stage


def stage_counts(user: Any = None) -> list[tuple[Stage, int]]:
    """Every stage with the number of enterprises in it, within the user's scope."""
    counts = dict(
        db.session.execute(
            scoped_enterprises(select(Enterprise.stage, func.count()), user=user).group_by(Enterprise.stage)
        ).all()
    )
    stages = db.session.scalars(select(Stage).order_by(Stage.sort_order, Stage.code))
    return [(stage, counts.get(stage.code, 0)) for stage in stages]


def my_enterprises(user: Any, limit: int = 10) -> list[Enterprise]:
    """Enterprises the user is the commerce staff, customs officer or coordinator of, recently changed first."""
    stmt = (
        scoped_enterprises(user=user)
        .where(
            or_(
                Enterprise.commerce_officer_id == user.id,
                Enterprise.customs_officer_id == user.id,
                Enterprise.coordinator_id == user.id,
            )
        )
        .order_by(Enterprise.updated_at.desc(), Enterprise.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
