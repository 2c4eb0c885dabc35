"""Pipeline operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm.core.models import utcnow
from crm.extensions import db
from crm.pipeline.models import Stage, StageChange, StageKind
from crm.reference.services import load_yaml, upsert

FIRST_STAGE = "candidate"


def enter_first_stage(enterprise: Any, *, by: Any = None, comment: str = "") -> StageChange:
    """Put a new enterprise into the first stage and record that entry in its stage history."""
    now = utcnow()
    enterprise.stage = FIRST_STAGE
    enterprise.stage_entered_at = now
    change = StageChange(
        enterprise=enterprise,
        from_stage=None,
        to_stage=FIRST_STAGE,
        changed_at=now,
        changed_by_id=getattr(by, "id", None),
        comment=comment,
    )
    db.session.add(change)
    return change


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
