"""Sections of the enterprise page, listed by hand in ``DETAIL_SECTIONS``.

The contract for another feature package ``<pkg>``: a function ``crm/<pkg>/queries.py:
enterprise_section_context(enterprise) -> dict`` and a template ``templates/<pkg>/_enterprise_section.html``
rendered with ``enterprise`` plus that dict. Add it with one line: ``package_section("<pkg>")``.

A section may name in ``records`` a function giving a correlated EXISTS on ``Enterprise`` (built once per process):
the enterprise has records the section shows. The page reads it with the record, and for an enterprise without
any calls the context function with ``has_records=False``: the same context, with no rows and no query.

A section whose context already holds a timeline provider's newest entries (say the latest visits) names that
provider in ``timeline`` with a function that turns its context into those entries: the page then builds its
timeline from what the sections loaded and calls only the providers no section answers for. The context
functions read in one query or a few, whatever the number of records (``tests/enterprises/test_detail_queries``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
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
    #: ``records() -> ColumnElement[bool]``: a correlated EXISTS on ``Enterprise``, true when the enterprise may have
    #: records the section shows; when false the context function is called with ``has_records=False`` and reads
    #: nothing. None: the context always reads.
    records: Callable[[], Any] | str | None = None

    def render_context(self, enterprise: Any, has_records: bool = True) -> dict:
        if has_records or self.records is None:
            return dict(resolve(self.context)(enterprise) or {})
        return dict(resolve(self.context)(enterprise, has_records=False) or {})


def package_section(
    package: str, timeline: tuple[tuple[str, Callable[..., Any] | str], ...] = (), *, records: bool = False
) -> DetailSection:
    """The section another feature package contributes under the contract above (``records``: the package's
    ``queries.enterprise_section_records`` gives the section's EXISTS)."""
    return DetailSection(
        key=package,
        template=f"{package}/_enterprise_section.html",
        context=f"crm.{package}.queries:enterprise_section_context",
        timeline=timeline,
        records=f"crm.{package}.queries:enterprise_section_records" if records else None,
    )


#: The enterprise page's sections, in page order (below the key facts; the timeline comes last).
DETAIL_SECTIONS: tuple[DetailSection, ...] = (
    package_section(
        "pipeline",
        timeline=(("crm.enterprises.timeline:stage_change_entries", "crm.pipeline.queries:stage_timeline_answer"),),
        records=True,
    ),
    DetailSection("contacts", "enterprises/_section_contacts.html", "crm.enterprises.queries:contacts_section_context"),
    DetailSection(
        "recommendations",
        "enterprises/_section_recommendations.html",
        "crm.enterprises.queries:recommendations_section_context",
        records="crm.enterprises.queries:recommendations_section_records",
        timeline=(
            (
                "crm.enterprises.timeline:recommendation_entries",
                "crm.enterprises.queries:recommendation_timeline_answer",
            ),
        ),
    ),
    package_section(
        "standards",
        timeline=(("crm.standards.queries:timeline_entries", "crm.standards.queries:timeline_answer"),),
        records=True,
    ),
    package_section(
        "plans",
        timeline=(("crm.enterprises.timeline:task_entries", "crm.plans.queries:task_timeline_answer"),),
        records=True,
    ),
    package_section(
        "visits",
        timeline=(("crm.visits.queries:timeline_entries", "crm.visits.queries:timeline_answer"),),
        records=True,
    ),
    package_section(
        "events",
        timeline=(("crm.events.queries:timeline_entries", "crm.events.queries:timeline_answer"),),
        records=True,
    ),
    package_section("cohorts", records=True),
    DetailSection("credit", "enterprises/_section_credit.html", "crm.enterprises.queries:credit_section_context"),
)


def sections_for(enterprise: Any, has_records: Mapping[str, bool] | None = None) -> list[tuple[DetailSection, dict]]:
    """Each section with its context, ready for the page to include. ``has_records``: {section key: its ``records``
    EXISTS as read with the enterprise} (a section not in it reads)."""
    has_records = has_records or {}
    return [
        (section, section.render_context(enterprise, has_records.get(section.key, True))) for section in DETAIL_SECTIONS
    ]


def records_columns() -> tuple[tuple[str, Any], ...]:
    """(section key, its ``records`` EXISTS labelled) of the sections that name one, to read with the enterprise."""
    return _records_columns(DETAIL_SECTIONS)


@cache
def _records_columns(sections: tuple[DetailSection, ...]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (section.key, resolve(section.records)().label(f"has_{section.key}_records"))
        for section in sections
        if section.records is not None
    )


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
