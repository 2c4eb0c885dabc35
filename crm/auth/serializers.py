"""JSON shapes of users for the API."""

from __future__ import annotations

from typing import Any

from crm.core.scope import scope_of


def serialize_user(user: Any, *, with_scope: bool = False) -> dict[str, Any]:
    data = {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": str(user.role),
        "language": user.language,
        "is_active": user.is_active,
    }
    if with_scope:
        scope = scope_of(user)
        data["scope"] = {
            "all": scope.unrestricted,
            "areas": [area.code for area in user.areas],
            "offices": [office.code for office in user.offices],
        }
    return data
