"""Resolving ``"module:attribute"`` references, so registries can name other features' code without
importing it at start-up (which would create import cycles between feature packages)."""

from __future__ import annotations

from importlib import import_module
from typing import Any


def resolve(target: Any) -> Any:
    """A callable or class as given, or the attribute a ``"package.module:name"`` string points at."""
    if not isinstance(target, str):
        return target
    module_name, _sep, attribute = target.partition(":")
    return getattr(import_module(module_name), attribute)
