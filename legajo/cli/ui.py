"""`legajo ui`: starts the Streamlit workbench (package `ui`) as a child process.

The app reads its settings from the environment this command gives the child process
(`ui.config`, which documents the variables). Streamlit's own settings (address, port,
headless, no usage statistics, no file watcher) are passed as its command-line options.

A database without accounts lets whoever reaches the workbench edit everything, so then it
listens on this computer only: another ``--host`` is refused (exit code 2) unless
``--no-auth`` is given, which starts it with a loud warning
(`indexer.accounts.binding.check_binding`). With accounts, every session logs in first.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from htr.errors import LegajoError
from indexer.errors import (
    DatabaseMissingError,
    DatabaseOpenError,
    DatabaseUrlError,
    IndexerError,
)
from indexer.settings import StorageSettings, resolve_storage
from legajo.cli.common import EXIT_FAILED, EXIT_USAGE, add_storage_arguments, print_error
from ui.config import APP_SCRIPT, UI_LANGUAGES, ui_environment

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


class UiUnavailableError(IndexerError):
    """Streamlit or the workbench's entry script is not installed."""


def add_ui_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo ui`."""
    parser = commands.add_parser(
        "ui",
        help="start the workbench in the browser: search, look at pages, correct",
        description="Start legajo's workbench (a Streamlit app) on a local address: search the "
        "indexed pages, look at the hits on the page images, correct lines and review the "
        "doubtful ones. Stop it with Ctrl-C.",
    )
    add_storage_arguments(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this computer only); another "
        "needs accounts (legajo users add) or --no-auth",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="listen on a --host beyond this computer although the database has no accounts: "
        "anyone on the network can read and edit",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="show no editing controls and refuse every correction on the server",
    )
    parser.add_argument(
        "--language",
        choices=UI_LANGUAGES,
        default=UI_LANGUAGES[0],
        help="interface language a new session starts in (default: en; switchable in the app)",
    )
    parser.add_argument(
        "--browser", action="store_true", help="open the app in the default web browser"
    )
    parser.set_defaults(run=_run_ui)


def find_app_script() -> Path:
    """The path of ``ui/streamlit_app.py``.

    Raises:
        UiUnavailableError: If the entry script is missing from the installed `ui` package.
    """
    if not APP_SCRIPT.is_file():
        raise UiUnavailableError(f"the workbench's entry script {APP_SCRIPT} is missing")
    return APP_SCRIPT


def streamlit_command(script: Path, *, host: str, port: int, browser: bool) -> list[str]:
    """The command line that serves `script` with Streamlit from this Python."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "false" if browser else "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def check_database(storage: StorageSettings, *, read_only: bool) -> bool:
    """Opens the database once before the app starts, so that problems stop the command.

    A writable start brings the schema up to date; a read-only start writes nothing and
    requires an existing database at the latest schema.

    Returns:
        Whether the database holds accounts (then the app asks every session to log in).

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseMissingError: If, read-only, there is no database or it holds no legajo
            tables.
        DatabaseOpenError: If the database cannot be opened or, read-only, is out of date.
    """
    from indexer.accounts import AccountStore
    from indexer.store.db import open_database, open_existing_database

    if not read_only:
        database = open_database(storage.database_url)
    else:
        try:
            database = open_existing_database(storage.database_url, upgrade=False)
        except DatabaseOpenError as error:  # DatabaseMissingError included
            raise type(error)(f"--read-only: {error}") from error
    try:
        return AccountStore(database).has_accounts()
    finally:
        database.close()


def run_streamlit(command: list[str], environment: Mapping[str, str]) -> int:
    """Runs Streamlit until it ends, passing a SIGTERM on to it.

    Ctrl-C reaches both processes from the terminal, so SIGINT is only waited out here.

    Returns:
        Streamlit's exit code (128 + the signal number when a signal ended it).
    """
    child = subprocess.Popen(command, env=dict(environment))

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous_term = signal.signal(signal.SIGTERM, forward)
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    return 128 - code if code < 0 else code


def _run_ui(args: argparse.Namespace) -> int:
    from indexer.accounts.binding import check_binding
    from indexer.accounts.errors import UnsafeBindingError

    storage = resolve_storage(args.home, args.db)
    try:
        script = find_app_script()
        if importlib.util.find_spec("streamlit") is None:
            raise UiUnavailableError("streamlit is not installed")
        has_accounts = check_database(storage, read_only=args.read_only)
        warning = check_binding(args.host, has_accounts, args.no_auth)
    except (DatabaseUrlError, DatabaseMissingError, UnsafeBindingError) as error:
        print_error(error)
        return EXIT_USAGE
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    if warning is not None:
        print(f"\n{'!' * 78}\n{warning}\n{'!' * 78}\n", file=sys.stderr)
    elif args.no_auth and has_accounts:
        print(
            "legajo: note: --no-auth changes nothing: the database has accounts, so the "
            "workbench asks every session to log in",
            file=sys.stderr,
        )
    environment = ui_environment(storage, read_only=args.read_only, language=args.language)
    command = streamlit_command(script, host=args.host, port=args.port, browser=args.browser)
    logger.info("starting %s", " ".join(command))
    return run_streamlit(command, environment)
