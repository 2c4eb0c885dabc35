"""Sections of the enterprise page, listed by hand in ``DETAIL_SECTIONS``.

The contract for another feature package ``<pkg>``: a function ``crm/<pkg>/queries.py:
enterprise_section_context(enterprise) -> dict`` and a template ``templates/<pkg>/_enterprise_section.html``
rendered with ``enterprise`` plus that dict. Add it with one line: ``package_section("<pkg>")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm.enterprises.registry import resolve


@dataclass(frozen=True)
class DetailSection:
    #: A short identifier, also the section's HTML id (``section-<key>``).
    key: str
    #: The partial template, rendered with ``enterprise`` plus the context function's dict.
    template: str
    #: ``context(enterprise) -> dict``, or a ``"module:function"`` string resolved when the page is shown.
    context: Callable[[Any], dict] | str

    def render_context(self, enterprise: Any) -> dict:
        return dict(resolve(self.context)(enterprise) or {})


def package_section(package: str) -> DetailSection:
    """The section another feature package contributes under the contract above."""
    return DetailSection(
        key=package,
        template=f"{package}/_enterprise_section.html",
        context=f"crm.{package}.queries:enterprise_section_context",
    )


#: The enterprise page's sections, in page order (below the key facts; the timeline comes last).
DETAIL_SECTIONS: tuple[DetailSection, ...] = (
    package_section("pipeline"),
    DetailSection("contacts", "enterprises/_section_contacts.html", "crm.enterprises.queries:contacts_section_context"),
    DetailSection(
        "recommendations",
        "enterprises/_section_recommendations.html",
        "crm.enterprises.queries:recommendations_section_context",
    ),
    package_section("standards"),
    package_section("plans"),
    package_section("visits"),
    package_section("events"),
    package_section("cohorts"),
    DetailSection("credit", "enterprises/_section_credit.html", "crm.enterprises.queries:credit_section_context"),
)


def sections_for(enterprise: Any) -> list[tuple[DetailSection, dict]]:
    """Each section with its context, ready for the page to include."""
    return [(section, section.render_context(enterprise)) for section in DETAIL_SECTIONS]
