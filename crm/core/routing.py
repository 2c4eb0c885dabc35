"""URL rules whose URL builders are made on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A werkzeug ``Rule`` that makes its two URL-builder functions on its first ``url_for``, not when it is
    added to the map.

    werkzeug writes each rule's builders as a Python syntax tree and compiles it as the rule is added: 0.07 s
    for the app's 263 rules at every start of every process, though a ``flask crm`` command builds a handful
    of URLs if any. The builders are werkzeug's own, made once per rule and process, on first use."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        make = super()._compile_builder
        attribute = "_build_unknown" if append_unknown else "_build"

        def build(rule: Rule, /, **values: Any) -> tuple[str, str]:
            builder = make(append_unknown).__get__(rule, None)
            setattr(rule, attribute, builder)
            return builder(**values)

        return build
