"""Every route of the app, called as a given role with real records, and what it should answer.

The expectation comes from the code: the access a view declared (``permission_required`` or ``public``,
``crm.core.permissions.declared_access``) and the scope rule (a record of an enterprise outside the caller's
jurisdiction answers 404). ``tests/security/registry.py`` holds the few exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from crm.core.permissions import Access, Role, declared_access
from crm.core.security import CONTENT_SECURITY_POLICY
from crm.extensions import db
from tests.security import registry
from tests.security.world import IN, OUT, XSS_MARKERS, World

ANONYMOUS = "anonymous"
API_PREFIX = "/api/"
CALLED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The API blueprint authenticates every call by token: a read that declares nothing needs any valid token.
API_READ_DEFAULT = Access()


@dataclass(frozen=True)
class Call:
    rule: Rule
    method: str
    side: str | None

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    @property
    def is_api(self) -> bool:
        return self.rule.rule.startswith(API_PREFIX) and self.rule.endpoint.startswith("api")

    def __str__(self) -> str:
        side = f" [{self.side}]" if self.side else ""
        return f"{self.method} {self.rule.rule} ({self.endpoint}){side}"


def app_rules(app: Flask) -> list[Rule]:
    """Every rule of the app except the skipped endpoints, in a stable order."""
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint not in registry.SKIP_ENDPOINTS),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


def rule_methods(rule: Rule) -> list[str]:
    return [method for method in CALLED_METHODS if method in (rule.methods or ())]


def access_of(app: Flask, rule: Rule, method: str) -> Access | None:
    """The access a route declared; API reads that declare nothing need a token (any role)."""
    access = declared_access(app.view_functions.get(rule.endpoint))
    if access is None and rule.endpoint.startswith("api") and rule.rule.startswith(API_PREFIX) and method == "GET":
        return API_READ_DEFAULT
    return access


def calls(app: Flask, world: World, *, methods: tuple[str, ...] = CALLED_METHODS) -> Iterator[Call]:
    """Each route and method, twice (in and out of scope) when its arguments designate a sided record."""
    for rule in app_rules(app):
        sides: tuple[str | None, ...] = (IN, OUT) if rule.arguments else (None,)
        for method in rule_methods(rule):
            if method in methods:
                for side in sides:
                    yield Call(rule, method, side)


class UnresolvedArgumentError(LookupError):
    pass


def table_for_argument(name: str) -> str | None:
    """``enterprise_id`` -> enterprises, ``task_id`` -> cultivation_tasks (through a foreign key named so)."""
    if not name.endswith("_id"):
        return None
    base = name[:-3]
    tables = db.metadata.tables
    for candidate in (base + "s", base + "es", base[:-1] + "ies" if base.endswith("y") else None, base):
        if candidate and candidate in tables:
            return candidate
    referred = {
        fk.column.table.name for table in tables.values() for fk in table.foreign_keys if fk.parent.name == name
    }
    if len(referred) == 1:
        return referred.pop()
    suffixed = [table for table in tables if table.endswith(f"_{base}s")]
    if len(suffixed) == 1:
        return suffixed[0]
    return None


def url_values(call: Call, world: World, role: str) -> tuple[dict[str, Any], int | None]:
    """The URL arguments of a call, and the enterprise the designated record belongs to (None: not scoped)."""
    values: dict[str, Any] = {}
    enterprise_id = None
    for name in sorted(call.rule.arguments):
        declared = registry.PARAMS.get((call.endpoint, name), registry.PARAMS.get(name))
        if declared is not None:
            value = declared(world, role, call.side) if callable(declared) else declared
            if isinstance(value, registry.Scoped):
                enterprise_id = enterprise_id or value.enterprise_id
                value = value.value
            values[name] = value
            continue
        table = table_for_argument(name)
        if table is None or table not in world.keys:
            raise UnresolvedArgumentError(
                f"{call}: cannot fill <{name}>; add it to PARAMS in tests/security/registry.py"
            )
        values[name] = world.key(table, call.side)
        enterprise_id = enterprise_id or world.enterprise_of(table, call.side)
    return values, enterprise_id


def build_url(call: Call, values: dict[str, Any]) -> str:
    built = call.rule.build(values, append_unknown=False)
    if built is None:
        raise UnresolvedArgumentError(f"{call}: the rule does not build with {values}")
    return built[1]


# --- expectations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    #: "served", "login" (redirect to the login page), "unauthorized" (401), "forbidden", "not_found", "statuses".
    kind: str
    statuses: frozenset[int] = frozenset()
    #: Served public pages with URL arguments may answer 404 for an argument the world cannot make valid.
    allow_not_found: bool = False

    def describe(self) -> str:
        return self.kind if not self.statuses else f"one of {sorted(self.statuses)}"


def expectation(call: Call, access: Access, role: str, enterprise_id: int | None) -> Expectation:
    override = registry.STATUS.get(call.endpoint)
    if override is not None:
        statuses = override(role, call.side, call.method)
        if statuses is not None:
            return Expectation("statuses", frozenset(statuses))
    if access.public:
        return Expectation("served", allow_not_found=bool(call.rule.arguments))
    if role == ANONYMOUS:
        return Expectation("unauthorized" if call.is_api else "login")
    if not access.permissions <= _permissions_of(role):
        return Expectation("forbidden")
    if enterprise_id is not None and call.side == OUT and not Role(role).sees_everything:
        return Expectation("not_found")
    return Expectation("served")


def _permissions_of(role: str) -> frozenset:
    from crm.core.permissions import ROLE_PERMISSIONS

    return ROLE_PERMISSIONS[Role(role)]


def is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")


def meets(expected: Expectation, response) -> bool:
    status = response.status_code
    if expected.kind == "statuses":
        return status in expected.statuses
    if expected.kind == "login":
        return is_login_redirect(response)
    if expected.kind == "unauthorized":
        return status == 401
    if expected.kind == "forbidden":
        return status == 403
    if expected.kind == "not_found":
        return status == 404
    refused = {401, 403, 405} | (set() if expected.allow_not_found else {404})
    return status < 500 and status not in refused and not is_login_redirect(response)


# --- the page itself -------------------------------------------------------------------------------------


class _PageChecker(HTMLParser):
    """Finds what the Content-Security-Policy would block (inline scripts, styles, handlers, javascript: URLs)
    and script payloads that reached the page unescaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value for name, value in attrs}
        if tag == "xss-crm":
            self.problems.append("unescaped payload: <xss-crm> element")
        if tag == "script":
            if "src" not in names:
                self.problems.append("inline <script> without src")
            self._in_script = True
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in names.items():
            if name == "style":
                self.problems.append(f'style="..." attribute on <{tag}>')
            elif name.startswith("on"):
                self.problems.append(f"event handler attribute {name} on <{tag}>")
            elif name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL in {name} of <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "crmxss" in data:
            self.problems.append("unescaped payload inside a <script>")


