"""Spreadsheet import of enterprises: mapping, row checks, preview, all-or-nothing commit, error report, undo.

The flow (UI and CLI alike): read the table (``spreadsheets.read_table``), guess which column holds which
field (``guess_mapping``), check every row (``analyse``: one bulk lookup of the codes already in the CRM, no
query per row), then ``commit``: new enterprises are written with bulk inserts, each entering ``candidate``
with its stage-history row; rows already in the CRM are skipped or have their empty fields filled. By
default the commit is all-or-nothing: one invalid or duplicate row and nothing is written. Files over
``BACKGROUND_ROWS`` rows are checked and committed by a job that reports progress.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ARRAY, any_, bindparam, delete, func, insert, select, update

from crm.core.audit import AuditAction, AuditLog, record_event
from crm.core.bulk import copy_rows, insert_returning_ids
from crm.core.models import json_value, utcnow
from crm.core.permissions import Role
from crm.core.scope import Scope, build_scope
from crm.core.timeutil import local_today
from crm.enterprises.identifiers import name_key, normalise_phone, to_half_width
from crm.enterprises.models import (
    Contact,
    ContactRole,
    CreditStatus,
    CreditStatusChange,
    Enterprise,
    EnterpriseImport,
    EnterpriseImportRow,
    ExistingAction,
    ImportStatus,
    Priority,
    Recommendation,
    RowLabel,
    TargetTier,
    enterprise_business_types,
    enterprise_key_categories,
    recommendation_key_categories,
)
from crm.enterprises.related import actor_for
from crm.enterprises.spreadsheets import Table, normalise_header
from crm.enterprises.validation import check_customs_code, check_mobile, check_uscc, office_area_message
from crm.extensions import db

logger = logging.getLogger(__name__)

#: Files with more rows than this are checked and imported by a background job with a progress bar.
BACKGROUND_ROWS = 1000
CHUNK = 1000


@dataclass(frozen=True)
class ImportField:
    key: str
    label: Any
    #: Headings recognised for the field, compared by ``normalise_header`` (no spaces, units or widths).
    aliases: tuple[str, ...]


IMPORT_FIELDS: tuple[ImportField, ...] = (
    ImportField(
        "name", _l("Enterprise name"), ("企业名称", "单位名称", "公司名称", "企业全称", "企业名字", "名称", "name")
    ),
    ImportField(
        "uscc",
        _l("Unified social credit code"),
        ("统一社会信用代码", "信用代码", "社会信用代码", "统一代码", "统一信用代码", "uscc", "creditcode"),
    ),
    ImportField(
        "customs_code",
        _l("Customs registration code"),
        (
            "海关注册编码",
            "海关编码",
            "海关代码",
            "海关注册代码",
            "注册编码",
            "海关备案编码",
            "海关十位编码",
            "customscode",
        ),
    ),
    ImportField(
        "area",
        _l("Area"),
        (
            "所在地市",
            "地区",
            "所属地市",
            "地市",
            "城市",
            "所在地区",
            "所属地区",
            "设区市",
            "所在城市",
            "区域",
            "所在地",
            "area",
        ),
    ),
    ImportField(
        "office", _l("Competent customs office"), ("主管海关", "所属海关", "隶属海关", "海关", "关区", "office")
    ),
    ImportField("industry", _l("Industry"), ("行业", "所属行业", "行业类别", "行业分类", "industry")),
    ImportField("business_types", _l("Business types"), ("业务类型", "经营类别", "业务类别", "企业经营类别")),
    ImportField("categories", _l("Key-enterprise categories"), ("重点企业类别", "企业类别", "推荐类别", "重点类别")),
    ImportField("target_tier", _l("Target tier"), ("目标层级", "认证目标", "目标等级", "申请类型", "拟申请类型")),
    ImportField(
        "trade_value",
        _l("Import and export value last year (10,000 USD)"),
        ("上年进出口额", "进出口额", "进出口总额", "进出口值", "上年度进出口额", "上年进出口总额", "年进出口额"),
    ),
    ImportField("employees", _l("Employees"), ("员工人数", "职工人数", "从业人数", "员工数", "人数")),
    ImportField("address", _l("Address"), ("地址", "注册地址", "经营地址", "企业地址", "联系地址", "详细地址")),
    ImportField(
        "credit_status", _l("Credit status"), ("信用等级", "信用状态", "海关信用等级", "企业信用等级", "信用类别")
    ),
    ImportField("unit", _l("Recommending unit"), ("推荐单位", "推荐部门", "推荐机构")),
    ImportField("reason", _l("Reason for the recommendation"), ("推荐理由", "推荐原因", "理由")),
    ImportField("priority", _l("Priority"), ("优先级", "推荐优先级", "优先等级", "推荐等级")),
    ImportField("recommended_on", _l("Date of recommendation"), ("推荐日期", "推荐时间")),
    ImportField("contact_name", _l("Contact"), ("联系人", "联系人姓名", "关务联系人", "姓名")),
    ImportField(
        "contact_mobile",
        _l("Contact's mobile"),
        ("联系电话", "手机", "手机号", "手机号码", "联系方式", "联系人电话", "联系人手机", "移动电话"),
    ),
    ImportField("contact_phone", _l("Contact's phone"), ("固定电话", "座机", "办公电话", "电话")),
    ImportField("contact_email", _l("Contact's email"), ("邮箱", "电子邮箱", "电子邮件", "email", "e-mail")),
    ImportField("contact_title", _l("Contact's title"), ("职务", "联系人职务")),
    ImportField("notes", _l("Remarks"), ("备注", "说明", "remarks")),
)
FIELDS_BY_KEY = {f.key: f for f in IMPORT_FIELDS}
REQUIRED_FIELDS = ("name", "uscc")
_EXACT = {normalise_header(alias): f.key for f in IMPORT_FIELDS for alias in f.aliases}
#: Aliases of three characters or more also match a longer heading that contains them (企业名称（盖章）).
_CONTAINED = sorted(
    ((normalise_header(a), f.key) for f in IMPORT_FIELDS for a in f.aliases if len(normalise_header(a)) >= 3),
    key=lambda pair: -len(pair[0]),
)


def match_header(heading: str) -> str | None:
    """The field a normalised heading names, or None."""
    if not heading:
        return None
    if heading in _EXACT:
        return _EXACT[heading]
    best = None
    for alias, key in _CONTAINED:
        if alias in heading:
            score = (len(alias), heading.startswith(alias))
            if best is None or score > best[0]:
                best = (score, key)
    return best[1] if best else None


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{column index as text: field key}; each field taken by its first column."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, heading in enumerate(headers):
        key = match_header(normalise_header(heading))
        if key and key not in taken:
            mapping[str(index)] = key
            taken.add(key)
    return mapping


def mapping_problems(mapping: dict[str, str]) -> list[str]:
    fields = list(mapping.values())
    problems = [
        _("No column is mapped to “%(field)s”.", field=FIELDS_BY_KEY[key].label)
        for key in REQUIRED_FIELDS
        if key not in fields
    ]
    for key in {f for f in fields if fields.count(f) > 1}:
        problems.append(_("Several columns are mapped to “%(field)s”.", field=FIELDS_BY_KEY[key].label))
    return problems


# --- reading values ------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _key(value: str) -> str:
    return re.sub(r"\s+", "", to_half_width(value)).lower()


def parse_date(value: Any) -> date | None:
    """A date from a date cell, an Excel serial number or text (2025-06-05, 2025/6/5, 2025年6月5日, 20250605)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and 20000 < value < 80000:
        return date(1899, 12, 30) + timedelta(days=int(value))
    text = _text(value)
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", text
    )
    if not match:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


