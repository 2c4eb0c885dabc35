"""The benchmark's instruments: gunicorn servers, wrk runs, logins through the form, timed child processes."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


class BenchError(RuntimeError):
    """A measurement could not be made (a server down, a page not answering 200, wrk failing)."""


# --- gunicorn -------------------------------------------------------------------------------------------


@dataclass
class Server:
    """A gunicorn master with sync workers on a free loopback port."""

    app: str
    env: dict[str, str]
    log_path: Path
    workers: int = 2
    #: A page that answers 200 without a login once a worker is ready.
    ready_path: str = "/healthz"
    url: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 60) -> Server:
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--bind",
                "127.0.0.1:0",
                "--no-control-socket",
                "--timeout",
                "300",
                self.app,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                break
            if self.process.poll() is not None:
                raise BenchError(f"{self.app} exited at start:\n{self.log_tail()}")
            time.sleep(0.05)
        else:
            raise BenchError(f"{self.app} did not report its address:\n{self.log_tail()}")
        self.wait_for_workers(deadline)
        return self

    def wait_for_workers(self, deadline: float) -> None:
        """Until every worker answers (each import of the app takes a moment)."""
        while time.monotonic() < deadline:
            if len(self.worker_pids()) >= self.workers:
                try:
                    for _ in range(self.workers * 2):
                        expect_page(self.url + self.ready_path, None)
                    return
                except (BenchError, OSError):
                    pass
            time.sleep(0.1)
        raise BenchError(f"{self.app} workers did not answer:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def worker_pids(self) -> list[int]:
        if not self.process:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def worker_memory_mb(self) -> dict[int, dict[str, float]]:
        """Resident memory (now and peak) of each worker, from /proc."""
        readings = {}
        for pid in self.worker_pids():
            status = proc_status(pid)
            readings[pid] = {"rss_mb": status.get("VmRSS", 0) / 1024, "peak_rss_mb": status.get("VmHWM", 0) / 1024}
        return readings

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/PID/status (VmRSS, VmHWM, ...)."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                values[name] = int(parts[0])
    except OSError:
        pass
    return values


# --- HTTP -----------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def quote_path(path: str) -> str:
    """Percent-encode what an HTTP request line cannot carry (Chinese search terms)."""
    return urllib.parse.quote(path, safe="/?=&%:+,;@!$'()*~")


def fetch(url: str, cookie: str | None = None, timeout: float = 60) -> tuple[int, str]:
    """GET ``url`` without following redirects; the status and body."""
    request = urllib.request.Request(quote_path(url), headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except urllib.error.URLError as exc:
        raise BenchError(f"{url}: {exc.reason}") from None


def expect_page(url: str, cookie: str | None) -> str:
    """Fail unless ``url`` answers 200 (a redirect to the login page means the session is not valid)."""
    status, body = fetch(url, cookie)
    if status != 200:
        raise BenchError(f"{url} answered {status}, not 200")
    return body


def csrf_token(url: str, cookie: str) -> str:
    """The CSRF token of the session, read from a page's form (every logged-in page has the logout form)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', expect_page(url, cookie))
    if not match:
        raise BenchError(f"{url} has no CSRF token")
    return match.group(1)


