"""Demo certification targets: this year's and last year's, per area, in proportion to its enterprises."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.dashboard.models import CertificationTarget
from crm.enterprises.models import Enterprise
from crm.extensions import db


def seed_targets(ctx) -> None:
    """About one enterprise in twenty of each area certified per year (at least one), for this and last year."""
    counts = dict(db.session.execute(select(Enterprise.area_id, func.count()).group_by(Enterprise.area_id)).all())
    existing = {tuple(row) for row in db.session.execute(select(CertificationTarget.area_id, CertificationTarget.year))}
    for area in ctx.areas.values():
        for year in (ctx.today.year - 1, ctx.today.year):
            if (area.id, year) not in existing:
                target = max(1, round(counts.get(area.id, 0) / 20))
                db.session.add(CertificationTarget(area_id=area.id, year=year, target=target))
    db.session.flush()
