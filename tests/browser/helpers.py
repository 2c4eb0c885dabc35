"""What browser journeys share: the request and console guard, artifacts, axe, and checks users would make.

Journeys import from here; fixtures (``new_page``, ``live_server``, ...) live in ``conftest.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, Route, expect

VENDOR = Path(__file__).resolve().parent / "vendor"
AXE_PATH = VENDOR / "axe.min.js"
#: The only host a page may talk to: the server under test.
ALLOWED_HOSTS = frozenset({"127.0.0.1"})


# --- the guard: no request leaves 127.0.0.1, no console error goes unnoticed ----------------------------


@dataclass
class PageGuard:
    """Watches one browser context.

    Every request to a host other than 127.0.0.1 is aborted and recorded; every console error (CSP
    violations are reported as console errors) and uncaught page error is recorded. The suite fails the test
    when ``problems()`` is not empty after it ran. A test that expects an error says so with
    ``expect_console_error(pattern)``.
    """

    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_log: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> PageGuard:
        context.route("**/*", self._route)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.console_errors.append(f"uncaught: {error.error}"))
        return self

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ALLOWED_HOSTS:
            route.continue_()
        else:
            self.external_requests.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    def _console(self, message: ConsoleMessage) -> None:
        location = message.location or {}
        line = f"[{message.type}] {message.text} ({location.get('url', '')}:{location.get('lineNumber', '')})"
        self.console_log.append(line)
        if message.type == "error" and not any(p.search(message.text) for p in self.expected):
            self.console_errors.append(line)

    def expect_console_error(self, pattern: str) -> None:
        """Allow console errors matching ``pattern`` (a regular expression) for the rest of the test."""
        self.expected.append(re.compile(pattern))

    def problems(self) -> list[str]:
        return [f"request outside 127.0.0.1: {r}" for r in self.external_requests] + [
            f"console error: {e}" for e in self.console_errors
        ]

    def clear(self) -> None:
        self.external_requests.clear()
        self.console_errors.clear()


def guard_of(page: Page) -> PageGuard:
    """The guard watching ``page`` (set by the ``new_page`` fixture)."""
    return page.context._crm_guard  # type: ignore[attr-defined]


# --- artifacts --------------------------------------------------------------------------------------------


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150] or "test"


def save_artifacts(page: Page, folder: Path, name: str, notes: Iterable[str] = ()) -> list[Path]:
    """Save a full-page screenshot, the page's HTML and ``notes`` (URL, console log) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    screenshot = folder / f"{name}.png"
    try:
        page.screenshot(path=str(screenshot), full_page=True, timeout=5_000)
        saved.append(screenshot)
    except Exception as exc:  # a crashed or closed page still gets its HTML and notes
        notes = [*notes, f"screenshot failed: {exc}"]
    html = folder / f"{name}.html"
    try:
        html.write_text(page.content(), encoding="utf-8")
        saved.append(html)
    except Exception as exc:  # same as above
        notes = [*notes, f"page content unavailable: {exc}"]
    text = folder / f"{name}.txt"
    text.write_text("\n".join([f"url: {page.url}", *notes]) + "\n", encoding="utf-8")
    saved.append(text)
    return saved


# --- logging in -------------------------------------------------------------------------------------------