def post_form(url: str, fields: dict[str, str], cookie: str, timeout: float = 60) -> tuple[int, str]:
    """POST a form without following the redirect; the status and the ``Location`` (or the body)."""
    request = urllib.request.Request(
        quote_path(url),
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            return exc.code, exc.headers.get("Location", "")
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except urllib.error.URLError as exc:
        raise BenchError(f"{url}: {exc.reason}") from None


def log_in(base_url: str, username: str, password: str) -> str:
    """Log in through the login form like a browser; the ``Cookie`` header value of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base_url}/login", timeout=30) as response:
        page = response.read().decode("utf-8")
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    if not match:
        raise BenchError("the login page has no CSRF token")
    form = urllib.parse.urlencode({"csrf_token": match.group(1), "username": username, "password": password})
    with opener.open(f"{base_url}/login", data=form.encode(), timeout=30) as response:
        landed = response.geturl()
    if "/login" in urllib.parse.urlsplit(landed).path:
        raise BenchError(f"logging in as {username} failed (wrong password, or locked out)")
    cookies = [c for c in jar if c.name == "session"]
    if not cookies:
        raise BenchError(f"logging in as {username} gave no session cookie")
    return f"session={cookies[0].value}"


# --- wrk ------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    percentiles_ms: dict[str, float]
    non_2xx_3xx: int
    socket_errors: dict[str, int]

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms["50"]

    def as_detail(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "requests_per_second": self.requests_per_second,
            "percentiles_ms": self.percentiles_ms,
            "socket_errors": self.socket_errors,
        }


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, the latency distribution (``--latency``) and errors out of wrk's report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    count = re.search(r"^\s*(\d+) requests in", output, re.M)
    if not rps or not count:
        raise BenchError(f"wrk printed no result:\n{output}")
    percentiles = {
        p: float(value) * _UNITS_MS[unit]
        for p, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    names = ("connect", "read", "write", "timeout")
    socket_errors = dict(zip(names, map(int, errors.groups()), strict=True)) if errors else {}
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        requests=int(count.group(1)),
        percentiles_ms=percentiles,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def lua_rotation(paths: list[str], path: Path) -> Path:
    """A wrk script sending ``paths`` in turn (wrk's -H headers, the session cookie, still apply)."""
    quoted = ",\n  ".join('"' + quote_path(p).replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    path.write_text(
        "local paths = {\n  " + quoted + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n",
        encoding="utf-8",
    )
    return path


def run_wrk(
    url: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    cookie: str | None = None,
    script: Path | None = None,
) -> WrkResult:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency"]
    command += ["--timeout", "30s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if script:
        command += ["-s", str(script)]
    completed = subprocess.run([*command, quote_path(url)], capture_output=True, text=True, timeout=seconds + 120)
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    result = parse_wrk(completed.stdout)
    if result.non_2xx_3xx:
        raise BenchError(f"{url}: {result.non_2xx_3xx} of {result.requests} responses were errors")
    if result.requests == 0:
        raise BenchError(f"{url}: wrk completed no request")
    return result


# --- Celery ---------------------------------------------------------------------------------------------


@dataclass
class CeleryWorker:
    """A Celery worker of the app (``python -m workers worker``, as the Procfile starts it) for one measurement,
    with the solo pool: the worker process itself runs the jobs, so its ``VmHWM`` is the peak memory of the
    process that wrote the file.

    ``--purge`` drops messages left in the queue by earlier runs (the benchmark's ``REDIS_URL`` is its own)."""

    env: dict[str, str]
    log_path: Path
    name: str = "bench"
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 120) -> CeleryWorker:
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workers",
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--purge",
                "--hostname",
                f"{self.name}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"\bready\.", self.log_path.read_text(errors="replace")):
                return self
            if self.process.poll() is not None:
                raise BenchError(f"the Celery worker exited at start:\n{self.log_tail()}")
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"the Celery worker did not get ready:\n{self.log_tail()}")

    def memory_mb(self) -> dict[str, float]:
        """Resident memory of the worker process now and its peak (``VmHWM``)."""
        status = proc_status(self.process.pid) if self.process else {}
        return {"rss_mb": status.get("VmRSS", 0) / 1024, "peak_mb": status.get("VmHWM", 0) / 1024}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- child processes ------------------------------------------------------------------------------------


@dataclass
class ProcessRun:
    seconds: float
    peak_mb: float
    output: str


def timed_process(command: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> ProcessRun:
    """Run ``command``; its wall time and peak resident memory (from the kernel's rusage of the child)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        peak = _PeakWatcher(process.pid)
        peak.start()
        try:
            _pid, status, _usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
            peak.stop()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise BenchError(f"{' '.join(command[:3])} failed ({process.returncode}):\n{output[-2000:]}")
    return ProcessRun(seconds=seconds, peak_mb=peak.peak_kb / 1024, output=output)


class _PeakWatcher(threading.Thread):
    """Follows a child's VmHWM (its own high-water mark of resident memory) until it exits.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark over a fork and exec, so a child of this
    (large) process would report at least this process's size.
    """

    def __init__(self, pid: int, interval: float = 0.005):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, proc_status(self.pid).get("VmHWM", 0))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()
