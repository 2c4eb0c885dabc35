"""Standard catalogs: reading a version from YAML or XLSX, validating it whole, and writing it to the database.

One format (described in the README, "Importing a standard") in two spellings: a YAML document, or a
workbook with a ``version`` sheet (key/value rows), an ``items`` sheet (one row per 项) and an optional
``financial`` sheet (one row per ratio). Both are read into the same dictionary, validated in full, and only
then applied, so a broken file changes nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import yaml
from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from crm.enterprises.models import TargetTier
from crm.extensions import db
from crm.plans.models import cultivation_task_items
from crm.reference.models import BusinessType
from crm.standards.models import (
    Assessment,
    AssessmentResult,
    StandardCategory,
    StandardClause,
    StandardItem,
    StandardVersion,
)
from crm.standards.rules import DEFAULT_RULES, FINANCIAL_GROUPS, OPERATORS, RATIO_KINDS

DATA_DIR = Path(__file__).resolve().parent / "data"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
COMPUTED_KINDS = ("audit_opinion", "solvency", "profitability")
RULE_INT_KEYS = ("base", "pass_line", "bonus_per_item", "bonus_cap", "max_basic")
MAX_ITEMS = 2000


class CatalogError(ValueError):
    """A catalog that cannot be imported; ``errors`` lists every problem found, in the user's language."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# --- reading ----------------------------------------------------------------------------------------------


def read_yaml(stream: IO[bytes] | bytes | str) -> dict[str, Any]:
    raw = stream if isinstance(stream, (bytes, str)) else stream.read()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _("line %(line)s", line=mark.line + 1) if mark is not None else ""
        raise CatalogError([_("The YAML cannot be read (%(where)s): %(problem)s", where=where, problem=exc)]) from None
    if not isinstance(data, dict):
        raise CatalogError([_("The file must describe one standard version (a mapping with code, title, categories).")])
    return data


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, datetime):
        return value.date()
    return value


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in re.split(r"[,，、;；\s]+", str(value)) if part.strip()]


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "y", "是", "x"} if value is not None else False


ITEM_COLUMNS = (
    "category_code",
    "category_zh",
    "category_en",
    "clause_number",
    "clause_zh",
    "clause_en",
    "item_number",
    "title_zh",
    "title_en",
    "guidance",
    "business_types",
    "computed_from",
    "bonus",
)


