"""Loading reference data from the YAML files under ``data/``: idempotent, and it never overwrites an
administrator's edits unless asked to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from crm.extensions import db
from crm.reference.models import (
    Area,
    BusinessType,
    CustomsOffice,
    KeyCategory,
    MraPartner,
    RecommendingUnit,
    SupportMeasure,
    UnitKind,
)

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def upsert(model, code: str, values: dict[str, Any], *, update: bool, key: str = "code") -> tuple[Any, bool]:
    """Insert a row by its code; an existing row is left alone unless ``update`` is set. Returns (row, created)."""
    row = db.session.scalars(select(model).where(getattr(model, key) == code)).first()
    if row is None:
        row = model(**{key: code}, **values)
        db.session.add(row)
        return row, True
    if update:
        for name, value in values.items():
            setattr(row, name, value)
    return row, False


def _names(entry: dict, order: int) -> dict[str, Any]:
    return {"name_zh": entry["name_zh"], "name_en": entry.get("name_en", ""), "sort_order": order}


def seed_areas(update: bool = False) -> int:
    created = 0
    for order, entry in enumerate(load_yaml(DATA_DIR / "areas.yaml"), start=1):
        _row, new = upsert(Area, str(entry["code"]), _names(entry, order * 10), update=update)
        created += new
    db.session.flush()
    return created


def seed_offices(update: bool = False) -> int:
    areas = {a.code: a for a in db.session.scalars(select(Area))}
    created = 0
    order = 0

    def place(entry: dict, parent: CustomsOffice | None) -> CustomsOffice:
        nonlocal created, order
        order += 10
        values = _names(entry, order) | {"parent": parent, "is_confirmed": bool(entry.get("confirmed", False))}
        office, new = upsert(CustomsOffice, entry["code"], values, update=update)
        if new or update:
            office.areas = [areas[str(code)] for code in entry.get("areas", [])]
        created += new
        return office

    for district in load_yaml(DATA_DIR / "customs_offices.yaml"):
        parent = place(district, None)
        for child in district.get("children", []):
            place(child, parent)
    db.session.flush()
    return created


def seed_simple(model, filename: str, update: bool = False) -> int:
    created = 0
    for order, entry in enumerate(load_yaml(DATA_DIR / filename), start=1):
        _row, new = upsert(model, entry["code"], _names(entry, order * 10), update=update)
        created += new
    db.session.flush()
    return created


def seed_recommending_units(update: bool = False) -> int:
    areas = {a.code: a for a in db.session.scalars(select(Area))}
    offices = {o.code: o for o in db.session.scalars(select(CustomsOffice))}
    created = 0
    for order, entry in enumerate(load_yaml(DATA_DIR / "recommending_units.yaml"), start=1):
        values = _names(entry, order * 10) | {
            "kind": UnitKind(entry.get("kind", "other")),
            "area": areas.get(str(entry["area"])) if entry.get("area") else None,
            "office": offices.get(entry["office"]) if entry.get("office") else None,
        }
        _row, new = upsert(RecommendingUnit, entry["code"], values, update=update)
        created += new
    db.session.flush()
    return created


def seed_support_measures(update: bool = False) -> int:
    created = 0
    for entry in load_yaml(DATA_DIR / "support_measures.yaml"):
        number = int(entry["number"])
        values = _names(entry, number) | {"number": number, "responsible_units": entry.get("responsible_units", "")}
        _row, new = upsert(SupportMeasure, str(number), values, update=update)
        created += new
    db.session.flush()
    return created


def seed_mra_partners(update: bool = False) -> int:
    created = 0
    for order, entry in enumerate(load_yaml(DATA_DIR / "mra_partners.yaml"), start=1):
        values = _names(entry, order * 10) | {
            "signed_on": entry.get("signed_on"),
            "implemented_on": entry.get("implemented_on"),
            "is_confirmed": bool(entry.get("confirmed", False)),
            "note": entry.get("note", ""),
        }
        _row, new = upsert(MraPartner, entry["code"], values, update=update)
        created += new
    db.session.flush()
    return created


def reference_seeders() -> list[tuple[str, Callable[[bool], int]]]:
    """Every seeder in dependency order, listed by hand; features append theirs here."""
    from crm.notifications.services import seed_reminder_rules
    from crm.pipeline.services import seed_stages, seed_transition_reasons
    from crm.standards.catalog import seed_standards

    return [
        ("areas", seed_areas),
        ("customs offices", seed_offices),
        ("business types", lambda update: seed_simple(BusinessType, "business_types.yaml", update)),
        ("key categories", lambda update: seed_simple(KeyCategory, "key_categories.yaml", update)),
        ("recommending units", seed_recommending_units),
        ("support measures", seed_support_measures),
        ("MRA partners", seed_mra_partners),
        ("pipeline stages", seed_stages),
        ("transition reasons", seed_transition_reasons),
        ("standard versions", seed_standards),
        ("reminder rules", seed_reminder_rules),
    ]


def seed_reference(update: bool = False) -> dict[str, int]:
    """Load every kind of reference data; returns how many rows of each kind were created."""
    return {name: seeder(update) for name, seeder in reference_seeders()}
