"""Schemathesis against the running app: every operation of the OpenAPI document, on a database holding a
record in every table, as an administrator (who may do everything) and as a viewer (refused writes, a scoped
jurisdiction: the 403 and 404 answers must be documented too). Fails on any server error and on any response
(status, content type, headers, body) the document does not describe, and on valid input refused or invalid
input accepted. A few write operations may refuse schema-valid bodies with 422 for rules JSON Schema cannot state
(records that must exist, dates compared with today): ``schemathesis.toml`` beside this file lists them and why."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from tests.security.world import build_world

#: Cases per operation and phase for each role (CRM_SCHEMATHESIS_EXAMPLES scales them for a deeper local run).
SCALE = float(os.environ.get("CRM_SCHEMATHESIS_SCALE", "1"))
EXAMPLES = {"admin": 25, "viewer": 8}
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20260605
CHECKS = "all"


@pytest.fixture
def live_server(app, real_db) -> Iterator[str]:
    """The app served by a real HTTP server on a free loopback port, in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="schemathesis-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(EXAMPLES))
def test_schemathesis_finds_no_server_error_and_no_response_breaking_the_document(
    app, live_server, tmp_path: Path, role: str
):
    world = build_world()
    errors: list[str] = []

    def remember(sender, exception, **extra):
        errors.append(f"{type(exception).__name__}: {exception}")

    got_request_exception.connect(remember, app)
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(CONFIG),
                "run",
                f"{live_server}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {world.tokens[role]}",
                "--checks",
                CHECKS,
                "--max-examples",
                str(max(1, round(EXAMPLES[role] * SCALE))),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "20",
                "--suppress-health-check",
                "all",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
            check=False,
        )
    finally:
        got_request_exception.disconnect(remember, app)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and not errors, (
        f"Schemathesis exit code {result.returncode}; server exceptions: {errors or 'none'}\n{output[-12000:]}"
    )
    assert "No issues found" in output or "passed" in output.lower(), output[-4000:]
