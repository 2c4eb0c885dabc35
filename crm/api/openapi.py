"""The OpenAPI 3.1 document, assembled from the base in this package and each feature's fragment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: Each feature's fragment, listed by hand; a fragment holds ``paths`` and ``components``.
FRAGMENTS = (
    "api",
    "auth",
    "enterprises",
    "standards",
    "plans",
    "notifications",
    "events",
    "visits",
    "pipeline",
    "cohorts",
    "reports",
    "exports",
)


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    document = _load(PACKAGE_ROOT / "api" / "openapi-base.yaml")
    for package in FRAGMENTS:
        path = PACKAGE_ROOT / package / "openapi.yaml"
        if not path.exists():
            continue
        fragment = _load(path)
        for url, operations in (fragment.get("paths") or {}).items():
            if url in document["paths"]:
                raise ValueError(f"OpenAPI path {url} is described twice ({package})")
            document["paths"][url] = operations
        for section, members in (fragment.get("components") or {}).items():
            target = document["components"].setdefault(section, {})
            for name, value in members.items():
                if name in target:
                    raise ValueError(f"OpenAPI component {section}.{name} is described twice ({package})")
                target[name] = value
    return document


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}
