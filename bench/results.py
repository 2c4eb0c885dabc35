"""Figures, the targets they are judged against, the printed table and ``results.json``.

A figure is one measurement (requests per second, a median response time, seconds, megabytes). A target
compares a ratio of two figures of the same run (so the machine's speed cancels out) or one figure with a
fixed bound (memory). A figure that could not be measured has no value, never a made-up one: its status
says why ("not available yet" for a feature not merged, "failed" with the error), and every target that
needs it shows the same status.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MEASURED = "measured"
NOT_AVAILABLE = "not available yet"
FAILED = "failed"

_OPERATORS = {">=": operator.ge, "<=": operator.le}


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    value: float | None = None
    status: str = NOT_AVAILABLE
    #: Why it is missing, or what was measured exactly (the page number, the user).
    note: str = ""
    #: Raw readings (wrk's percentiles, the requests made, per-worker memory).
    detail: dict[str, Any] = field(default_factory=dict)

    def measured(self, value: float, note: str = "", detail: Mapping[str, Any] | None = None) -> Figure:
        if value is None or not math.isfinite(value):
            raise ValueError(f"{self.key}: a measured value must be a finite number, not {value!r}")
        self.value, self.status, self.note = float(value), MEASURED, note
        self.detail.update(detail or {})
        return self

    def missing(self, status: str, note: str) -> Figure:
        self.value, self.status, self.note = None, status, note
        return self


@dataclass(frozen=True)
class Target:
    """``numerator / denominator`` (or the numerator alone when there is no denominator) ``op`` ``bound``."""

    key: str
    label: str
    numerator: str
    denominator: str | None
    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"{self.key}: op must be one of {sorted(_OPERATORS)}, not {self.op!r}")

    @property
    def text(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass
class Check:
    target: Target
    value: float | None
    met: bool | None
    status: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.target.key,
            "label": self.target.label,
            "numerator": self.target.numerator,
            "denominator": self.target.denominator,
            "value": self.value,
            "target": self.target.text,
            "met": self.met,
            "status": self.status,
            "note": self.note,
        }


def evaluate(target: Target, figures: Mapping[str, Figure]) -> Check:
    """The ratio (or figure) of one target, whether it is met, or why it cannot be computed."""
    needed = [target.numerator] + ([target.denominator] if target.denominator else [])
    for key in needed:
        figure = figures.get(key)
        if figure is None:
            return Check(target, None, None, NOT_AVAILABLE, f"{key} is not measured by any registered measurement")
        if figure.status != MEASURED:
            return Check(target, None, None, figure.status, f"{key}: {figure.note}".rstrip(": "))
    value = figures[target.numerator].value
    if target.denominator:
        denominator = figures[target.denominator].value
        if not denominator:
            return Check(target, None, None, FAILED, f"{target.denominator} is zero")
        value = value / denominator
    return Check(target, value, bool(_OPERATORS[target.op](value, target.bound)), MEASURED)


def evaluate_all(targets: Iterable[Target], figures: Mapping[str, Figure]) -> list[Check]:
    return [evaluate(target, figures) for target in targets]


def results_document(meta: Mapping[str, Any], figures: Mapping[str, Figure], checks: list[Check]) -> dict[str, Any]:
    return {
        **meta,
        "figures": {key: asdict(figure) for key, figure in figures.items()},
        "targets": [check.as_dict() for check in checks],
        "summary": {
            "measured": sum(f.status == MEASURED for f in figures.values()),
            "not_available": sum(f.status == NOT_AVAILABLE for f in figures.values()),
            "failed": sum(f.status == FAILED for f in figures.values()),
            "targets_met": sum(c.met is True for c in checks),
            "targets_missed": sum(c.met is False for c in checks),
            "targets_pending": sum(c.met is None for c in checks),
        },
    }


def write_results(path: Path, document: Mapping[str, Any]) -> Path:
    """Write ``document`` as JSON (strict: a NaN or infinity is a bug, not a figure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def render_table(figures: Mapping[str, Figure], checks: list[Check]) -> str:
    """The targets first (ratio, target, verdict), then every figure; missing ones say why."""
    rows = [("target", "value", "target", "verdict")]
    for check in checks:
        if check.status == MEASURED:
            verdict = "met" if check.met else "MISSED"
            value = _number(check.value)
        else:
            verdict, value = check.status, ""
        rows.append((check.target.label, value, check.target.text, verdict))
    rows.append(("", "", "", ""))
    rows.append(("figure", "value", "", "note"))
    for figure in figures.values():
        value = _number(figure.value, figure.unit) if figure.status == MEASURED else figure.status
        rows.append((figure.label, value, "", figure.note))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        if not any(row):
            lines.append("")
            continue
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        if row[0] in ("target", "figure"):
            lines.append("-" * (sum(widths) + 6 + 10))
    return "\n".join(line.rstrip() for line in lines)
