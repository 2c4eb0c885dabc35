"""Pipeline operations."""

from __future__ import annotations

from pathlib import Path

from crm.pipeline.models import Stage, StageKind
from crm.reference.services import load_yaml, upsert

DATA_DIR = Path(__file__).resolve().parent / "data"


def seed_stages(update: bool = False) -> int:
    created = 0
    for entry in load_yaml(DATA_DIR / "stages.yaml"):
        values = {
            "name_zh": entry["name_zh"],
            "name_en": entry["name_en"],
            "sort_order": entry["sort_order"],
            "sla_days": entry.get("sla_days"),
            "kind": StageKind(entry["kind"]),
        }
        _row, new = upsert(Stage, entry["code"], values, update=update)
        created += new
    return created
