"""Sections of the enterprise page, listed by hand in ``DETAIL_SECTIONS``.

The contract for another feature package ``<pkg>``: a function ``crm/<pkg>/queries.py:
enterprise_section_context(enterprise) -> dict`` and a template ``templates/<pkg>/_enterprise_section.html``
rendered with ``enterprise`` plus that dict. Add it with one line: ``package_section("<pkg>")``.

A section whose context already holds a timeline provider's newest entries (say the latest visits) names that
provider in ``timeline`` with a function that turns its context into those entries: the page then builds its
timeline from what the sections loaded and calls only the providers no section answers for. The context
functions read in one query or a few, whatever the number of records (``tests/enterprises/test_detail_queries``).
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
    #: Timeline providers (as listed in ``TIMELINE_PROVIDERS``) whose entries this section's context already
    #: holds, each with ``answer(enterprise, context, wanted) -> list[TimelineEntry] | None``: the provider's
    #: ``wanted`` newest entries (or all of them), or None when the context cannot tell. The page then calls
    #: the provider only when no section answers for it.
    timeline: tuple[tuple[str, Callable[..., Any] | str], ...] = ()

    def render_context(self, enterprise: Any) -> dict:
        return dict(resolve(self.context)(enterprise) or {})


def package_section(package: str, timeline: tuple[tuple[str, Callable[..., Any] | str], ...] = ()) -> DetailSection:
    """The section another feature package contributes under the contract above."""
    return DetailSection(
        key=package,
        template=f"{package}/_enterprise_section.html",
        context=f"crm.{package}.queries:enterprise_section_context",
        timeline=timeline,
    )


#: The enterprise page's sections, in page order (below the key facts; the timeline comes last).
DETAIL_SECTIONS: tuple[DetailSection, ...] = (
    package_section(
        "pipeline",
        timeline=(("crm.enterprises.timeline:stage_change_entries", "crm.pipeline.queries:stage_timeline_answer"),),
    ),
    DetailSection("contacts", "enterprises/_section_contacts.html", "crm.enterprises.queries:contacts_section_context"),
    DetailSection(
        "recommendations",
        "enterprises/_section_recommendations.html",
        "crm.enterprises.queries:recommendations_section_context",
        timeline=(
            (
                "crm.enterprises.timeline:recommendation_entries",
                "crm.enterprises.queries:recommendation_timeline_answer",
            ),
        ),
    ),
    package_section(
        "standards", timeline=(("crm.standards.queries:timeline_entries", "crm.standards.queries:timeline_answer"),)
    ),
    package_section(
        "plans", timeline=(("crm.enterprises.timeline:task_entries", "crm.plans.queries:task_timeline_answer"),)
    ),
    package_section(
        "visits", timeline=(("crm.visits.queries:timeline_entries", "crm.visits.queries:timeline_answer"),)
    ),
    package_section(
        "events", timeline=(("crm.events.queries:timeline_entries", "crm.events.queries:timeline_answer"),)
    ),
    package_section("cohorts"),
    DetailSection("credit", "enterprises/_section_credit.html", "crm.enterprises.queries:credit_section_context"),
)


def sections_for(enterprise: Any) -> list[tuple[DetailSection, dict]]:
    """Each section with its context, ready for the page to include."""
    return [(section, section.render_context(enterprise)) for section in DETAIL_SECTIONS]


def timeline_answers(enterprise: Any, contexts: list[tuple[DetailSection, dict]], wanted: int) -> dict[str, list]:
    """{provider: its ``wanted`` newest entries} for the timeline providers the sections' contexts answer for."""
    known: dict[str, list] = {}
    for section, context in contexts:
        for provider, answer in section.timeline:
            if provider not in known:
                entries = resolve(answer)(enterprise, context, wanted)
                if entries is not None:
                    known[provider] = entries
    return known
