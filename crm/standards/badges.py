"""The readiness badge as a function, for pages that show it on many rows (the enterprise list): the same
markup as the ``readiness_badge`` macro of ``templates/standards/_readiness.html`` without a macro call per row."""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup, escape

_CLASSES = {"pass": "text-bg-success", "fail": "text-bg-danger", "incomplete": "text-bg-secondary"}


class ReadinessBadges:
    """Badges of one page: the labels are translated once, each (outcome, total) is rendered once."""

    def __init__(self) -> None:
        self.labels = {
            "pass": _("Meets the standard"),
            "fail": _("Falls short"),
            "incomplete": _("Assessment incomplete"),
        }
        self.title = _("Readiness: the latest assessment")
        self.empty = Markup('<span class="badge text-bg-light border readiness-badge">%s</span>') % _("Not assessed")
        self._made: dict[tuple[str | None, int | None], Markup] = {}

    def __call__(self, outcome: str | None, total: int | None) -> Markup:
        key = (outcome, total)
        if key not in self._made:
            self._made[key] = self._make(outcome, total)
        return self._made[key]

    def _make(self, outcome: str | None, total: int | None) -> Markup:
        if not outcome:
            return self.empty
        text = escape(self.labels.get(outcome, outcome))
        if total is not None:
            text += Markup(" · ") + escape(total)
        return Markup('<span class="badge readiness-badge %s" title="%s">%s</span>') % (
            _CLASSES.get(outcome, "text-bg-secondary"),
            self.title,
            text,
        )
