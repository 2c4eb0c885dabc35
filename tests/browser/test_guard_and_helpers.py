"""The safety net under every journey, and the helpers waiting for the journeys still to come.

The guard must catch a request leaving 127.0.0.1 and a console error (a CSP violation is one); a failing
journey must leave its screenshot and HTML. The helpers for board drags, progress bars and charts are
checked on small pages of their own until the features they serve are merged.
"""

import contextlib

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.helpers import drag, drawn_canvases, expect_progress_complete, guard_of, save_artifacts

pytestmark = pytest.mark.browser


def test_a_request_outside_loopback_is_blocked_and_reported(page):
    guard = guard_of(page)
    # "localhost" is not 127.0.0.1: the guard must stop it like any other host (and nothing leaves the machine
    # even if the guard were broken).
    page.set_content('<img src="http://localhost:9/tracker.png" alt="">')
    page.wait_for_load_state("load")
    assert guard.external_requests == ["GET http://localhost:9/tracker.png"]
    assert any("localhost:9" in problem for problem in guard.problems())
    guard.clear()


def test_a_csp_violation_is_reported_as_a_console_error(page):
    guard = guard_of(page)
    page.goto("/login")
    with contextlib.suppress(PlaywrightError):  # Playwright may report the refused script as an error
        page.add_script_tag(content="document.body.dataset.injected = 'yes'")
    assert page.evaluate("() => document.body.dataset.injected") is None, "the policy must refuse inline scripts"
    assert any("Content Security Policy" in error for error in guard.console_errors), guard.console_log
    page.evaluate("() => console.error('something broke')")
    assert any("something broke" in error for error in guard.console_errors)
    guard.clear()


def test_failure_artifacts_hold_a_screenshot_the_html_and_the_console(page, tmp_path):
    page.goto("/login")
    saved = save_artifacts(page, tmp_path, "login", ["console:", "[error] example"])
    assert [p.suffix for p in saved] == [".png", ".html", ".txt"]
    assert (tmp_path / "login.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "登录" in (tmp_path / "login.html").read_text(encoding="utf-8")
    notes = (tmp_path / "login.txt").read_text(encoding="utf-8")
    assert "/login" in notes and "[error] example" in notes


def test_drag_moves_a_card_with_html5_drag_and_drop(page):
    page.set_content(
        """<div id="from"><div id="card" draggable="true">卡片</div></div>
        <div id="to">目标阶段</div>
        <script>
          const to = document.getElementById('to');
          to.addEventListener('dragover', e => e.preventDefault());
          to.addEventListener('drop', e => { e.preventDefault(); to.append(document.getElementById('card')); });
        </script>"""
    )
    drag(page, page.locator("#card"), page.locator("#to"))
    expect(page.locator("#to #card")).to_be_visible()


def test_progress_and_chart_checks(page):
    page.set_content(
        """<div class="progress"><div id="bar" class="progress-bar" role="progressbar" aria-valuenow="0"></div></div>
        <canvas id="drawn" width="40" height="40"></canvas><canvas id="blank" width="40" height="40"></canvas>
        <script>
          document.getElementById('drawn').getContext('2d').fillRect(5, 5, 10, 10);
          let value = 0;
          const timer = setInterval(() => {
            value += 20;
            document.getElementById('bar').setAttribute('aria-valuenow', String(value));
            if (value >= 100) clearInterval(timer);
          }, 50);
        </script>"""
    )
    expect_progress_complete(page.locator("#bar"), timeout=5_000)
    assert drawn_canvases(page) == 1
    assert drawn_canvases(page, "#blank") == 0