def parse_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    text = re.sub(r"[,，\s]|万美元|万元|万", "", _text(value))
    if not text:
        return None
    return Decimal(text).quantize(Decimal("0.01"))


def parse_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, int):
        return value
    text = re.sub(r"[,，\s人]", "", _text(value))
    return int(text) if text else None


_TIERS = {
    "高级认证企业": TargetTier.AEO_ADVANCED,
    "高级认证": TargetTier.AEO_ADVANCED,
    "高级": TargetTier.AEO_ADVANCED,
    "aeo_advanced": TargetTier.AEO_ADVANCED,
    "认证企业": TargetTier.AEO,
    "一般认证企业": TargetTier.AEO,
    "一般认证": TargetTier.AEO,
    "认证": TargetTier.AEO,
    "aeo": TargetTier.AEO,
}
_CREDIT = {
    "高级认证企业": CreditStatus.AEO_ADVANCED,
    "高级认证": CreditStatus.AEO_ADVANCED,
    "aeo_advanced": CreditStatus.AEO_ADVANCED,
    "认证企业": CreditStatus.AEO,
    "一般认证企业": CreditStatus.AEO,
    "aeo": CreditStatus.AEO,
    "常规企业": CreditStatus.REGULAR,
    "常规": CreditStatus.REGULAR,
    "一般信用企业": CreditStatus.REGULAR,
    "一般信用": CreditStatus.REGULAR,
    "其他注册登记企业": CreditStatus.REGULAR,
    "regular": CreditStatus.REGULAR,
    "失信企业": CreditStatus.DISCREDITED,
    "失信": CreditStatus.DISCREDITED,
    "discredited": CreditStatus.DISCREDITED,
    "严重失信企业": CreditStatus.SEVERELY_DISCREDITED,
    "严重失信": CreditStatus.SEVERELY_DISCREDITED,
    "severely_discredited": CreditStatus.SEVERELY_DISCREDITED,
}
_PRIORITIES = {
    "a": Priority.A,
    "高": Priority.A,
    "一类": Priority.A,
    "b": Priority.B,
    "中": Priority.B,
    "二类": Priority.B,
    "c": Priority.C,
    "低": Priority.C,
    "三类": Priority.C,
}
_LIST_SEPARATORS = re.compile(r"[,，、;；/\n]+")
#: The fields checked alike, with their messages (made once, not for each of 10,000 rows).
_LIST_FIELDS = (
    ("business_types", "type_keys", _l("business type")),
    ("categories", "category_keys", _l("key-enterprise category")),
)
_CHOICE_FIELDS = (
    ("target_tier", _TIERS, _l("Unknown target tier “%(value)s”: use 高级认证企业 or 认证企业.")),
    ("credit_status", _CREDIT, _l("Unknown credit status “%(value)s”.")),
)
_NUMBER_FIELDS = (
    ("trade_value", parse_decimal, _l("The import and export value “%(value)s” is not a number.")),
    ("employees", parse_int, _l("The number of employees “%(value)s” is not a whole number.")),
)


class Resolver:
    """Reference data by every name users write it with, loaded once per import."""

    def __init__(self) -> None:
        from sqlalchemy.orm import selectinload

        from crm.reference.models import Area, BusinessType, CustomsOffice, KeyCategory, RecommendingUnit

        self.areas = list(db.session.scalars(select(Area).order_by(Area.id)))
        # With the areas each office serves (below and in office_area_message): one query, not one per office.
        self.offices = list(
            db.session.scalars(
                select(CustomsOffice).options(selectinload(CustomsOffice.areas)).order_by(CustomsOffice.id)
            )
        )
        self.area_by_id = {a.id: a for a in self.areas}
        self.office_by_id = {o.id: o for o in self.offices}
        self.area_keys: dict[str, Any] = {}
        for area in self.areas:
            for name in (area.code, area.name_zh, area.name_zh + "市", area.name_en, "福建省" + area.name_zh + "市"):
                if name:
                    self.area_keys[_key(name)] = area
        self.area_keys.setdefault(_key("平潭"), next((a for a in self.areas if a.code == "350128"), None))
        self.office_keys: dict[str, Any] = {}
        for office in self.offices:
            for name in (office.code, office.name_zh, office.name_zh.removesuffix("海关"), office.name_en):
                if name:
                    self.office_keys[_key(name)] = office
        self.type_keys = self._keys(db.session.scalars(select(BusinessType).order_by(BusinessType.id)))
        self.category_keys = self._keys(db.session.scalars(select(KeyCategory).order_by(KeyCategory.id)), strip="企业")
        self.unit_keys: dict[str, Any] = {}
        for unit in db.session.scalars(select(RecommendingUnit).order_by(RecommendingUnit.id)):
            for name in (unit.code, unit.name_zh, unit.name_en):
                if name:
                    self.unit_keys[_unit_key(name)] = unit
        #: Rows are tied to areas through the office→areas links, loaded once.
        self.office_area_ids = {o.id: {a.id for a in o.areas} for o in self.offices}

    @staticmethod
    def _keys(rows: Iterable[Any], strip: str = "") -> dict[str, Any]:
        keys: dict[str, Any] = {}
        for row in rows:
            for name in (row.code, row.name_zh, row.name_en):
                if name:
                    keys[_key(name)] = row
                    if strip and name.endswith(strip):
                        keys[_key(name.removesuffix(strip))] = row
        return keys