def read_xlsx(stream: IO[bytes]) -> dict[str, Any]:
    """Read the workbook spelling of the format into the same dictionary the YAML spelling gives."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(stream.read()), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise CatalogError([_("The workbook cannot be read; save it again as .xlsx.")]) from None
    sheets = {name.strip().lower(): workbook[name] for name in workbook.sheetnames}
    errors = [
        _('The workbook has no sheet named "%(name)s".', name=name)
        for name in ("version", "items")
        if name not in sheets
    ]
    if errors:
        raise CatalogError(errors)

    data: dict[str, Any] = {"rules": {}}
    for row in sheets["version"].iter_rows(values_only=True):
        if not row or _cell(row[0]) is None:
            continue
        key, value = str(row[0]).strip(), _cell(row[1]) if len(row) > 1 else None
        if key in RULE_INT_KEYS or key == "no_fail":
            data["rules"][key] = _truthy(value) if key == "no_fail" else value
        elif key == "max_basic_categories":
            data["rules"][key] = _split(value)
        elif key in ("score_pass", "score_basic", "score_fail"):
            data["rules"].setdefault("scores", {})[key.removeprefix("score_")] = value
        elif key in ("met_for_pass", "met_for_basic"):
            data["rules"].setdefault("financial", {})[key] = value
        else:
            data[key] = value

    rows = list(sheets["items"].iter_rows(values_only=True))
    if not rows:
        raise CatalogError([_("The items sheet is empty.")])
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    missing = [c for c in ("category_code", "clause_number", "item_number", "title_zh") if c not in header]
    if missing:
        raise CatalogError([_("The items sheet lacks the columns: %(columns)s.", columns=", ".join(missing))])
    categories: dict[str, dict[str, Any]] = {}
    clauses: dict[tuple[str, Any], dict[str, Any]] = {}
    for values in rows[1:]:
        row = {name: _cell(values[i]) if i < len(values) else None for i, name in enumerate(header) if name}
        if all(v is None for v in row.values()):
            continue
        code = str(row.get("category_code") or "")
        category = categories.get(code)
        if category is None:
            category = categories[code] = {
                "code": code,
                "name_zh": row.get("category_zh"),
                "name_en": row.get("category_en") or "",
                "bonus": False,
                "clauses": [],
            }
        key = (code, row.get("clause_number"))
        clause = clauses.get(key)
        if clause is None:
            clause = clauses[key] = {
                "number": row.get("clause_number"),
                "title_zh": row.get("clause_zh"),
                "title_en": row.get("clause_en") or "",
                "items": [],
            }
            category["clauses"].append(clause)
        if _truthy(row.get("bonus")):
            category["bonus"] = True
        clause["items"].append(
            {
                "number": row.get("item_number"),
                "title_zh": row.get("title_zh"),
                "title_en": row.get("title_en") or "",
                "guidance": row.get("guidance") or "",
                "business_types": _split(row.get("business_types")),
                "computed_from": row.get("computed_from"),
            }
        )
    data["categories"] = list(categories.values())

    if "financial" in sheets:
        financial = data["rules"].setdefault("financial", {})
        frows = list(sheets["financial"].iter_rows(values_only=True))
        fheader = [str(h).strip().lower() if h is not None else "" for h in (frows[0] if frows else [])]
        for values in frows[1:]:
            row = {name: _cell(values[i]) if i < len(values) else None for i, name in enumerate(fheader) if name}
            if not row.get("group"):
                continue
            spec: dict[str, Any] = {"ratio": row.get("ratio"), "op": row.get("op")}
            if row.get("value") is not None:
                spec["value"] = row["value"]
            else:
                spec["production"] = row.get("production")
                spec["non_production"] = row.get("non_production")
            financial.setdefault(str(row["group"]), []).append(spec)
    return data


def read_catalog(stream: IO[bytes], filename: str) -> dict[str, Any]:
    name = filename.lower()
    if name.endswith((".yaml", ".yml")):
        return read_yaml(stream)
    if name.endswith(".xlsx"):
        return read_xlsx(stream)
    raise CatalogError([_("Upload a .yaml, .yml or .xlsx file.")])


# --- validation -------------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def validate_catalog(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a catalog completely and return it normalised; raise CatalogError listing every problem."""
    errors: list[str] = []
    out: dict[str, Any] = {}

    code = str(data.get("code") or "").strip()
    if not CODE_PATTERN.match(code):
        errors.append(_("code: use 1 to 40 letters, digits, dots, hyphens or underscores."))
    out["code"] = code
    title = str(data.get("title") or "").strip()
    if not title or len(title) > 200:
        errors.append(_("title: a title of at most 200 characters is required."))
    out["title"] = title
    out["instrument"] = str(data.get("instrument") or "").strip()[:200]
    out["note"] = str(data.get("note") or "").strip()
    effective = data.get("effective_on")
    if isinstance(effective, datetime):
        effective = effective.date()
    if isinstance(effective, str) and effective.strip():
        try:
            effective = date.fromisoformat(effective.strip())
        except ValueError:
            errors.append(_("effective_on: use a date in the form YYYY-MM-DD."))
            effective = None
    elif effective is not None and not isinstance(effective, date):
        errors.append(_("effective_on: use a date in the form YYYY-MM-DD."))
        effective = None
    out["effective_on"] = effective or None
    tier = str(data.get("tier") or "").strip()
    if tier not in {t.value for t in TargetTier}:
        errors.append(_("tier: use one of %(values)s.", values=", ".join(t.value for t in TargetTier)))
    out["tier"] = tier

    known_types = set(db.session.scalars(select(BusinessType.code)))
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        errors.append(_("categories: at least one category is required."))
        categories = []
    category_codes: set[str] = set()
    clause_numbers: set[int] = set()
    item_numbers: set[int] = set()
    computed_seen: dict[str, int] = {}
    out_categories = []
    for ci, category in enumerate(categories, start=1):
        where = _("category %(n)s", n=ci)
        if not isinstance(category, dict):
            errors.append(_("%(where)s: must be a mapping.", where=where))
            continue
        ccode = str(category.get("code") or "").strip()
        if not CODE_PATTERN.match(ccode):
            errors.append(_("%(where)s: the code is missing or invalid.", where=where))
        elif ccode in category_codes:
            errors.append(_("%(where)s: the code %(code)s is used twice.", where=where, code=ccode))
        category_codes.add(ccode)
        name_zh = str(category.get("name_zh") or "").strip()
        if not name_zh:
            errors.append(_("%(where)s: name_zh is required.", where=where))
        is_bonus = bool(category.get("bonus", False))
        out_clauses = []
        clauses = category.get("clauses")
        if not isinstance(clauses, list) or not clauses:
            errors.append(_("%(where)s: at least one clause is required.", where=where))
            clauses = []
        for clause in clauses:
            if not isinstance(clause, dict):
                errors.append(_("%(where)s: each clause must be a mapping.", where=where))
                continue
            number = _int(clause.get("number"))
            if number is None or number < 1:
                errors.append(_("%(where)s: a clause has no valid number.", where=where))
                continue
            cwhere = _("clause %(n)s", n=number)
            if number in clause_numbers:
                errors.append(_("%(where)s: the number is used twice.", where=cwhere))
            clause_numbers.add(number)
            if not str(clause.get("title_zh") or "").strip():
                errors.append(_("%(where)s: title_zh is required.", where=cwhere))
            out_items = []
            items = clause.get("items")
            if not isinstance(items, list) or not items:
                errors.append(_("%(where)s: at least one item is required.", where=cwhere))
                items = []
            for item in items:
                if not isinstance(item, dict):
                    errors.append(_("%(where)s: each item must be a mapping.", where=cwhere))
                    continue
                inumber = _int(item.get("number"))
                if inumber is None or inumber < 1:
                    errors.append(_("%(where)s: an item has no valid number.", where=cwhere))
                    continue
                iwhere = _("item %(n)s", n=inumber)
                if inumber in item_numbers:
                    errors.append(_("%(where)s: the number is used twice.", where=iwhere))
                item_numbers.add(inumber)
                title_zh = str(item.get("title_zh") or "").strip()
                if not title_zh:
                    errors.append(_("%(where)s: title_zh is required.", where=iwhere))
                types = item.get("business_types") or []
                if isinstance(types, str):
                    types = _split(types)
                unknown = sorted(set(map(str, types)) - known_types)
                if unknown:
                    errors.append(
                        _("%(where)s: unknown business types %(codes)s.", where=iwhere, codes=", ".join(unknown))
                    )
                computed = item.get("computed_from") or None
                if computed is not None:
                    computed = str(computed).strip()
                    if computed not in COMPUTED_KINDS:
                        errors.append(
                            _(
                                "%(where)s: computed_from must be one of %(values)s.",
                                where=iwhere,
                                values=", ".join(COMPUTED_KINDS),
                            )
                        )
                    elif computed in computed_seen:
                        errors.append(
                            _("%(where)s: only one item may be computed from %(kind)s.", where=iwhere, kind=computed)
                        )
                    computed_seen.setdefault(computed, inumber)
                out_items.append(
                    {
                        "number": inumber,
                        "title_zh": title_zh,
                        "title_en": str(item.get("title_en") or "").strip(),
                        "guidance": str(item.get("guidance") or "").strip(),
                        "business_types": [str(t) for t in types],
                        "computed_from": computed,
                    }
                )
            out_clauses.append(
                {
                    "number": number,
                    "title_zh": str(clause.get("title_zh") or "").strip()[:100],
                    "title_en": str(clause.get("title_en") or "").strip()[:150],
                    "items": out_items,
                }
            )
        out_categories.append(
            {
                "code": ccode,
                "name_zh": name_zh[:100],
                "name_en": str(category.get("name_en") or "").strip()[:100],
                "bonus": is_bonus,
                "clauses": out_clauses,
            }
        )
    if len(item_numbers) > MAX_ITEMS:
        errors.append(_("A version may have at most %(n)s items.", n=MAX_ITEMS))
    out["categories"] = out_categories
    out["rules"] = _validate_rules(data.get("rules"), category_codes, computed_seen, errors)
    if errors:
        raise CatalogError(errors)
    return out


