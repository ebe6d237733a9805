"""Runs one background job's command and writes its exit code: ``python -m ui.job_runner``.

``python -m ui.job_runner FOLDER COMMAND...`` runs COMMAND with its standard output in
``FOLDER/result.json`` and its standard error in ``FOLDER/log.txt``, then writes the exit
code to ``FOLDER/rc`` (atomically). `ui.jobs` starts it in a session of its own, so the job
outlives a rerun or a restart of the Streamlit server, and any later server reads how it
ended from the files alone. SIGTERM is passed on to the command. Standard library only: it
starts fast and imports nothing of the workbench.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

RESULT_FILE = "result.json"
"""The command's standard output."""
LOG_FILE = "log.txt"
"""The command's standard error (progress lines, messages)."""
EXIT_CODE_FILE = "rc"
"""The command's exit code, written when it ends (negative: killed by that signal)."""
EXIT_NOT_STARTED = 127
"""The exit code recorded when the command could not be started at all."""


def run_job(folder: Path, command: Sequence[str]) -> int:
    """Runs `command` with its output in `folder` and records its exit code there.

    Args:
        folder: The job's folder (it exists).
        command: The program and its arguments.

    Returns:
        The command's exit code.
    """
    with (
        (folder / RESULT_FILE).open("wb") as result,
        (folder / LOG_FILE).open("wb") as log,
    ):
        try:
            child = subprocess.Popen(
                list(command), stdin=subprocess.DEVNULL, stdout=result, stderr=log
            )
        except OSError as error:
            log.write(f"cannot start {command[0]}: {error}\n".encode())
            code = EXIT_NOT_STARTED
        else:

            def pass_on(signum: int, _frame: FrameType | None) -> None:
                child.send_signal(signum)

            signal.signal(signal.SIGTERM, pass_on)
            code = child.wait()
    write_exit_code(folder, code)
    return code


def write_exit_code(folder: Path, code: int) -> None:
    """Writes ``rc`` through a temporary file, so a reader never sees half of it."""
    partial = folder / f"{EXIT_CODE_FILE}.part"
    partial.write_text(f"{code}\n", encoding="ascii")
    os.replace(partial, folder / EXIT_CODE_FILE)


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: ``FOLDER COMMAND...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m ui.job_runner FOLDER COMMAND...", file=sys.stderr)
        return 2
    run_job(Path(args[0]), args[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
