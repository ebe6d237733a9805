"""What every `legajo` command shares: options, the exit-code table, errors, progress.

Exit codes of every command:

====  ===========================================================================
code  meaning
====  ===========================================================================
0     everything went well
1     the command could not run (model or database unavailable, unwritable file)
2     usage error (bad option, malformed query, missing path, unknown collection)
3     some files failed (``index``, ``import``); the others were processed
4     ``check`` found drifted index files
130   interrupted (Ctrl-C)
141   the reader of the output went away (``legajo search ... | head``), as for SIGPIPE
====  ===========================================================================
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.default_model import default_model_path
from htr.errors import LegajoError
from htr.recognizer import DEVICES, RecognizerSettings
from indexer.errors import DatabaseUrlError, InputPathError, UnknownCollectionError
from indexer.settings import DB_VARIABLE, HOME_VARIABLE, resolve_storage

if TYPE_CHECKING:
    from tqdm import tqdm

    from indexer.store.repository import Repository

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_DRIFT = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

MODEL_VARIABLE = "LEGAJO_MODEL"
"""Environment variable naming the model of ``--model`` when the option is not given."""

USAGE_ERRORS: tuple[type[LegajoError], ...] = (
    DatabaseUrlError,
    InputPathError,
    UnknownCollectionError,
)
"""Errors that mean the command line itself is wrong (exit code 2)."""


# --- option types ---------------------------------------------------------------------------


def positive_int(value: str) -> int:
    """Parses a command-line integer that must be at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def non_negative_int(value: str) -> int:
    """Parses a command-line integer that must not be negative."""
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {number}")
    return number


def probability(value: str) -> float:
    """Parses a command-line number between 0 and 1."""
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return number


# --- shared options -------------------------------------------------------------------------


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


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options that choose and tune the recognizer."""
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_VARIABLE, str(default_model_path())),
        metavar="NAME|PATH",
        help="TrOCR checkpoint directory or Hugging Face hub name (default: the bundled model)",
    )
    parser.add_argument(
        "--beams", type=positive_int, default=5, metavar="N", help="beam width (default 5)"
    )
    parser.add_argument(
        "--n-best",
        type=positive_int,
        default=5,
        metavar="N",
        help="alternative readings kept per line (default 5, at most --beams)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="lines per batch (default 16 CPU, 64 GPU)",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: auto")


def add_layout_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``--layout``: where a page's line polygons come from."""
    parser.add_argument(
        "--layout",
        choices=["auto", "xml", "own"],
        default="auto",
        help="line polygons from a PAGE/ALTO file next to the image (xml), from our own "
        "segmentation (own), or from the file when there is one (auto, default)",
    )


def add_lines_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``--lines``: every image is one text line."""
    parser.add_argument("--lines", action="store_true", help="treat every image as one text line")


def recognizer_settings(args: argparse.Namespace) -> RecognizerSettings:
    """Builds recognizer settings from parsed model arguments."""
    return RecognizerSettings(
        beams=args.beams, n_best=args.n_best, batch_size=args.batch_size, device=args.device
    )


# --- opening, errors ------------------------------------------------------------------------


def open_repository(args: argparse.Namespace) -> Repository:
    """Opens the database that ``--home`` / ``--db`` (or the environment) name.

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseOpenError: If the database cannot be opened or migrated.
    """
    from indexer.store.db import open_database
    from indexer.store.repository import Repository

    storage = resolve_storage(args.home, args.db)
    return Repository(open_database(storage.database_url))


def run_with_repository(
    args: argparse.Namespace,
    body: Callable[[Repository], int],
    usage: tuple[type[LegajoError], ...] = (),
) -> int:
    """Opens the database, runs `body` on it, reports its errors and closes the database.

    Args:
        args: Parsed arguments with ``--home`` and ``--db``.
        body: The command's work; returns the exit code.
        usage: Further errors of `body` that count as usage errors (see `fail`).

    Returns:
        The exit code of `body`, or of its error.
    """
    try:
        repository = open_repository(args)
    except LegajoError as error:
        return fail(error)
    try:
        return body(repository)
    except LegajoError as error:  # what was committed before the error is kept
        return fail(error, usage)
    finally:
        repository.database.close()


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


# --- output ---------------------------------------------------------------------------------


def configure_logging(verbosity: int) -> None:
    """Logs warnings (0), information (1) or everything (2 and more) to stderr."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def quiet_transformers() -> None:
    """Keeps transformers' own progress bars and notices off the terminal."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], left: int = 1) -> None:
    """Prints rows in aligned columns: the first `left` columns left-aligned, the rest right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(width) if i < left else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )


class Progress:
    """The one progress bar of the command line: a tqdm bar on stderr, shown on terminals.

    Commands feed it from the callbacks of the libraries (which never print): `set_total`
    as the amount of work becomes known, `advance` or `move_to` as it is done, and `count`
    for the tallies shown after the bar (indexed, skipped, failed...). The bar is created
    on first use, so a command that reports nothing shows none.
    """

    def __init__(self, description: str, unit: str, total: int | None = None) -> None:
        self._description = description
        self._unit = unit
        self._total = total
        self._bar: tqdm[Any] | None = None
        self._counts: dict[str, int] = {}

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bar(self) -> tqdm[Any]:
        """The tqdm bar, created on first use."""
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                desc=self._description,
                unit=self._unit,
                total=self._total,
                disable=None,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        return self._bar

    def set_total(self, total: int) -> None:
        """Sets the amount of work now known."""
        self.bar.total = total
        self.bar.refresh()

    def add_to_total(self, amount: int) -> None:
        """Adds to the amount of work."""
        self.set_total((self.bar.total or 0) + amount)

    def advance(self, amount: int = 1) -> None:
        """Counts `amount` more units done."""
        self.bar.update(amount)

    def move_to(self, done: int, total: int | None = None) -> None:
        """Sets the units done (and the total when given)."""
        if total is not None:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def count(self, outcome: str) -> None:
        """Adds one to the tally of `outcome` shown after the bar."""
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        self.bar.set_postfix(self._counts, refresh=False)

    def describe(self, description: str, **postfix: Any) -> None:
        """Replaces the description (and the values shown after the bar)."""
        self.bar.set_description(description, refresh=False)
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        """Closes the bar, if it was shown."""
        if self._bar is not None:
            self._bar.close()
