"""Fixtures for the browser journeys: Chromium, the live server, guarded pages, logins per role, artifacts.

See tests/browser/README.md for how to add a journey.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing_service

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
#: From shared/services.md: Debian's Chromium on a machine without a network of its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Failing tests leave a screenshot, the page's HTML and its console log here (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("CRM_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
#: Playwright's wait for an element or a navigation before a test fails.
TIMEOUT_MS = 10_000

FAILED = pytest.StashKey[bool]()
GUARDS = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        item.stash[FAILED] = True
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a journey's own steps passed: fail it for any external request or console error it caused."""
    result = yield
    problems = [problem for guard in item.stash.get(GUARDS, []) for problem in guard.problems()]
    if problems:
        pytest.fail("the page misbehaved:\n  " + "\n  ".join(problems), pytrace=False)
    return result


# --- Chromium and the server ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_runtime() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing_service(f"Chromium: {CHROMIUM} not found (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as runtime:
        yield runtime


@pytest.fixture(scope="session")
def browser(playwright_runtime) -> Iterator[Any]:
    browser = playwright_runtime.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def live_server(browser, tmp_path_factory, request) -> Iterator[Any]:
    """The app under gunicorn on 127.0.0.1 with its own seeded database (see server.py)."""
    from tests.browser.server import live_server as serve

    workdir = tmp_path_factory.mktemp("browser-server")
    with serve(workdir, os.environ.get("DATABASE_URL", "").strip() or None) as server:
        yield server
        if request.session.testsfailed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(server.log_path, ARTIFACTS / "server.log")


@pytest.fixture(scope="session")
def login_states(browser, live_server) -> Callable[[str], dict]:
    """``login_states("bureau")``: the cookies of a browser that logged in as that role through the form."""
    from tests.browser.helpers import PageGuard, log_in

    cache: dict[str, dict] = {}

    def state(role: str) -> dict:
        if role not in cache:
            context = browser.new_context(base_url=live_server.url)
            guard = PageGuard().attach(context)
            page = context.new_page()
            log_in(page, live_server.facts["users"][role], live_server.facts["password"])
            assert not guard.problems(), guard.problems()
            cache[role] = context.storage_state()
            context.close()
        return cache[role]

    return state


# --- pages ----------------------------------------------------------------------------------------------


@pytest.fixture
def new_page(browser, live_server, login_states, request) -> Iterator[Callable[..., Any]]:
    """``new_page()`` (logged out) or ``new_page("bureau", viewport=PHONE)``: a guarded page of a new context.

    Roles are the keys of ``BROWSER_USERS`` in seed.py. Each call opens a separate browser (context), so two
    users can act in one test. On failure every page's screenshot, HTML and console log are saved.
    """
    from tests.browser.helpers import PageGuard, safe_name, save_artifacts

    contexts: list[tuple[Any, PageGuard]] = []
    request.node.stash[GUARDS] = []
    trace = os.environ.get("CRM_BROWSER_TRACE") == "1"

    def factory(role: str | None = None, *, viewport: dict | None = None, **context_options: Any):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or DESKTOP,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            storage_state=login_states(role) if role else None,
            accept_downloads=True,
            **context_options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        if trace:
            context.tracing.start(screenshots=True, snapshots=True)
        guard = PageGuard().attach(context)
        context._crm_guard = guard
        contexts.append((context, guard))
        request.node.stash[GUARDS].append(guard)
        return context.new_page()

    yield factory

    failed = request.node.stash.get(FAILED, False) or any(guard.problems() for _, guard in contexts)
    folder = ARTIFACTS / safe_name(request.node.nodeid.removeprefix("tests/browser/"))
    for number, (context, guard) in enumerate(contexts, start=1):
        if failed:
            for index, page in enumerate(context.pages, start=1):
                notes = ["problems:", *guard.problems(), "console:", *guard.console_log]
                save_artifacts(page, folder, f"context{number}-page{index}", notes)
            if trace:
                context.tracing.stop(path=str(folder / f"context{number}-trace.zip"))
        elif trace:
            context.tracing.stop()
        context.close()


@pytest.fixture
def page(new_page) -> Any:
    """A logged-out guarded page at desktop size."""
    return new_page()


@pytest.fixture
def facts(live_server) -> dict[str, Any]:
    """What the server's seeding recorded (tests/browser/seed.py): users, password, enterprises per scope."""
    return live_server.facts
