"""Runs `legajo serve` on an archive, as a user starts it, for the tests of the HTTP server.

The server is a child process on 127.0.0.1 and a free port; `running_server` waits for its
health check (``/api/health``) and stops the whole process group afterwards. A failed start
raises with the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0
"""Seconds for `legajo serve` to answer its health check on a busy two-core machine."""
LOG_TAIL_LINES = 60


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the server's log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(no log at {log}: {error})"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


def wait_until_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    health: str = "/api/health",
    name: str = "legajo serve",
) -> None:
    """Polls a server's health check until it answers 200; fails with its log if it does not.

    Args:
        url: The server's base URL.
        process: The server's process (its exit ends the wait).
        log: Its stdout and stderr, for the failure's message.
        health: The health check's path.
        name: The command, for the failure's message.
    """
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_S:
        if process.poll() is not None:
            raise AssertionError(
                f"{name} exited with {process.returncode} while starting; its log ends:\n"
                f"{log_tail(log)}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}{health}", timeout=5) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.25)
    raise AssertionError(
        f"{name} did not answer {url}{health} within {START_TIMEOUT_S:.0f} s; "
        f"its log ends:\n{log_tail(log)}"
    )


@contextlib.contextmanager
def running_server(home: Path, log: Path, *extra: str) -> Iterator[str]:
    """Runs ``legajo serve --home HOME`` until the block ends; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "legajo",
        "serve",
        "--home",
        str(home),
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
        wait_until_healthy(url, process, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