def _validate_rules(
    rules: Any, category_codes: set[str], computed: Mapping[str, int], errors: list[str]
) -> dict[str, Any]:
    if rules is None:
        rules = {}
    if not isinstance(rules, dict):
        errors.append(_("rules: must be a mapping."))
        return dict(DEFAULT_RULES)
    out: dict[str, Any] = {}
    for key in RULE_INT_KEYS:
        value = rules.get(key, DEFAULT_RULES[key])
        if value is None and key in ("max_basic", "bonus_cap"):
            out[key] = None
            continue
        number = _int(value)
        if number is None or number < 0:
            errors.append(_("rules.%(key)s: a whole number of at least 0 is required.", key=key))
        out[key] = number
    out["no_fail"] = bool(rules.get("no_fail", True))
    scores = rules.get("scores") or {}
    out["scores"] = {}
    for judgement in ("pass", "basic", "fail"):
        number = _int(scores.get(judgement, DEFAULT_RULES["scores"][judgement]))
        if number is None:
            errors.append(_("rules.scores.%(key)s: a whole number is required.", key=judgement))
        out["scores"][judgement] = number
    limited = rules.get("max_basic_categories", DEFAULT_RULES["max_basic_categories"]) or []
    if isinstance(limited, str):
        limited = _split(limited)
    unknown = sorted(set(map(str, limited)) - category_codes)
    if unknown:
        errors.append(_("rules.max_basic_categories: no category has the code %(codes)s.", codes=", ".join(unknown)))
    out["max_basic_categories"] = [str(c) for c in limited]

    financial = rules.get("financial") or {}
    if not isinstance(financial, dict):
        errors.append(_("rules.financial: must be a mapping."))
        financial = {}
    out_financial: dict[str, Any] = {}
    for key, default in (("met_for_pass", 2), ("met_for_basic", 1)):
        number = _int(financial.get(key, default))
        if number is None or number < 0:
            errors.append(_("rules.financial.%(key)s: a whole number of at least 0 is required.", key=key))
        out_financial[key] = number
    for group in FINANCIAL_GROUPS:
        specs = financial.get(group) or []
        if group in computed and not specs:
            errors.append(_("rules.financial.%(group)s: an item is computed from it, so list its ratios.", group=group))
        out_specs = []
        for spec in specs if isinstance(specs, list) else []:
            ratio = str((spec or {}).get("ratio") or "")
            where = f"rules.financial.{group}.{ratio or '?'}"
            if ratio not in RATIO_KINDS:
                errors.append(
                    _("%(where)s: unknown ratio; use one of %(values)s.", where=where, values=", ".join(RATIO_KINDS))
                )
                continue
            op = str(spec.get("op") or "")
            if op not in OPERATORS:
                errors.append(_("%(where)s: op must be one of %(values)s.", where=where, values=" ".join(OPERATORS)))
            entry: dict[str, Any] = {"ratio": ratio, "op": op}
            if spec.get("value") is not None:
                value = _number(spec["value"])
                if value is None:
                    errors.append(_("%(where)s: value must be a number.", where=where))
                entry["value"] = value
            else:
                for key in ("production", "non_production"):
                    value = _number(spec.get(key))
                    if value is None:
                        errors.append(_("%(where)s: give value, or both production and non_production.", where=where))
                        break
                    entry[key] = value
            out_specs.append(entry)
        if out_specs:
            out_financial[group] = out_specs
    out["financial"] = out_financial
    return out


