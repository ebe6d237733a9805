"""Fixtures of the browser tests: `legajo ui` serving an indexed archive, and headless Chromium.

The server is started exactly as a user starts it, through the `legajo ui` command (in a child
process, on 127.0.0.1 and a free port). The browser is Debian's Chromium driven by
Playwright. Without Chromium or Playwright these tests skip, except in CI (``CI`` set), where
they fail: they must run there.

Waits are generous, for busy two-core machines (CI, or a laptop training a model), and end
as soon as what they wait for shows, so they cost nothing when all goes well: the server's
start-up `START_TIMEOUT_S`, a server's first page `FIRST_LOAD_TIMEOUT_MS`, every other wait
(actions, Playwright's ``expect``, a search) `STEP_TIMEOUT_MS`. A failing test's report ends
with the tail of the server's log (its stdout and stderr).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.legajo_serve import free_port, log_tail, wait_until_healthy
from tests.ui.archive import Archive, build_archive

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
FIRST_LOAD_TIMEOUT_MS = 60_000
"""A server's first page: the app's first run imports the pages and opens the database."""
STEP_TIMEOUT_MS = 30_000
"""Every other wait: an action, an ``expect``, a rerun after Enter, a search."""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; its absence fails the run in CI and skips the tests elsewhere."""
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    return CHROMIUM


@dataclass(frozen=True, slots=True)
class Server:
    """A running `legajo ui`."""

    url: str
    archive: Archive
    process: subprocess.Popen[bytes]
    log: Path


def legajo_ui_command() -> list[str]:
    """How to run `legajo ui` from this Python."""
    return [sys.executable, "-m", "legajo", "ui"]


_running_logs: list[Path] = []
"""The logs of the servers running now, for `pytest_runtest_makereport`."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Adds the tail of each running server's log to the report of a failed test."""
    report = yield
    if report.failed:
        for log in _running_logs:
            report.sections.append((f"legajo ui log ({log.name}, last lines)", log_tail(log)))
    return report


@contextlib.contextmanager
def serve(archive: Archive, log: Path, *extra: str) -> Iterator[Server]:
    """Runs `legajo ui` on the archive until the block ends."""
    port = free_port()
    command = [
        *legajo_ui_command(),
        "--home",
        str(archive.storage.home),
        "--port",
        str(port),
        *extra,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log, health="/_stcore/health", name="legajo ui")
        _running_logs.append(log)
        yield Server(url, archive, process, log)
    finally:
        with contextlib.suppress(ValueError):
            _running_logs.remove(log)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, memorised_checkpoint: Path) -> Archive:
    return build_archive(tmp_path_factory.mktemp("e2e") / "home", memorised_checkpoint)


@pytest.fixture(scope="module")
def server(
    archive: Archive, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with serve(archive, tmp_path_factory.mktemp("log") / "legajo-ui.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        from playwright.sync_api import expect

        expect.set_options(timeout=STEP_TIMEOUT_MS)  # Playwright's default is 5 s
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, timeout=FIRST_LOAD_TIMEOUT_MS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    tab.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT_MS)
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder the screenshots go to (git-ignored), emptied once per run."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