def log_in(page: Page, username: str, password: str) -> None:
    """Log in through the login form, as a person would, and wait to leave the login page."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


# --- pages named by what seeding recorded ---------------------------------------------------------------


def page_path(path: str, facts: dict[str, Any], role: str | None) -> str:
    """``path`` with the records it names filled in for ``role`` (None: logged out, the admin's records).

    ``{in_scope}`` and ``{out_of_scope}`` are the role's enterprises; ``{plan_id}``, ``{task_id}``,
    ``{plan_enterprise}``, ``{cohort_id}``, ``{assessment_id}``, ``{assessment_item}``, ``{assessed_enterprise}``
    and ``{visit_id}`` the demo's records in its scope; the journeys' records (``{event_id}``,
    ``{registration_url}``, ``{board_query}``, ``{import_id}``), the administrators' (``{standard_code}``,
    ``{plan_template_id}``, ``{reminder_rule_id}``) and ``{bureau_user_id}`` are the same for every role.
    """
    key = role or "admin"
    values = {
        **facts["enterprises"][key],
        **facts["records"][key],
        **facts["admin_records"],
        "event_id": facts["event"]["id"],
        "registration_url": facts["event"]["registration_url"],
        "board_query": facts["board"]["query"],
        "import_id": facts["import"]["id"],
        "bureau_user_id": facts["user_ids"]["bureau"],
    }
    return path.format(**values)


# --- accessibility ----------------------------------------------------------------------------------------

BLOCKING_IMPACTS = ("serious", "critical")


def run_axe(page: Page, impacts: Iterable[str] = BLOCKING_IMPACTS, options: dict | None = None) -> list[dict]:
    """Run axe-core on the current page and return the violations of the given impacts.

    axe is evaluated through Playwright (the DevTools protocol), which the page's Content-Security-Policy
    does not apply to; ``add_script_tag`` would insert an inline script that the policy blocks.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(f"() => {{ {AXE_PATH.read_text(encoding='utf-8')}\n}}")
    result = page.evaluate("options => window.axe.run(document, options)", options or {"resultTypes": ["violations"]})
    wanted = set(impacts)
    return [v for v in result["violations"] if v.get("impact") in wanted]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')}")
    return "\n".join(lines)


def assert_accessible(page: Page, impacts: Iterable[str] = BLOCKING_IMPACTS) -> None:
    violations = run_axe(page, impacts)
    assert not violations, f"axe found on {page.url}:\n{describe_violations(violations)}"


# --- layout -----------------------------------------------------------------------------------------------


def horizontal_overflow(page: Page) -> dict[str, Any]:
    """How far the page scrolls sideways, and the elements that stick out of the viewport."""
    return page.evaluate(
        """() => {
            const root = document.documentElement;
            const width = root.clientWidth;
            const culprits = [];
            for (const el of document.body.querySelectorAll('*')) {
                const box = el.getBoundingClientRect();
                if (box.width && box.right > width + 1) {
                    let inScroller = false;
                    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                        const style = getComputedStyle(p);
                        if (['auto', 'scroll', 'hidden'].includes(style.overflowX)) { inScroller = true; break; }
                    }
                    const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/) : [];
                    if (!inScroller) culprits.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + classes.filter(Boolean).map(c => '.' + c).join('') + ' right=' + Math.round(box.right));
                }
            }
            return {scrollWidth: root.scrollWidth, clientWidth: width, culprits: culprits.slice(0, 10)};
        }"""
    )


def assert_no_horizontal_scroll(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert overflow["scrollWidth"] <= overflow["clientWidth"], (
        f"{page.url} scrolls sideways: {overflow['scrollWidth']}px of content in {overflow['clientWidth']}px; "
        f"sticking out: {overflow['culprits']}"
    )


# --- checks for the journeys still to come ----------------------------------------------------------------


def expect_field_error(page: Page, field_id: str, text: str | re.Pattern[str]) -> None:
    """The message shown beside one form field (``render_field`` puts it in ``#<id>-error``)."""
    field_input = page.locator(f"#{field_id}")
    expect(page.locator(f"#{field_id}-error")).to_contain_text(text)
    expect(field_input).to_have_attribute("aria-invalid", "true")
    expect(field_input).to_have_attribute("aria-describedby", re.compile(rf"\b{re.escape(field_id)}-error\b"))


def expect_progress_complete(bar: Locator, timeout: float = 30_000) -> None:
    """Wait until a ``data-progress`` bar (app.js keeps ``aria-valuenow`` in step) reaches 100."""
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=timeout)


def drawn_canvases(page: Page, selector: str = "canvas") -> int:
    """How many canvases matching ``selector`` have at least one painted pixel (charts were drawn)."""
    return page.evaluate(
        """selector => [...document.querySelectorAll(selector)].filter(canvas => {
            if (!canvas.width || !canvas.height) return false;
            const ctx = canvas.getContext('2d');
            if (!ctx) return false;
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
            return false;
        }).length""",
        selector,
    )


def drag(page: Page, source: Locator, target: Locator, steps: int = 12) -> None:
    """Drag ``source`` onto ``target`` with real mouse moves (works for HTML5 drag-and-drop and pointer libs)."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    end = target.bounding_box()
    assert start and end, "both ends of a drag must be visible"
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=steps)
    page.mouse.up()


def write_xlsx(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> Path:
    """A spreadsheet to upload in an import journey."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, header)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, list(row))
    workbook.close()
    return path