def page_problems(response) -> list[str]:
    """CSP header and markup problems of an HTML response (empty for other content types)."""
    if not response.mimetype or response.mimetype != "text/html":
        return []
    problems = []
    if response.headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY:
        problems.append(f"Content-Security-Policy header is {response.headers.get('Content-Security-Policy')!r}")
    body = response.get_data(as_text=True)
    for marker in XSS_MARKERS:
        if marker in body:
            problems.append(f"unescaped payload {marker!r}")
    checker = _PageChecker()
    checker.feed(body)
    checker.close()
    problems.extend(dict.fromkeys(checker.problems))
    return problems


# --- calling ---------------------------------------------------------------------------------------------


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run one request in a savepoint of the test's connection and undo everything it committed."""
    db.session.close()
    connection = db.engine  # the test's connection (see tests/conftest.py)
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        db.session.close()
        if savepoint.is_active:
            savepoint.rollback()


def perform(client, call: Call, url: str, role: str, world: World, *, query: dict[str, str] | None = None):
    """Send the call as ``role`` (session login for pages, bearer token for the API)."""
    headers = {}
    kwargs: dict[str, Any] = {"query_string": query} if query else {}
    if call.is_api:
        if role != ANONYMOUS:
            headers["Authorization"] = f"Bearer {world.tokens[role]}"
        if call.method != "GET":
            kwargs["json"] = {}
    else:
        if role == ANONYMOUS:
            _logout(client)
        else:
            client.login(world.users[role])
        if call.method != "GET":
            kwargs["data"] = {"csrf_token": client.csrf_token()}
    return client.open(url, method=call.method, headers=headers, buffered=True, **kwargs)


def _logout(client) -> None:
    with client.session_transaction() as session:
        for key in ("_user_id", "_fresh", "_id", "_seen"):
            session.pop(key, None)


def scope_leaks(response, world: World, role: str) -> list[str]:
    """Texts of the out-of-scope enterprise's records in a response to a user who must not see them."""
    if role == ANONYMOUS or Role(role).sees_everything or response.status_code >= 400:
        return []
    body = response.get_data().decode("utf-8", errors="replace")  # files too (a PDF, a spreadsheet)
    leaked = sorted(marker for marker in world.out_of_scope_markers if marker in body)
    return (
        [f"shows records of an enterprise outside the caller's scope (texts {', '.join(leaked[:5])})"] if leaked else []
    )
