"""Pagination of ``select()`` statements for pages and the API."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from sqlalchemy import Select, func, select

from crm.extensions import db


@dataclass
class Page:
    items: Sequence[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with ``None`` for a gap: 1 … 4 5 [6] 7 8 … 20."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in shown if 1 <= n <= self.pages)
        result: list[int | None] = []
        for number in numbers:
            if result and number - (result[-1] or 0) > 1:
                result.append(None)
            result.append(number)
        return result


#: Beyond this a page number is nonsense (200 million rows at 200 per page) and would overflow OFFSET.
MAX_PAGE = 1_000_000


class PageArgumentError(ValueError):
    """Raised for a page or per_page that is not a positive whole number."""


def page_args(default_per_page: int | None = None, max_per_page: int | None = None) -> tuple[int, int]:
    """Read ``page`` and ``per_page`` from the query string; per_page is capped at ``max_per_page``."""
    default_per_page = default_per_page or current_app.config.get("UI_PER_PAGE", 50)
    max_per_page = max_per_page or current_app.config.get("API_MAX_PER_PAGE", 200)
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", default_per_page))
    except ValueError:
        raise PageArgumentError("page and per_page must be whole numbers") from None
    if page < 1 or per_page < 1:
        raise PageArgumentError("page and per_page must be at least 1")
    if page > MAX_PAGE:
        raise PageArgumentError(f"page must be at most {MAX_PAGE}")
    return page, min(per_page, max_per_page)


def count_rows(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def capped_count(stmt: Select, limit: int) -> Select:
    """A ``SELECT count(*)`` of ``stmt``'s rows that stops at ``limit + 1``: what a badge or a "10,000+" needs,
    reading at most ``limit + 1`` rows however many match."""
    return select(func.count()).select_from(stmt.order_by(None).limit(limit + 1).subquery())


def paginate(
    stmt: Select,
    page: int,
    per_page: int,
    *,
    scalars: bool = True,
    topics: Iterable[str] | None = None,
    id_column: Any = None,
) -> Page:
    """Run one page of ``stmt`` and count the whole; ``scalars=False`` returns rows instead of objects.

    ``topics``: the data topics whose tables the statement reads (``crm.enterprises.counts_cache``); the total is
    then kept in Redis until one of them changes, instead of being counted for every page.
    ``id_column``: the statement's primary key; a page past the first then reads the ids alone through the OFFSET
    (what an index on the list's order answers without the rows) and the rows of those ids only."""
    if topics:
        from crm.enterprises.counts_cache import cached_count

        total = cached_count(stmt, topics=topics)
    else:
        total = count_rows(stmt)
    offset = (page - 1) * per_page
    if id_column is not None and offset:
        ids = list(
            db.session.scalars(
                stmt.with_only_columns(id_column, maintain_column_froms=True).limit(per_page).offset(offset)
            )
        )
        limited = stmt.where(id_column.in_(ids)) if ids else None
    else:
        limited = stmt.limit(per_page).offset(offset)
    if limited is None:
        items: list[Any] = []
    else:
        result = db.session.scalars(limited) if scalars else db.session.execute(limited)
        items = list(result.all())
    return Page(items=items, total=total, page=page, per_page=per_page)
