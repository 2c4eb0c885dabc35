"""Every user-supplied text is escaped: a script payload stored in every text column of every table (and sent
in the common query arguments) must come out inert on every page an administrator can open."""

from __future__ import annotations

from sqlalchemy import String, select

from crm.extensions import db
from tests.security import registry, routes
from tests.security.routes import UnresolvedArgumentError, rolled_back
from tests.security.world import PAYLOAD, SHORT_PAYLOAD, TINY_PAYLOAD

#: Query arguments list and search pages commonly reflect back into their filter forms.
REFLECTED_ARGUMENTS = (
    "q",
    "search",
    "name",
    "status",
    "stage",
    "area",
    "office",
    "kind",
    "sort",
    "user",
    "action",
    "record_type",
    "record_id",
    "next",
)


def test_every_text_column_of_every_table_holds_the_payload(world):
    """The sweep is only as good as its data: check the world really put a payload in each text column."""
    missing = []
    for table in db.metadata.sorted_tables:
        if table.name not in world.keys:
            continue
        texts = [c for c in table.columns if isinstance(c.type, String) and not c.foreign_keys]
        for column in texts:
            values = db.session.scalars(select(column)).all()
            width = column.type.length or 1000
            if width < len(TINY_PAYLOAD) + 5:
                continue  # too narrow for any payload (codes, flags)
            if not any(v and any(p in v for p in (PAYLOAD, SHORT_PAYLOAD, TINY_PAYLOAD)) for v in values):
                missing.append(f"{table.name}.{column.name}")
    exempt = _enum_columns() | set(registry.SYSTEM_TEXT_COLUMNS) | set(registry.COLUMN_VALUES)
    missing = [name for name in missing if name not in exempt]
    assert not missing, f"no payload stored in: {missing}"


def _enum_columns() -> set[str]:
    from sqlalchemy import Enum

    return {f"{t.name}.{c.name}" for t in db.metadata.sorted_tables for c in t.columns if isinstance(c.type, Enum)}


def test_every_page_shows_stored_and_reflected_payloads_inert(app, client, world, no_rate_limits):
    failures: list[str] = []
    pages = 0
    for call in routes.calls(app, world, methods=("GET",)):
        access = routes.access_of(app, call.rule, call.method)
        if access is None or call.is_api:
            continue
        try:
            values, _enterprise_id = routes.url_values(call, world, "admin")
            url = routes.build_url(call, values)
        except UnresolvedArgumentError as exc:
            failures.append(str(exc))
            continue
        for query in (None, dict.fromkeys(REFLECTED_ARGUMENTS, PAYLOAD)):
            with rolled_back():
                try:
                    response = routes.perform(client, call, url, "admin", world, query=query)
                except Exception as exc:  # a page that crashes on stored or reflected text is a failure too
                    failures.append(f"{call} {'with query' if query else ''}: raised {type(exc).__name__}: {exc}")
                    continue
                pages += 1
                if response.status_code >= 500:
                    failures.append(f"{call}: answered {response.status_code}")
                failures.extend(f"{call}{' with query' if query else ''}: {p}" for p in routes.page_problems(response))
    assert pages, "the sweep rendered nothing"
    assert not failures, f"{len(failures)} problem(s) in {pages} pages:\n  " + "\n  ".join(failures)
