"""Enterprise API: ``/api/v1/enterprises``. The same services as the pages; scope answers 404."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.api.errors import ApiError, validation_error
from crm.api.helpers import json_body, paginated_response
from crm.core.permissions import Permission, permission_required
from crm.core.scope import get_enterprise_or_404
from crm.core.timeutil import local_today
from crm.enterprises import services
from crm.enterprises.models import CreditStatus, Enterprise, Priority, TargetTier
from crm.enterprises.queries import api_load_options, enterprise_list
from crm.enterprises.serializers import serialize_enterprise
from crm.extensions import db

bp = Blueprint("enterprises_api", __name__, url_prefix="/enterprises")

#: Fields a client may send; the others of the object (id, stage, created_at, updated_at) are read-only.
WRITABLE = (
    "name",
    "uscc",
    "customs_code",
    "area",
    "office",
    "business_types",
    "categories",
    "target_tier",
    "credit_status",
    "priority",
    "commerce_officer",
    "customs_officer",
    "industry",
    "trade_value",
    "employees",
    "address",
    "notes",
)
READ_ONLY = ("id", "stage", "created_at", "updated_at")


@bp.get("")
def list_enterprises():
    return paginated_response(enterprise_list(request.args, current_user), serialize_enterprise)


@bp.get("/<int:enterprise_id>")
def get_enterprise(enterprise_id: int):
    return jsonify(serialize_enterprise(get_enterprise_or_404(enterprise_id)))


@bp.post("")
@permission_required(Permission.EDIT)
def create_enterprise():
    data = json_body()
    values, credit_status, errors = values_from_json(data, creating=True)
    if errors:
        raise validation_error(errors)
    try:
        enterprise, _warnings = services.create_enterprise(values, by=current_user, credit_status=credit_status)
    except services.DuplicateEnterpriseError as exc:
        db.session.rollback()
        raise _duplicate(exc) from None
    except services.InvalidEnterpriseError as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from None
    db.session.commit()
    response = jsonify(serialize_enterprise(_reload(enterprise.id)))
    response.status_code = 201
    response.headers["Location"] = f"{request.url_root.rstrip('/')}/api/v1/enterprises/{enterprise.id}"
    return response


@bp.patch("/<int:enterprise_id>")
@permission_required(Permission.EDIT)
def update_enterprise(enterprise_id: int):
    enterprise = get_enterprise_or_404(enterprise_id)
    data = json_body()
    values, credit_status, errors = values_from_json(data, creating=False)
    if errors:
        raise validation_error(errors)
    try:
        services.update_enterprise(enterprise, values, by=current_user)
        if credit_status is not None and credit_status != enterprise.credit_status:
            services.record_credit_status(
                enterprise,
                credit_status,
                effective_on=local_today(),
                source=_("Changed through the API"),
                by=current_user,
            )
    except services.DuplicateEnterpriseError as exc:
        db.session.rollback()
        raise _duplicate(exc) from None
    except services.InvalidEnterpriseError as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from None
    db.session.commit()
    return jsonify(serialize_enterprise(_reload(enterprise.id)))


def _reload(enterprise_id: int) -> Enterprise:
    db.session.expire_all()
    return db.session.scalars(
        select(Enterprise).where(Enterprise.id == enterprise_id).options(*api_load_options())
    ).one()


def _duplicate(exc: services.DuplicateEnterpriseError) -> ApiError:
    return ApiError(
        409,
        _("An enterprise with this unified social credit code already exists."),
        code="duplicate_uscc",
        existing_id=exc.existing.id,
    )


def values_from_json(
    data: dict[str, Any], *, creating: bool
) -> tuple[dict[str, Any], CreditStatus | None, dict[str, list[str]]]:
    """Service values from a JSON body: codes and usernames resolved, types checked."""
    from crm.auth.models import User
    from crm.reference.models import Area, BusinessType, CustomsOffice, KeyCategory

    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    credit_status = CreditStatus.REGULAR if creating else None

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for key in data:
        if key not in WRITABLE and key not in READ_ONLY:
            error(key, _("Unknown field."))
    if creating:
        for key in ("name", "uscc", "area"):
            if data.get(key) in (None, ""):
                error(key, _("This field is required."))

    def text(key: str, *, nullable: bool = False) -> None:
        if key not in data:
            return
        value = data[key]
        if value is None and nullable:
            values[key] = None
        elif not isinstance(value, str):
            error(key, _("Must be a string."))
        else:
            values[key] = value

    for key in ("name", "uscc", "industry", "address", "notes"):
        text(key)
    text("customs_code", nullable=True)

    def by_code(key: str, model: type, *, nullable: bool) -> None:
        if key not in data:
            return
        code = data[key]
        if code is None:
            if nullable:
                values[key] = None
            else:
                error(key, _("This field is required."))
            return
        row = db.session.scalars(select(model).where(model.code == str(code))).first()
        if row is None:
            error(key, _("Unknown code “%(code)s”.", code=code))
        else:
            values[key] = row

    by_code("area", Area, nullable=False)
    by_code("office", CustomsOffice, nullable=True)

    for key, model in (("business_types", BusinessType), ("categories", KeyCategory)):
        if key not in data:
            continue
        codes = data[key]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            error(key, _("Must be a list of codes."))
            continue
        rows = {r.code: r for r in db.session.scalars(select(model).where(model.code.in_(codes)))}
        unknown = [c for c in codes if c not in rows]
        if unknown:
            error(key, _("Unknown code “%(code)s”.", code="、".join(unknown)))
        else:
            values[key] = [rows[c] for c in dict.fromkeys(codes)]

    for key, enum, nullable in (("target_tier", TargetTier, False), ("priority", Priority, True)):
        if key not in data:
            continue
        if data[key] is None and nullable:
            values[key] = None
            continue
        try:
            values[key] = enum(data[key])
        except ValueError:
            error(key, _("Must be one of: %(values)s.", values=", ".join(m.value for m in enum)))
    if "credit_status" in data:
        try:
            credit_status = CreditStatus(data["credit_status"])
        except ValueError:
            error("credit_status", _("Must be one of: %(values)s.", values=", ".join(m.value for m in CreditStatus)))

    for key in ("commerce_officer", "customs_officer"):
        if key not in data:
            continue
        username = data[key]
        if username is None:
            values[key] = None
            continue
        user = db.session.scalars(select(User).where(User.username == str(username))).first()
        if user is None:
            error(key, _("No user is called “%(name)s”.", name=username))
        else:
            values[key] = user

    if "trade_value" in data:
        value = data["trade_value"]
        if value is None:
            values["trade_value"] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
            error("trade_value", _("Must be a number."))
        else:
            try:
                values["trade_value"] = Decimal(str(value)).quantize(Decimal("0.01"))
            except InvalidOperation:
                error("trade_value", _("Must be a number."))
    if "employees" in data:
        value = data["employees"]
        if value is None:
            values["employees"] = None
        elif isinstance(value, bool) or not isinstance(value, int):
            error("employees", _("Must be a whole number."))
        else:
            values["employees"] = value
    return values, credit_status, errors
