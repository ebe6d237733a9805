"""What every database-backed `legajo` command shares: storage options, opening, error reports.

Exit codes of these commands: 0 when everything went well, 1 when the command could not run
(database or model unavailable), 2 for usage errors (a bad database URL, a path or
collection that does not exist), 3 when some files failed (``index``, ``import``), 4 when
``check`` found drifted index files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from htr.cli import EXIT_FAILED, EXIT_USAGE
from htr.errors import LegajoError
from indexer.errors import DatabaseUrlError, InputPathError, UnknownCollectionError
from indexer.settings import DB_VARIABLE, HOME_VARIABLE, resolve_storage

if TYPE_CHECKING:
    from indexer.repository import Repository

USAGE_ERRORS: tuple[type[LegajoError], ...] = (
    DatabaseUrlError,
    InputPathError,
    UnknownCollectionError,
)
"""Errors that mean the command line itself is wrong (exit code 2)."""


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--home`` and ``--db``."""
    parser.add_argument(
        "--home",
        type=Path,
        metavar="DIR",
        help=f"legajo's data folder (default: ${HOME_VARIABLE} or ./legajo-data)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"SQLAlchemy database URL (default: ${DB_VARIABLE} or SQLite <home>/legajo.db)",
    )


def open_repository(args: argparse.Namespace) -> Repository:
    """Opens the database that ``--home`` / ``--db`` (or the environment) name.

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseOpenError: If the database cannot be opened or migrated.
    """
    from indexer.db import open_database
    from indexer.repository import Repository

    storage = resolve_storage(args.home, args.db)
    return Repository(open_database(storage.database_url))


def print_error(message: object) -> None:
    """Prints ``legajo: error: <message>`` on stderr."""
    print(f"legajo: error: {message}", file=sys.stderr)


def fail(error: LegajoError, usage: tuple[type[LegajoError], ...] = ()) -> int:
    """Reports a command's error and returns its exit code.

    Args:
        error: What went wrong.
        usage: Further error types that count as usage errors for this command.

    Returns:
        2 for usage errors (`USAGE_ERRORS` and `usage`), 1 otherwise.
    """
    print_error(error)
    return EXIT_USAGE if isinstance(error, USAGE_ERRORS + usage) else EXIT_FAILED