def _unit_key(name: str) -> str:
    key = _key(name)
    for word in ("福建省", "省", "市"):
        key = key.replace(word, "")
    return key


# --- checking rows -------------------------------------------------------------------------------------------


@dataclass
class RowResult:
    row_number: int
    label: RowLabel
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Cleaned values (JSON-safe) of the mapped fields.
    values: dict[str, Any] = field(default_factory=dict)
    raw: list[Any] = field(default_factory=list)
    existing_id: int | None = None
    #: Set when the only reason to refuse a new row would be the importer's jurisdiction.
    outside_scope: bool = False


@dataclass
class Analysis:
    rows: list[RowResult]

    def count(self, label: RowLabel) -> int:
        return sum(1 for r in self.rows if r.label == label)

    @property
    def rejected(self) -> list[RowResult]:
        return [r for r in self.rows if r.label in (RowLabel.INVALID, RowLabel.DUPLICATE)]


def _raw_json(cells: list[Any]) -> list[Any]:
    return [json_value(c) if not isinstance(c, float) or not c.is_integer() else int(c) for c in cells]


def _parse_row(
    number: int, cells: list[Any], columns: dict[str, int], resolver: Resolver, scope: Scope, user: Any
) -> RowResult:
    result = RowResult(row_number=number, label=RowLabel.NEW, raw=_raw_json(cells))
    values = result.values
    errors = result.errors

    def cell(key: str) -> Any:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    name = _text(cell("name"))
    if not name:
        errors.append(_("The enterprise name is missing."))
    elif len(name) > 200:
        errors.append(_("The name may have at most 200 characters."))
    values["name"] = name

    raw_code = cell("uscc")
    code, error = check_uscc(_text(raw_code))
    if error and isinstance(raw_code, (int, float)) and len(str(int(raw_code))) >= 15:
        error = _("The credit code was stored as a number and lost digits: format the column as text in Excel.")
    if error:
        errors.append(error)
    values["uscc"] = code

    if "customs_code" in columns:
        customs, error, warning = check_customs_code(_text(cell("customs_code")))
        if error:
            errors.append(error)
        if warning:
            result.warnings.append(warning)
        values["customs_code"] = customs

    area = None
    area_text = _text(cell("area"))
    if area_text:
        area = resolver.area_keys.get(_key(area_text))
        if area is None:
            errors.append(_("Unknown area “%(value)s”.", value=area_text))
    elif code and not error:
        from crm.enterprises.identifiers import area_code_of_uscc

        area = resolver.area_keys.get(_key(area_code_of_uscc(code) or ""))
        if area is None:
            errors.append(_("The area is missing and the credit code does not name a Fujian city."))
    elif not errors:
        errors.append(_("The area is missing."))
    values["area_id"] = area.id if area else None

    office = None
    office_text = _text(cell("office"))
    if office_text:
        office = resolver.office_keys.get(_key(office_text))
        if office is None:
            errors.append(_("Unknown customs office “%(value)s”.", value=office_text))
    elif area is not None and user is not None and Role(user.role) == Role.CUSTOMS:
        mine = [o for o in resolver.offices if scope.covers_office(o.id) and area.id in resolver.office_area_ids[o.id]]
        if mine:
            office = sorted(mine, key=lambda o: (o.parent_id is None, o.sort_order, o.code))[0]
    if office is not None and area is not None:
        message = office_area_message(office, area)
        if message:
            errors.append(message)
    if office is not None or "office" in columns:
        values["office_id"] = office.id if office else None
    outside = not (scope.covers_area(getattr(area, "id", None)) or scope.covers_office(getattr(office, "id", None)))
    # Judged after the lookup: a row already in the CRM is skipped, not refused, whatever its jurisdiction.
    result.outside_scope = area is not None and outside

    for key, keys_name, label in _LIST_FIELDS:
        if key in columns:
            keys = getattr(resolver, keys_name)
            ids = []
            for part in _LIST_SEPARATORS.split(_text(cell(key))):
                if not part.strip():
                    continue
                row = keys.get(_key(part))
                if row is None:
                    errors.append(_("Unknown %(what)s “%(value)s”.", what=label, value=part.strip()))
                elif row.id not in ids:
                    ids.append(row.id)
            values[key] = ids

    for key, table, message in _CHOICE_FIELDS:
        text = _text(cell(key))
        if text:
            found = table.get(_key(text))
            if found is None:
                errors.append(str(message) % {"value": text})
            else:
                values[key] = found.value

    for key, parse, message in _NUMBER_FIELDS:
        raw = cell(key)
        if raw is None or raw == "":
            continue
        try:
            number = parse(raw)
        except (ValueError, InvalidOperation):
            errors.append(str(message) % {"value": _text(raw)})
            continue
        if number is not None and number < 0:
            errors.append(_("Negative numbers are not accepted (“%(value)s”).", value=_text(raw)))
        elif number is not None:
            values[key] = str(number) if isinstance(number, Decimal) else number

    for key, limit in (("industry", 100), ("address", 300), ("notes", 5000)):
        text = _text(cell(key))
        if text:
            values[key] = text[:limit]

    unit_text = _text(cell("unit"))
    if unit_text:
        unit = resolver.unit_keys.get(_unit_key(unit_text))
        if unit is None:
            errors.append(_("Unknown recommending unit “%(value)s”.", value=unit_text))
        else:
            values["unit_id"] = unit.id
            values["reason"] = _text(cell("reason"))[:5000]
            priority_text = _text(cell("priority"))
            priority = _PRIORITIES.get(_key(priority_text)) if priority_text else Priority.B
            if priority is None:
                errors.append(_("Unknown priority “%(value)s”: use A, B or C.", value=priority_text))
            values["priority"] = (priority or Priority.B).value
            try:
                day = parse_date(cell("recommended_on")) or local_today()
            except ValueError:
                errors.append(_("The date “%(value)s” is not readable.", value=_text(cell("recommended_on"))))
                day = local_today()
            if day > local_today():
                errors.append(_("The date cannot be in the future."))
            values["recommended_on"] = day.isoformat()
    elif _text(cell("reason")) or _text(cell("priority")):
        errors.append(_("A reason or priority is given without a recommending unit."))

    contact_name = _text(cell("contact_name"))
    mobile_text, phone_text, email_text = (
        _text(cell("contact_mobile")),
        _text(cell("contact_phone")),
        _text(cell("contact_email")),
    )
    if contact_name or mobile_text or phone_text or email_text:
        contact: dict[str, Any] = {"name": contact_name[:60], "title": _text(cell("contact_title"))[:60]}
        mobile, mobile_error = check_mobile(mobile_text)
        digits = re.sub(r"\D", "", mobile_text)
        landline = mobile_text.startswith("0") or "-" in mobile_text or len(digits) in (7, 8)
        if mobile_error and landline and not phone_text:
            # Lists often put a landline in the "联系电话" column: keep it as the phone number.
            contact["mobile"], contact["phone"] = "", normalise_phone(mobile_text)[:30]
        elif mobile_error:
            errors.append(mobile_error)
        else:
            contact["mobile"], contact["phone"] = mobile, normalise_phone(phone_text)[:30]
        if email_text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email_text):
            errors.append(_("“%(value)s” is not an email address.", value=email_text))
        contact["email"] = email_text[:200]
        if contact_name:
            values["contact"] = contact
        else:
            result.warnings.append(_("Contact details without the contact's name are not imported."))

    if errors:
        result.label = RowLabel.INVALID
    return result


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(column: Any, values: list[Any]) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)`` with one array parameter: a thousand
    placeholders make a statement too long for psycopg's cache of parsed queries (about 10 ms to parse each)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def analyse(
    table: Table,
    mapping: dict[str, str],
    *,
    user: Any = None,
    progress: Callable[[int], None] | None = None,
) -> Analysis:
    """Check every row; label it new, already in the CRM, duplicate within the file, or invalid (with reasons)."""
    columns = {key: int(index) for index, key in mapping.items() if key}
    resolver = Resolver()
    scope = build_scope(user) if user is not None else Scope(unrestricted=True)
    results = []
    key_columns = [columns[k] for k in REQUIRED_FIELDS if k in columns]
    for position, (number, cells) in enumerate(table.rows, start=1):
        if not any(_text(cells[i]) for i in key_columns if i < len(cells)):
            continue  # no name and no code: a footer, a subtotal or a note under the table
        results.append(_parse_row(number, cells, columns, resolver, scope, user))
        if progress is not None and position % CHUNK == 0:
            progress(position // 2)
    _mark_duplicates_and_existing(results, scope, columns)
    if progress is not None:
        progress(len(results))
    return Analysis(rows=results)


def _mark_duplicates_and_existing(results: list[RowResult], scope: Scope, columns: dict[str, int]) -> None:
    """One pass over the file for duplicates, and bulk lookups of codes and names already in the CRM."""
    first_by_uscc: dict[str, RowResult] = {}
    first_by_customs: dict[str, RowResult] = {}
    for result in results:
        code = result.values.get("uscc")
        if result.label == RowLabel.INVALID or not code:
            continue
        if code in first_by_uscc:
            result.label = RowLabel.DUPLICATE
            result.errors.append(_("Same credit code as row %(row)s of the file.", row=first_by_uscc[code].row_number))
            continue
        first_by_uscc[code] = result
    candidates = [r for r in results if r.label == RowLabel.NEW]
    existing: dict[str, Any] = {}
    for chunk in _chunks([r.values["uscc"] for r in candidates]):
        for row in db.session.execute(
            select(
                Enterprise.id, Enterprise.uscc, Enterprise.area_id, Enterprise.office_id, Enterprise.customs_code
            ).where(one_of(Enterprise.uscc, chunk))
        ):
            existing[row.uscc] = row
    for result in candidates:
        row = existing.get(result.values["uscc"])
        if row is None:
            continue
        result.label = RowLabel.EXISTING
        result.existing_id = row.id
        in_scope = scope.unrestricted or scope.covers_area(row.area_id) or scope.covers_office(row.office_id)
        if not in_scope:
            result.existing_id = None
            result.warnings.append(_("Already in the CRM outside your jurisdiction: this row will be skipped."))
        customs = result.values.get("customs_code")
        if customs and row.customs_code and customs != row.customs_code:
            result.warnings.append(
                _("The CRM records customs code %(code)s for this enterprise.", code=row.customs_code)
            )
    for result in results:
        if result.label == RowLabel.NEW and result.outside_scope:
            result.label = RowLabel.INVALID
            result.errors.append(_("The enterprise lies outside your jurisdiction."))
    # Customs codes must stay unique: against the CRM and within the file.
    new_rows = [r for r in results if r.label == RowLabel.NEW and r.values.get("customs_code")]
    taken: dict[str, str] = {}
    for chunk in _chunks([r.values["customs_code"] for r in new_rows]):
        taken.update(
            db.session.execute(
                select(Enterprise.customs_code, Enterprise.uscc).where(one_of(Enterprise.customs_code, chunk))
            ).all()
        )
    for result in new_rows:
        code = result.values["customs_code"]
        if code in taken:
            result.label = RowLabel.INVALID
            result.errors.append(_("The customs registration code %(code)s belongs to another enterprise.", code=code))
        elif code in first_by_customs:
            result.label = RowLabel.DUPLICATE
            result.errors.append(
                _("Same customs registration code as row %(row)s of the file.", row=first_by_customs[code].row_number)
            )
        else:
            first_by_customs[code] = result
    # Similar names (not blocking): one lookup of every name key.
    new_rows = [r for r in results if r.label == RowLabel.NEW]
    keys = {name_key(r.values["name"]): r for r in new_rows}
    similar: dict[str, str] = {}
    for chunk in _chunks(list(keys)):
        similar.update(
            db.session.execute(
                select(Enterprise.name_key, Enterprise.name).where(one_of(Enterprise.name_key, chunk))
            ).all()
        )
    for key, name in similar.items():
        keys[key].warnings.append(_("A similarly named enterprise is already in the CRM: %(name)s.", name=name))


# --- import records and preview ------------------------------------------------------------------------------


def store_analysis(batch: EnterpriseImport, analysis: Analysis) -> None:
    """Keep the checked rows for the preview and the commit (replacing an earlier check).

    The import is locked first: a second check of the same import (a form sent twice) waits for this one to
    commit, then replaces its rows, instead of inserting beside them (one row per row number)."""
    db.session.execute(select(EnterpriseImport.id).where(EnterpriseImport.id == batch.id).with_for_update())
    db.session.execute(delete(EnterpriseImportRow).where(EnterpriseImportRow.import_id == batch.id))
    rows = [
        {
            "import_id": batch.id,
            "row_number": r.row_number,
            "label": r.label,
            "errors": r.errors or None,
            "warnings": r.warnings or None,
            "values": r.values,
            "raw": r.raw,
            "existing_id": r.existing_id,
        }
        for r in analysis.rows
    ]
    for chunk in _chunks(rows, 2000):
        db.session.execute(insert(EnterpriseImportRow), chunk)
    set_counts(batch, analysis)
    batch.status = ImportStatus.ANALYSED


def set_counts(batch: EnterpriseImport, analysis: Analysis) -> None:
    batch.total_rows = len(analysis.rows)
    batch.processed_rows = len(analysis.rows)
    batch.new_rows = analysis.count(RowLabel.NEW)
    batch.existing_rows = analysis.count(RowLabel.EXISTING)
    batch.duplicate_rows = analysis.count(RowLabel.DUPLICATE)
    batch.invalid_rows = analysis.count(RowLabel.INVALID)


def stored_analysis(batch: EnterpriseImport) -> Analysis:
    rows = db.session.execute(
        select(
            EnterpriseImportRow.row_number,
            EnterpriseImportRow.label,
            EnterpriseImportRow.errors,
            EnterpriseImportRow.warnings,
            EnterpriseImportRow.values,
            EnterpriseImportRow.raw,
            EnterpriseImportRow.existing_id,
        )
        .where(EnterpriseImportRow.import_id == batch.id)
        .order_by(EnterpriseImportRow.row_number, EnterpriseImportRow.id)
    ).all()
    return Analysis(
        rows=[
            RowResult(
                row_number=r.row_number,
                label=r.label,
                errors=r.errors or [],
                warnings=r.warnings or [],
                values=r.values or {},
                raw=r.raw or [],
                existing_id=r.existing_id,
            )
            for r in rows
        ]
    )


# --- committing ----------------------------------------------------------------------------------------------


class ImportRefusedError(ValueError):
    """All-or-nothing and some rows are rejected: nothing was written."""


def _recheck_existing(analysis: Analysis, scope: Scope) -> None:
    """Rows found new at the check may have been added since (by a colleague): look again, in bulk."""
    new_rows = [r for r in analysis.rows if r.label == RowLabel.NEW]
    found: dict[str, Any] = {}
    for chunk in _chunks([r.values["uscc"] for r in new_rows]):
        for row in db.session.execute(
            select(Enterprise.id, Enterprise.uscc, Enterprise.area_id, Enterprise.office_id).where(
                one_of(Enterprise.uscc, chunk)
            )
        ):
            found[row.uscc] = row
    for result in new_rows:
        row = found.get(result.values["uscc"])
        if row is not None:
            result.label = RowLabel.EXISTING
            visible = scope.unrestricted or scope.covers_area(row.area_id) or scope.covers_office(row.office_id)
            result.existing_id = row.id if visible else None


def commit(
    batch: EnterpriseImport,
    analysis: Analysis,
    *,
    user: Any = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the checked rows. All-or-nothing unless ``batch.valid_rows_only``; raises ImportRefusedError then.

    New enterprises enter ``candidate`` (with their stage-history row), with their business types,
    categories, contact and recommendation; rows already in the CRM are skipped or fill empty fields.
    """
    scope = build_scope(user) if user is not None else Scope(unrestricted=True)
    _recheck_existing(analysis, scope)
    rejected = analysis.rejected
    if rejected and not batch.valid_rows_only:
        raise ImportRefusedError(
            _(
                "Nothing was imported: %(n)s rows are invalid or duplicated. Correct them, or choose to import "
                "only the valid rows.",
                n=len(rejected),
            )
        )
    now = utcnow()
    by_id = getattr(user, "id", None)
    new_rows = [r for r in analysis.rows if r.label == RowLabel.NEW]
    _insert_new(batch, new_rows, now=now, by_id=by_id, progress=progress)
    updated = 0
    skipped = sum(1 for r in analysis.rows if r.label == RowLabel.EXISTING)
    if batch.existing_action == ExistingAction.FILL_EMPTY:
        existing = [r for r in analysis.rows if r.label == RowLabel.EXISTING and r.existing_id]
        filled = _fill_existing(batch, existing, now=now, by_id=by_id)
        updated = len(filled)
        skipped -= updated
        batch.filled_fields = filled or None
    # The import's own row is written last: a running job reports progress on it from another connection.
    set_counts(batch, analysis)
    batch.created_count = len(new_rows)
    batch.updated_count = updated
    batch.skipped_count = skipped
    batch.rejected_count = len(rejected)
    batch.status = ImportStatus.COMMITTED
    batch.message = ""
    batch.committed_at = now
    batch.processed_rows = batch.total_rows
    record_event(
        AuditAction.IMPORT,
        f"Enterprise import {batch.id} ({batch.filename}): {batch.created_count} created, {updated} updated",
        record=batch,
        details={
            "file": batch.filename,
            "created": batch.created_count,
            "updated": updated,
            "skipped": skipped,
            "rejected": batch.rejected_count,
            "valid_rows_only": batch.valid_rows_only,
        },
        actor=actor_for(user),
    )
    db.session.flush()


def _insert_new(
    batch: EnterpriseImport,
    rows: list[RowResult],
    *,
    now: datetime,
    by_id: int | None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the new enterprises with their stage-history, credit-status, contact, recommendation and audit
    rows: one statement per table for the whole import. Each table's rows are made while they are sent, so on
    PostgreSQL the server files one row into the table's indexes while the next ones are being made, instead
    of the two taking turns (the server's work is most of the commit: 24 indexes on the enterprises)."""
    if not rows:
        return

    def enterprise_rows() -> Iterator[dict[str, Any]]:
        for done, r in enumerate(rows, start=1):
            yield _enterprise_row(r.values, batch.id, now, by_id)
            if progress is not None and (done % CHUNK == 0 or done == len(rows)):
                progress(done)

    ids = insert_returning_ids(Enterprise.__table__, enterprise_rows(), len(rows))
    from crm.pipeline.models import StageChange

    copy_rows(
        StageChange.__table__,
        (
            {
                "enterprise_id": i,
                "from_stage": None,
                "to_stage": "candidate",
                "changed_at": now,
                "changed_by_id": by_id,
                "comment": "",
                "override_reason": None,
                "data": None,
            }
            for i in ids
        ),
    )
    today = local_today()
    source = f"导入：{batch.filename}"[:200]
    copy_rows(
        CreditStatusChange.__table__,
        (
            {
                "enterprise_id": i,
                "status": _credit_status(r.values),
                "effective_on": today,
                "source": source,
                "note": "",
                "recorded_by_id": by_id,
                "created_at": now,
                "updated_at": now,
            }
            for i, r in zip(ids, rows, strict=True)
        ),
    )
    type_links, category_links, recommendations = [], [], []
    for enterprise_id, r in zip(ids, rows, strict=True):
        v = r.values
        type_links += [{"enterprise_id": enterprise_id, "business_type_id": t} for t in v.get("business_types", [])]
        category_links += [{"enterprise_id": enterprise_id, "key_category_id": c} for c in v.get("categories", [])]
        if v.get("unit_id"):
            recommendations.append(_recommendation_row(enterprise_id, v, batch.id, now, by_id))
    if type_links:
        db.session.execute(insert(enterprise_business_types), type_links)
    if category_links:
        db.session.execute(insert(enterprise_key_categories), category_links)
    copy_rows(
        Contact.__table__,
        (
            _contact_row(i, r.values["contact"], batch.id, now, primary=True)
            for i, r in zip(ids, rows, strict=True)
            if r.values.get("contact")
        ),
    )
    _insert_recommendations(recommendations, rows_by_enterprise=dict(zip(ids, rows, strict=True)))
    label = _actor_label(by_id)
    summary = f"{batch.filename}"[:500]
    copy_rows(
        AuditLog.__table__,
        (
            {
                "created_at": now,
                "actor_id": by_id,
                "actor_label": label,
                "ip": None,
                "action": AuditAction.IMPORT,
                "record_type": "Enterprise",
                "record_id": str(i),
                "enterprise_id": i,
                "summary": summary,
                "changes": {"import": batch.id},
            }
            for i in ids
        ),
    )


def _credit_status(v: dict[str, Any]) -> CreditStatus:
    return CreditStatus(v.get("credit_status", CreditStatus.REGULAR.value))


def _enterprise_row(v: dict[str, Any], batch_id: int, now: datetime, by_id: int | None) -> dict[str, Any]:
    priority = v.get("priority") if v.get("unit_id") else None
    credit_status = _credit_status(v)
    return {
        "name": v["name"],
        "name_key": name_key(v["name"]),
        "uscc": v["uscc"],
        "customs_code": v.get("customs_code") or None,
        "area_id": v["area_id"],
        "office_id": v.get("office_id"),
        "industry": v.get("industry", ""),
        "target_tier": TargetTier(v.get("target_tier", TargetTier.AEO_ADVANCED.value)),
        "trade_value": Decimal(v["trade_value"]) if v.get("trade_value") is not None else None,
        "employees": v.get("employees"),
        "address": v.get("address", ""),
        "credit_status": credit_status,
        "priority": Priority(priority) if priority else None,
        "priority_set_by_hand": False,
        "commerce_officer_id": None,
        "customs_officer_id": None,
        "coordinator_id": None,
        "notes": v.get("notes", ""),
        "stage": "candidate",
        "stage_entered_at": now,
        "incentives_suspended": credit_status.is_discredited,
        "import_batch_id": batch_id,
        "created_at": now,
        "updated_at": now,
        "created_by_id": by_id,
        "updated_by_id": by_id,
    }


def _actor_label(by_id: int | None) -> str:
    from crm.auth.models import User

    return actor_for(db.session.get(User, by_id) if by_id else None).label[:120]


def _contact_row(enterprise_id: int, contact: dict, batch_id: int, now: datetime, *, primary: bool) -> dict:
    return {
        "enterprise_id": enterprise_id,
        "name": contact.get("name") or "",
        "role": ContactRole.LIAISON,
        "title": contact.get("title", ""),
        "mobile": contact.get("mobile", ""),
        "phone": contact.get("phone", ""),
        "email": contact.get("email", ""),
        "is_primary": primary,
        "import_batch_id": batch_id,
        "created_at": now,
        "updated_at": now,
    }


def _recommendation_row(enterprise_id: int, v: dict, batch_id: int, now: datetime, by_id: int | None) -> dict:
    return {
        "enterprise_id": enterprise_id,
        "unit_id": v["unit_id"],
        "recommended_by_id": by_id,
        "recommended_on": date.fromisoformat(v["recommended_on"]),
        "reason": v.get("reason", ""),
        "priority": Priority(v.get("priority", "B")),
        "import_batch_id": batch_id,
        "created_at": now,
        "updated_at": now,
    }


def _insert_recommendations(rows: list[dict], rows_by_enterprise: dict[int, RowResult]) -> None:
    if not rows:
        return
    ids = insert_returning_ids(Recommendation.__table__, rows, len(rows))
    links = []
    for recommendation_id, row in zip(ids, rows, strict=True):
        result = rows_by_enterprise.get(row["enterprise_id"])
        for category_id in result.values.get("categories", []) if result else []:
            links.append({"recommendation_id": recommendation_id, "key_category_id": category_id})
    if links:
        db.session.execute(insert(recommendation_key_categories), links)


#: Enterprise fields an import may fill when they are empty on a record already in the CRM.
FILLABLE = ("customs_code", "office_id", "industry", "address", "trade_value", "employees")


def _fill_existing(
    batch: EnterpriseImport, rows: list[RowResult], *, now: datetime, by_id: int | None
) -> dict[str, dict[str, Any]]:
    """Fill empty fields of enterprises already in the CRM (through the ORM, so each change is audited).

    Also adds the row's contact when the enterprise has none, and its recommendation when that unit has not
    recommended it yet. Returns {enterprise id: {field: value filled}} for undo.
    """
    from sqlalchemy.orm import selectinload

    from crm.reference.models import CustomsOffice

    filled: dict[str, dict[str, Any]] = {}
    by_id_rows = {r.existing_id: r for r in _may_fill(rows)}
    for chunk in _chunks(list(by_id_rows)):
        enterprises = db.session.scalars(
            select(Enterprise)
            .where(Enterprise.id.in_(chunk))
            .options(
                selectinload(Enterprise.contacts),
                selectinload(Enterprise.recommendations),
                selectinload(Enterprise.business_types),
                selectinload(Enterprise.categories),
                selectinload(Enterprise.office),
            )
        ).all()
        for enterprise in enterprises:
            v = by_id_rows[enterprise.id].values
            changes: dict[str, Any] = {}
            for column in FILLABLE:
                value = v.get(column)
                if value in (None, "", []) or getattr(enterprise, column) not in (None, ""):
                    continue
                if column == "customs_code" and db.session.scalar(
                    select(func.count()).where(Enterprise.customs_code == value)
                ):
                    continue
                if column == "office_id" and office_area_message(db.session.get(CustomsOffice, value), enterprise.area):
                    continue
                setattr(enterprise, column, Decimal(value) if column == "trade_value" else value)
                changes[column] = value
            if v.get("contact") and not enterprise.contacts:
                db.session.add(
                    Contact(enterprise=enterprise, **_contact_fields(v["contact"]), import_batch_id=batch.id)
                )
                changes["contact"] = True
            if v.get("unit_id") and all(r.unit_id != v["unit_id"] for r in enterprise.recommendations):
                row = _recommendation_row(enterprise.id, v, batch.id, now, by_id)
                row.pop("enterprise_id")
                enterprise.recommendations.append(Recommendation(**row))
                if not enterprise.priority_set_by_hand:
                    from crm.enterprises.services import highest_priority

                    enterprise.priority = highest_priority(enterprise.recommendations)
                changes["recommendation"] = True
            if changes:
                enterprise.updated_by_id = by_id
                filled[str(enterprise.id)] = changes
        db.session.flush()
    return filled


def _may_fill(rows: list[RowResult]) -> list[RowResult]:
    """The rows that may fill something, found by three column queries per chunk: an empty field of the
    enterprise the row has a value for, a contact when the enterprise has none, a recommendation from a unit
    that has not recommended it. Most rows of a re-import fill nothing and are not loaded at all."""
    columns = [getattr(Enterprise, column) for column in FILLABLE]
    candidates: list[RowResult] = []
    for chunk in _chunks(rows):
        ids = [r.existing_id for r in chunk]
        current = {
            row.id: row for row in db.session.execute(select(Enterprise.id, *columns).where(one_of(Enterprise.id, ids)))
        }
        with_contact = [r.existing_id for r in chunk if r.values.get("contact")]
        has_contact = (
            set(db.session.scalars(select(Contact.enterprise_id).where(one_of(Contact.enterprise_id, with_contact))))
            if with_contact
            else set()
        )
        with_unit = [r.existing_id for r in chunk if r.values.get("unit_id")]
        recommended = (
            {
                (enterprise_id, unit_id)
                for enterprise_id, unit_id in db.session.execute(
                    select(Recommendation.enterprise_id, Recommendation.unit_id).where(
                        one_of(Recommendation.enterprise_id, with_unit)
                    )
                )
            }
            if with_unit
            else set()
        )
        for r in chunk:
            enterprise = current.get(r.existing_id)
            if enterprise is None:
                continue
            v = r.values
            if (
                any(
                    v.get(column) not in (None, "", []) and getattr(enterprise, column) in (None, "")
                    for column in FILLABLE
                )
                or (v.get("contact") and r.existing_id not in has_contact)
                or (v.get("unit_id") and (r.existing_id, v["unit_id"]) not in recommended)
            ):
                candidates.append(r)
    return candidates


def _contact_fields(contact: dict) -> dict:
    return {
        "name": contact.get("name") or "",
        "role": ContactRole.LIAISON,
        "title": contact.get("title", ""),
        "mobile": contact.get("mobile", ""),
        "phone": contact.get("phone", ""),
        "email": contact.get("email", ""),
        "is_primary": True,
    }


# --- error report ------------------------------------------------------------------------------------------


def write_error_report(headers: list[str], rejected: Iterable[RowResult], path: str) -> int:
    """An XLSX of the rejected rows as they were, with the row number and a reason column."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "default_date_format": "yyyy-mm-dd"})
    try:
        sheet = workbook.add_worksheet("未导入的行")
        bold = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        wrap = workbook.add_format({"text_wrap": True, "font_color": "#C00000"})
        sheet.write_row(0, 0, ["原行号", "错误原因", *headers], bold)
        sheet.freeze_panes(1, 2)
        sheet.set_column(0, 0, 8)
        sheet.set_column(1, 1, 50)
        sheet.set_column(2, 2 + len(headers), 18)
        count = 0
        for count, result in enumerate(rejected, start=1):
            sheet.write_number(count, 0, result.row_number)
            sheet.write_string(count, 1, "；".join(result.errors), wrap)
            for col, value in enumerate(result.raw):
                if value is None:
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if abs(value) >= 1e15:
                        sheet.write_string(count, 2 + col, str(value))
                    else:
                        sheet.write_number(count, 2 + col, value)
                else:
                    sheet.write_string(count, 2 + col, str(value))
        return count
    finally:
        workbook.close()


def store_error_report(batch: EnterpriseImport, analysis: Analysis, user: Any = None) -> None:
    """Keep the error report of an import in the file store (none when no row was rejected)."""
    import os
    import tempfile

    from crm.core.files import XLSX, store_bytes_from

    rejected = analysis.rejected
    if not rejected:
        batch.error_report_id = None
        return
    fd, path = tempfile.mkstemp(prefix="crm-import-errors-", suffix=".xlsx")
    os.close(fd)
    try:
        write_error_report(batch.headers or [], rejected, path)
        with open(path, "rb") as fh:
            stored = store_bytes_from(
                fh,
                filename=f"{batch.filename.rsplit('.', 1)[0]}-未导入的行.xlsx",
                kind=XLSX,
                owner_type="enterprise_import_errors",
                owner_id=batch.id,
                enterprise_id=None,
                uploaded_by=user,
            )
        batch.error_report_id = stored.id
    finally:
        os.unlink(path)


# --- undo --------------------------------------------------------------------------------------------------


def undo_blockers(batch: EnterpriseImport) -> list[str]:
    """Why an import cannot be undone (empty when it can): something attached to what it created."""
    from crm.enterprises.related import attached_counts

    if batch.status != ImportStatus.COMMITTED:
        return [_("Only a completed import can be undone.")]
    created = select(Enterprise.id).where(Enterprise.import_batch_id == batch.id)
    problems = []
    changed = db.session.scalar(
        select(func.count())
        .select_from(Enterprise)
        .where(Enterprise.import_batch_id == batch.id, Enterprise.updated_at > batch.committed_at)
    )
    if changed:
        problems.append(_("%(n)s of the imported enterprises were changed since.", n=changed))
    for label, count in attached_counts(created, import_batch_id=batch.id):
        problems.append(_("%(what)s: %(n)s", what=label, n=count))
    return problems


def undo(batch: EnterpriseImport, *, by: Any = None) -> int:
    """Delete what the import created and clear what it filled; returns the enterprises removed."""
    problems = undo_blockers(batch)
    if problems:
        raise ImportRefusedError("; ".join(problems))
    created_ids = list(db.session.scalars(select(Enterprise.id).where(Enterprise.import_batch_id == batch.id)))
    db.session.execute(delete(Contact).where(Contact.import_batch_id == batch.id))
    db.session.execute(delete(Recommendation).where(Recommendation.import_batch_id == batch.id))
    for enterprise_id, fields in (batch.filled_fields or {}).items():
        values = {
            column: None if column in ("customs_code", "office_id", "trade_value", "employees") else ""
            for column in fields
            if column in FILLABLE
        }
        if values:
            db.session.execute(update(Enterprise).where(Enterprise.id == int(enterprise_id)).values(**values))
        if "recommendation" in fields:
            _refresh_priority(int(enterprise_id))
    for chunk in _chunks(created_ids):
        db.session.execute(delete(Enterprise).where(Enterprise.id.in_(chunk)))
    batch.status = ImportStatus.UNDONE
    batch.undone_at = utcnow()
    batch.undone_by_id = getattr(by, "id", None)
    record_event(
        AuditAction.DELETE,
        f"Enterprise import {batch.id} ({batch.filename}) undone: {len(created_ids)} enterprises removed",
        record=batch,
        details={"removed": len(created_ids), "cleared": len(batch.filled_fields or {})},
        actor=actor_for(by),
    )
    db.session.expire_all()
    return len(created_ids)


def _refresh_priority(enterprise_id: int) -> None:
    """After removing an imported recommendation, the priority follows the remaining ones again."""
    from crm.enterprises.services import highest_priority

    enterprise = db.session.get(Enterprise, enterprise_id)
    if enterprise is not None and not enterprise.priority_set_by_hand:
        db.session.expire(enterprise, ["recommendations"])
        enterprise.priority = highest_priority(enterprise.recommendations)
        db.session.flush()


# --- running an import (UI job and CLI) ------------------------------------------------------------------------


def language_of(user: Any) -> str:
    return getattr(user, "language", None) or current_app.config.get("CRM_DEFAULT_LANGUAGE", "zh_CN")


def start_import(fh: IO[bytes], *, filename: str, kind: str, table: Table, user: Any) -> EnterpriseImport:
    """An uploaded file (already checked and read into ``table``) stored with its import, which waits for its
    column mapping (a first guess from the headings)."""
    from crm.core.files import store_bytes_from

    stored = store_bytes_from(
        fh,
        filename=filename,
        kind=kind,
        owner_type="enterprise_import",
        owner_id=None,
        enterprise_id=None,
        uploaded_by=user,
    )
    batch = EnterpriseImport(
        filename=filename,
        file_id=stored.id,
        kind=kind,
        created_by_id=user.id,
        sheet=table.sheet,
        header_row=table.header_row,
        headers=table.headers,
        mapping=guess_mapping(table.headers),
        total_rows=len(table.rows),
    )
    db.session.add(batch)
    db.session.flush()
    stored.owner_id = batch.id
    return batch


def read_batch_table(batch: EnterpriseImport, fh: IO[bytes]) -> Table:
    from crm.enterprises.spreadsheets import read_table

    return read_table(fh, batch.kind, match_header, REQUIRED_FIELDS)


def batch_user(batch: EnterpriseImport) -> Any:
    return batch.created_by
