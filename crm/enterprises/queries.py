"""Read-side helpers for enterprise lists: filters and search, always within the caller's scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from crm.core.scope import scoped_enterprises
from crm.enterprises.identifiers import normalise_uscc
from crm.enterprises.models import Enterprise
from crm.reference.models import Area, CustomsOffice


def enterprise_list(filters: Mapping[str, Any], user: Any = None) -> Select:
    """Enterprises in scope matching the filters (``q``, ``area``, ``office``, ``stage`` as codes)."""
    stmt = scoped_enterprises(select(Enterprise), user=user).options(
        selectinload(Enterprise.area), selectinload(Enterprise.office), selectinload(Enterprise.customs_officer)
    )
    q = (filters.get("q") or "").strip()
    if q:
        pattern = f"%{q}%"
        code_pattern = f"%{normalise_uscc(q)}%"
        stmt = stmt.where(
            or_(
                Enterprise.name.like(pattern),
                Enterprise.uscc.like(code_pattern),
                Enterprise.customs_code.like(code_pattern),
            )
        )
    if filters.get("area"):
        stmt = stmt.where(Enterprise.area_id == select(Area.id).where(Area.code == filters["area"]).scalar_subquery())
    if filters.get("office"):
        stmt = stmt.where(
            Enterprise.office_id
            == select(CustomsOffice.id).where(CustomsOffice.code == filters["office"]).scalar_subquery()
        )
    if filters.get("stage"):
        stmt = stmt.where(Enterprise.stage == filters["stage"])
    return stmt.order_by(Enterprise.updated_at.desc(), Enterprise.id.desc())
