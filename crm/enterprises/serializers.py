"""The API's JSON shape of an enterprise."""

from __future__ import annotations

from typing import Any

from crm.core.models import json_value
from crm.enterprises.models import Enterprise


def serialize_enterprise(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "id": enterprise.id,
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "customs_code": enterprise.customs_code,
        "area": enterprise.area.code if enterprise.area else None,
        "office": enterprise.office.code if enterprise.office else None,
        "business_types": [bt.code for bt in enterprise.business_types],
        "categories": [c.code for c in enterprise.categories],
        "target_tier": json_value(enterprise.target_tier),
        "stage": enterprise.stage,
        "credit_status": json_value(enterprise.credit_status),
        "priority": json_value(enterprise.priority),
        "commerce_officer": enterprise.commerce_officer.username if enterprise.commerce_officer else None,
        "customs_officer": enterprise.customs_officer.username if enterprise.customs_officer else None,
        "created_at": json_value(enterprise.created_at),
        "updated_at": json_value(enterprise.updated_at),
    }
