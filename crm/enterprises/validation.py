"""Checks shared by the enterprise form, the API and the import: each returns translated messages.

The same rules apply wherever an enterprise is written: a valid and unique 统一社会信用代码, a well-formed
and unique 海关注册编码, a customs office that serves the area, officers of the right role whose jurisdiction
covers the enterprise, and the record inside the writer's own jurisdiction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.core.permissions import Role
from crm.core.scope import Scope, build_scope
from crm.enterprises.identifiers import (
    IdentifierError,
    customs_code_problems,
    is_mainland_mobile,
    normalise_customs_code,
    normalise_mobile,
    validate_uscc,
)
from crm.enterprises.models import Enterprise
from crm.extensions import db


def uscc_message(reason: str, value: str = "") -> str:
    if reason == "required":
        return _("Enter the unified social credit code.")
    if reason == "length":
        return _("A unified social credit code has 18 characters; this one has %(n)s.", n=len(value))
    if reason == "checksum":
        return _("The check character (the last one) does not match: look for a typing error in the code.")
    return _("This is not a unified social credit code: only digits and capital letters except I, O, S, V and Z.")


def check_uscc(value: str | None) -> tuple[str, str | None]:
    """(normalised code, error message or None)."""
    from crm.enterprises.identifiers import normalise_uscc

    code = normalise_uscc(value)
    if not code:
        return "", uscc_message("required")
    try:
        return validate_uscc(code), None
    except IdentifierError as exc:
        return code, uscc_message(exc.reason, code)


def check_customs_code(value: str | None) -> tuple[str | None, str | None, str | None]:
    """(normalised code or None, error, warning) for a 海关注册编码; empty is allowed."""
    code = normalise_customs_code(value)
    if not code:
        return None, None, None
    error, warning = customs_code_problems(code)
    if error == "length":
        return code, _("A customs registration code has 10 characters; this one has %(n)s.", n=len(code)), None
    if error == "format":
        return code, _("The first five characters of a customs registration code are digits (area and zone)."), None
    if warning == "letters":
        return code, None, _("The customs registration code %(code)s contains letters; check it.", code=code)
    if warning == "outside_fujian":
        return code, None, _("The customs registration code %(code)s is not a Fujian code (35…).", code=code)
    return code, None, None


def enterprise_with_uscc(code: str, exclude_id: int | None = None) -> Enterprise | None:
    stmt = select(Enterprise).where(Enterprise.uscc == code)
    if exclude_id is not None:
        stmt = stmt.where(Enterprise.id != exclude_id)
    return db.session.scalars(stmt).first()


def enterprise_with_customs_code(code: str, exclude_id: int | None = None) -> Enterprise | None:
    stmt = select(Enterprise).where(Enterprise.customs_code == code)
    if exclude_id is not None:
        stmt = stmt.where(Enterprise.id != exclude_id)
    return db.session.scalars(stmt).first()


def office_area_message(office: Any, area: Any) -> str | None:
    """None when the office serves the area; otherwise a message naming the offices that do."""
    if office is None or area is None or office.serves(area):
        return None
    serving = "、".join(o.name_zh for o in area.offices if o.is_active) or "—"
    return _(
        "%(office)s does not serve %(area)s. Offices that do: %(offices)s.",
        office=office.name_zh,
        area=area.name_zh,
        offices=serving,
    )


def officer_message(user: Any, role: Role, area: Any, office: Any) -> str | None:
    """None when ``user`` may be assigned in ``role`` to an enterprise of that area and office."""
    if user is None:
        return None
    if not user.is_active:
        return _("%(name)s's account is deactivated.", name=user.display_name)
    if Role(user.role) != role:
        if role == Role.BUREAU:
            return _("%(name)s is not commerce bureau staff.", name=user.display_name)
        return _("%(name)s is not a customs officer.", name=user.display_name)
    scope = build_scope(user)
    area_id = getattr(area, "id", None)
    office_id = getattr(office, "id", None)
    covers = scope.covers_area(area_id) if role == Role.BUREAU else scope.covers_office(office_id)
    if not covers:
        return _("The jurisdiction of %(name)s does not cover this enterprise.", name=user.display_name)
    return None


def scope_message(scope: Scope, area: Any, office: Any) -> str | None:
    """None when a record of that area and office lies in the writer's scope."""
    if scope.unrestricted:
        return None
    if scope.covers_area(getattr(area, "id", None)) or scope.covers_office(getattr(office, "id", None)):
        return None
    return _("This enterprise would lie outside your jurisdiction: choose an area or customs office of yours.")


def check_mobile(value: str | None) -> tuple[str, str | None]:
    mobile = normalise_mobile(value)
    if mobile and not is_mainland_mobile(mobile):
        return mobile, _("Enter a mainland mobile number: 11 digits starting with 13–19.")
    return mobile, None


def names_of(rows: Iterable[Any]) -> str:
    return "、".join(str(r) for r in rows)