# --- writing ----------------------------------------------------------------------------------------------


def _item_in_use(item_id: int) -> bool:
    return bool(
        db.session.scalar(select(exists().where(AssessmentResult.item_id == item_id)))
        or db.session.scalar(select(exists().where(cultivation_task_items.c.item_id == item_id)))
    )


def apply_catalog(data: Mapping[str, Any], *, replace: bool = False) -> tuple[StandardVersion, bool]:
    """Write a validated catalog. A new code creates a version; an existing one is refused unless ``replace``,
    which updates it in place (items keep their identity by number, so assessments stay attached) and marks it
    unverified again. Returns (version, created)."""
    version = db.session.scalars(select(StandardVersion).where(StandardVersion.code == data["code"])).first()
    created = version is None
    if version is not None and not replace:
        raise CatalogError(
            [_("A version with the code %(code)s exists already; choose to replace it.", code=data["code"])]
        )
    types = {t.code: t for t in db.session.scalars(select(BusinessType))}
    if version is None:
        version = StandardVersion(code=data["code"])
        db.session.add(version)
    version.title = data["title"]
    version.instrument = data["instrument"]
    version.effective_on = data["effective_on"]
    version.tier = TargetTier(data["tier"])
    version.note = data["note"]
    version.rules = data["rules"]
    version.is_verified = False
    version.verified_at = None
    version.verified_by_id = None
    db.session.flush()

    categories = {c.code: c for c in version.categories}
    clauses = {cl.number: cl for c in version.categories for cl in c.clauses}
    items = {i.number: i for i in version.items}
    seen_items: set[int] = set()
    seen_clauses: set[int] = set()
    for order, cdata in enumerate(data["categories"], start=1):
        category = categories.get(cdata["code"])
        if category is None:
            category = StandardCategory(version=version, code=cdata["code"])
            db.session.add(category)
        category.name_zh, category.name_en = cdata["name_zh"], cdata["name_en"]
        category.sort_order, category.is_bonus = order * 10, cdata["bonus"]
        db.session.flush()
        for cldata in cdata["clauses"]:
            clause = clauses.get(cldata["number"])
            if clause is None:
                clause = StandardClause(number=cldata["number"])
                db.session.add(clause)
            clause.category = category
            clause.title_zh, clause.title_en = cldata["title_zh"], cldata["title_en"]
            seen_clauses.add(cldata["number"])
            db.session.flush()
            for idata in cldata["items"]:
                item = items.get(idata["number"])
                if item is None:
                    item = StandardItem(version=version, number=idata["number"])
                    db.session.add(item)
                item.clause = clause
                item.title_zh, item.title_en = idata["title_zh"], idata["title_en"]
                item.guidance = idata["guidance"]
                item.is_bonus = cdata["bonus"]
                item.computed_from = idata["computed_from"]
                item.business_types = [types[code] for code in idata["business_types"]]
                seen_items.add(idata["number"])
    db.session.flush()
    in_use = []
    for number, item in items.items():
        if number not in seen_items:
            if _item_in_use(item.id):
                in_use.append(number)
            else:
                db.session.delete(item)
    if in_use:
        raise CatalogError(
            [
                _(
                    "Items %(numbers)s are used by assessments or tasks and cannot be removed.",
                    numbers=", ".join(map(str, sorted(in_use))),
                )
            ]
        )
    db.session.flush()
    for number, clause in clauses.items():
        if number not in seen_clauses:
            db.session.delete(clause)
    db.session.flush()
    wanted = {c["code"] for c in data["categories"]}
    for code, category in categories.items():
        if code not in wanted:
            db.session.delete(category)
    db.session.flush()
    db.session.expire(version)
    return version, created


