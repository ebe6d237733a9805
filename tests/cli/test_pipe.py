"""`legajo ... | head`: a reader that goes away ends the command quietly, as SIGPIPE would."""

from __future__ import annotations

import subprocess
import sys

from legajo.cli.common import EXIT_BROKEN_PIPE

# A command that prints far more than a pipe holds, run by the real command-line driver.
_PRINTS_MUCH = """
import argparse, sys
from legajo.cli.main import run_command_line
parser = argparse.ArgumentParser(prog="legajo")
parser.add_argument("-v", dest="verbose", action="count", default=0)
much = parser.add_subparsers().add_parser("much")
much.set_defaults(run=lambda args: [print("x" * 100) for _ in range(100_000)] and 0)
sys.exit(run_command_line(parser, ["much"]))
"""


def test_a_closed_pipe_ends_quietly() -> None:
    legajo = subprocess.Popen(
        [sys.executable, "-c", _PRINTS_MUCH], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert legajo.stdout is not None and legajo.stderr is not None
    assert legajo.stdout.read(10) == b"x" * 10
    legajo.stdout.close()
    assert legajo.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert legajo.stderr.read() == b""