def import_catalog(data: Mapping[str, Any], *, replace: bool = False) -> tuple[StandardVersion, bool]:
    """Validate then write, inside a savepoint: on any error nothing is changed and CatalogError is raised."""
    clean = validate_catalog(data)
    savepoint = db.session.begin_nested()
    try:
        result = apply_catalog(clean, replace=replace)
    except Exception:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def export_catalog(version: StandardVersion) -> dict[str, Any]:
    """A version as the import format (for editing and re-importing)."""
    return {
        "code": version.code,
        "title": version.title,
        "instrument": version.instrument,
        "effective_on": version.effective_on,
        "tier": version.tier.value,
        "note": version.note,
        "rules": version.rules,
        "categories": [
            {
                "code": category.code,
                "name_zh": category.name_zh,
                "name_en": category.name_en,
                "bonus": category.is_bonus,
                "clauses": [
                    {
                        "number": clause.number,
                        "title_zh": clause.title_zh,
                        "title_en": clause.title_en,
                        "items": [
                            {
                                k: v
                                for k, v in {
                                    "number": item.number,
                                    "title_zh": item.title_zh,
                                    "title_en": item.title_en,
                                    "guidance": item.guidance,
                                    "business_types": [t.code for t in item.business_types],
                                    "computed_from": item.computed_from,
                                }.items()
                                if v not in (None, "", [])
                            }
                            for item in version.items
                            if item.clause_id == clause.id
                        ],
                    }
                    for clause in category.clauses
                ],
            }
            for category in version.categories
        ],
    }


def dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False, width=120)


def seed_standards(update: bool = False) -> int:
    """Load the shipped standard versions from ``data/``; an existing version is replaced only with ``update``."""
    created = 0
    for path in sorted(DATA_DIR.glob("*.yaml")):
        with path.open("rb") as fh:
            data = read_yaml(fh)
        exists_already = db.session.scalar(
            select(func.count(StandardVersion.id)).where(StandardVersion.code == data.get("code"))
        )
        if exists_already and not update:
            continue
        _version, new = import_catalog(data, replace=True)
        created += new
    return created


def version_in_use(version: StandardVersion) -> bool:
    return bool(db.session.scalar(select(exists().where(Assessment.version_id == version.id))))
