"""What every `legajo` command shares: options, the exit-code table, errors, progress.

Exit codes of every command:

====  ===========================================================================
code  meaning
====  ===========================================================================
0     everything went well
1     the command could not run (model or database unavailable, unwritable file)
2     usage error (bad option, malformed query, missing path or input, unknown collection,
      a home folder or database that does not exist given to a command that only reads)
3     some inputs failed (``index``, ``import``, ``transcribe``, ``eval``); the others were
      processed
4     ``check`` found drifted index files
130   interrupted (Ctrl-C)
141   the reader of the output went away (``legajo search ... | head``), as for SIGPIPE
====  ===========================================================================
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.default_model import default_model_path
from htr.errors import LegajoError
from htr.recognizer import DEVICES, RecognizerSettings
from indexer.errors import (
    DatabaseMissingError,
    DatabaseUrlError,
    InputPathError,
    UnknownCollectionError,
    UnknownModelError,
)
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
    DatabaseMissingError,
    DatabaseUrlError,
    InputPathError,
    UnknownCollectionError,
    UnknownModelError,
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


def non_negative_float(value: str) -> float:
    """Parses a command-line number that must be finite and not negative."""
    number = float(value)
    if not 0.0 <= number < math.inf:  # NaN too
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, not {value}")
    return number


def probability(value: str) -> float:
    """Parses a command-line number between 0 and 1."""
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return number


# --- shared options -------------------------------------------------------------------------


def ray_only_options(args: argparse.Namespace) -> list[str]:
    """The Ray engine's options given without ``--engine ray`` (a usage error).

    Args:
        args: Parsed options of a command with ``--engine``, ``--address``, ``--workers``
            and ``--gpus-per-worker``.

    Returns:
        The names of those given, empty when none was or the engine is ``ray``.
    """
    if args.engine == "ray":
        return []
    given = (
        ("--address", args.address is not None),
        ("--workers", args.workers != 1),
        ("--gpus-per-worker", args.gpus_per_worker != 0.0),
    )
    return [option for option, was_given in given if was_given]


def add_engine_arguments(
    parser: argparse.ArgumentParser,
    *,
    description: str,
    local: str,
    worker: str,
    gpus: str,
) -> None:
    """Adds the ``engine`` group: ``--engine local|ray`` and the Ray engine's options.

    Args:
        parser: The command's parser.
        description: What the group is for and what the Ray engine needs.
        local: What ``--engine local`` does (the help of ``--engine`` goes on from there).
        worker: What each Ray worker holds or does (help of ``--workers``).
        gpus: What a Ray worker uses its GPUs for, appended to "GPUs per Ray worker" in
            the help of ``--gpus-per-worker`` (e.g. ``" for reading"``).
    """
    engine = parser.add_argument_group("engine", description)
    engine.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help=f"local: {local} (default); ray: Ray workers",
    )
    engine.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray cluster to use, host:port of its head (default: start a local one)",
    )
    engine.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help=f"Ray workers, {worker} (default 1)",
    )
    engine.add_argument(
        "--gpus-per-worker",
        type=non_negative_float,
        default=0.0,
        metavar="G",
        help=f"GPUs per Ray worker{gpus}, fractions share one (default 0: CPU)",
    )


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


def add_model_arguments(
    parser: argparse.ArgumentParser, *, collection_default: bool = False
) -> None:
    """Adds the options that choose and tune the recognizer.

    Args:
        parser: The command's parser.
        collection_default: Without ``--model``, the command reads with its collection's
            active model (``args.model`` is None; see `model_for_collection`).
    """
    if collection_default:
        parser.add_argument(
            "--model",
            default=None,
            metavar="NAME|PATH",
            help="a model of this home (legajo models list), a TrOCR checkpoint directory or "
            "a Hugging Face hub name (default: the collection's active model, else "
            f"${MODEL_VARIABLE} or the bundled model)",
        )
    else:
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
        help="lines per batch (default 64)",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: auto")
    parser.add_argument(
        "--lm-weight",
        type=non_negative_float,
        metavar="W",
        help="weight of the model's character language model (char_lm.npz) in beam search; "
        "0 reads without it (default: the weight stored with it)",
    )


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


def model_for_collection(repository: Repository, model: str | None, collection: str) -> str:
    """What to load for a command that reads a collection: ``--model``, else its active model.

    A registry name given to ``--model`` stands for its checkpoint folder; a collection
    read by the bundled model is read by ``$LEGAJO_MODEL`` when that is set.
    """
    from indexer.adaptation.registry import reading_model
    from indexer.store.model_registry import ModelRegistry

    chosen = reading_model(ModelRegistry(repository.database), model, collection)
    if model is None and chosen.record is None:  # bundled, unless the environment says else
        return os.environ.get(MODEL_VARIABLE, chosen.source)
    return chosen.source


def recognizer_settings(args: argparse.Namespace) -> RecognizerSettings:
    """Builds recognizer settings from parsed model arguments."""
    return RecognizerSettings(
        beams=args.beams,
        n_best=args.n_best,
        batch_size=args.batch_size,
        device=args.device,
        lm_weight=args.lm_weight,
    )


# --- opening, errors ------------------------------------------------------------------------


def open_repository(args: argparse.Namespace, *, create: bool = True) -> Repository:
    """Opens the database that ``--home`` / ``--db`` (or the environment) name.

    Args:
        args: Parsed arguments with ``--home`` and ``--db``.
        create: Create the home folder and the database when they do not exist (commands
            that write). False for commands that only read: they refuse a home folder or a
            database that does not exist instead of creating an empty one.

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseMissingError: If `create` is False and the database, or the home folder
            that holds it, does not exist (with ``--db``, the home folder may be missing:
            it only holds index files then).
        DatabaseOpenError: If the database cannot be opened or migrated.
    """
    from indexer.store.db import open_database, open_existing_database
    from indexer.store.repository import Repository

    storage = resolve_storage(args.home, args.db)
    if create:
        return Repository(open_database(storage.database_url))
    if storage.uses_default_database and not storage.home.is_dir():
        raise DatabaseMissingError(f"there is no legajo home folder at {storage.home}")
    return Repository(open_existing_database(storage.database_url))


def run_with_repository(
    args: argparse.Namespace,
    body: Callable[[Repository], int],
    usage: tuple[type[LegajoError], ...] = (),
    *,
    create: bool = True,
) -> int:
    """Opens the database, runs `body` on it, reports its errors and closes the database.

    Args:
        args: Parsed arguments with ``--home`` and ``--db``.
        body: The command's work; returns the exit code.
        usage: Further errors of `body` that count as usage errors (see `fail`).
        create: False for commands that only read (see `open_repository`).

    Returns:
        The exit code of `body`, or of its error.
    """
    try:
        repository = open_repository(args, create=create)
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
    # A library may lower its own loggers' level (training logs INFO to its run's file):
    # what reaches stderr stays at the level asked for here.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


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


PLAIN_INTERVAL_S = 10.0
"""Seconds between two plain progress lines when stderr is not a terminal."""


class Progress:
    """The one progress reporter of the command line, on stderr.

    On a terminal it is a tqdm bar. Anywhere else (``nohup``, cron, SLURM, CI, a pipe) it
    writes plain lines, one when the work starts, then at most one every
    `PLAIN_INTERVAL_S` seconds, and one at the end::

        indexing: 12/340 pages (3.5%), 0.41 pages/s, ETA 13m20s [indexed 11, failed 1]

    Commands feed it from the callbacks of the libraries (which never print): `set_total`
    once the amount of work is counted, `advance` or `move_to` as it is done, `count` for
    the tallies shown after it (indexed, skipped, failed...), `describe` for what happens
    now. Nothing is shown before the first report, so a command that reports nothing shows
    nothing; with `delay_s`, nothing is shown unless the work lasts that long.

    Args:
        description: What is done ("indexing"); the start of every line.
        unit: What is counted, singular ("page").
        total: The amount of work, when known from the start.
        delay_s: Show nothing until this many seconds after the first report.
        fractional: The units are only a measure of the share done (training's per
            mille): plain lines show the percentage, not the units.
    """

    def __init__(
        self,
        description: str,
        unit: str,
        total: int | None = None,
        *,
        delay_s: float = 0.0,
        fractional: bool = False,
    ) -> None:
        self._description = description
        self._unit = unit
        self._total = total
        self._delay_s = delay_s
        self._fractional = fractional
        self._stream = sys.stderr
        self._plain = not _is_terminal(self._stream)
        self._bar: tqdm[Any] | None = None
        self._bar_status = ""
        self._counts: dict[str, int] = {}
        self._postfix: dict[str, Any] = {}
        self._status = ""
        self._done = 0
        self._eta_s: float | None = None
        self._first_report: float | None = None
        self._anchor: tuple[float, int] | None = None
        self._last_line_at: float | None = None
        self._last_line = ""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_total(self, total: int) -> None:
        """Sets the amount of work, now counted: the work starts."""
        self._total = total
        self._start_clock(anchor=True)
        self._show(refresh=True)

    def advance(self, amount: int = 1) -> None:
        """Counts `amount` more units done."""
        self._done += amount
        self._start_clock(anchor=True)
        self._show()

    def move_to(self, done: int, total: int | None = None, *, eta_s: float | None = None) -> None:
        """Sets the units done (and the total when given).

        Args:
            done: Units done.
            total: The amount of work, when it changes.
            eta_s: The time left as the work itself estimates it (training knows its time
                budget), shown instead of the estimate from the rate so far.
        """
        if total is not None:
            self._total = total
        self._eta_s = eta_s
        self._done = done
        self._start_clock(anchor=True)
        self._show(refresh=total is not None)

    def count(self, outcome: str) -> None:
        """Adds one to the tally of `outcome` shown after the progress."""
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        self._start_clock(anchor=False)
        if self._bar is not None:
            self._bar.set_postfix(self._postfix_values(), refresh=False)

    def describe(self, description: str, **postfix: Any) -> None:
        """Says what happens now (and replaces the values shown after the progress)."""
        self._status = description
        if postfix:
            self._postfix = dict(postfix)
        self._start_clock(anchor=False)
        self._show(refresh=True)

    def close(self) -> None:
        """Ends the display: closes the bar, or writes the last plain line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._plain and self._first_report is not None and self._past_delay():
            line = self.line()
            if line != self._last_line:
                self._write(line)
        self._first_report = None

    def line(self) -> str:
        """The plain progress line of the work so far (without the time it was written)."""
        parts: list[str] = []
        units = f"{self._unit}s" if self._unit.isalpha() else self._unit
        total = self._total
        share = self._done / total if total else None
        if self._fractional:
            parts.append("" if share is None else f"{100 * share:.1f}%")
        elif total is None:
            parts.append(f"{self._done} {units}")
        else:
            percent = "" if share is None else f" ({100 * share:.1f}%)"
            parts.append(f"{self._done}/{total} {units}{percent}")
        rate = self._rate()
        if rate is not None and not self._fractional:
            parts.append(f"{_number(rate)} {units}/s")
        if self._eta_s is not None:
            parts.append(f"ETA {format_duration(self._eta_s)}")
        elif rate and total is not None and self._done < total:
            parts.append(f"ETA {format_duration((total - self._done) / rate)}")
        extras = [self._status] if self._status else []
        extras += [f"{key} {value}" for key, value in self._postfix_values().items()]
        line = f"{self._description}: " + ", ".join(part for part in parts if part)
        return line + (f" [{', '.join(extras)}]" if extras else "")

    # -- internals ---------------------------------------------------------------------------

    def _postfix_values(self) -> dict[str, Any]:
        """The tallies and the values given to `describe`, shown after the progress."""
        return {**self._counts, **self._postfix}

    def _start_clock(self, *, anchor: bool) -> None:
        now = time.monotonic()
        if self._first_report is None:
            self._first_report = now
        if anchor and self._anchor is None:
            self._anchor = (now, self._done)

    def _rate(self) -> float | None:
        """Units per second since the work was first measured, None before it can be told."""
        if self._anchor is None:
            return None
        started, done_then = self._anchor
        elapsed = time.monotonic() - started
        if elapsed <= 0 or self._done <= done_then:
            return None
        return (self._done - done_then) / elapsed

    def _past_delay(self) -> bool:
        return self._first_report is not None and (
            time.monotonic() - self._first_report >= self._delay_s
        )

    def _show(self, *, refresh: bool = False) -> None:
        if self._plain:
            self._show_plain()
            return
        bar = self._tqdm()
        if bar.total != self._total:
            bar.total = self._total
        if self._status != self._bar_status:
            bar.set_description(self._status or self._description, refresh=False)
            self._bar_status = self._status
        if self._postfix or self._counts or self._eta_s is not None:
            postfix = self._postfix_values()
            if self._eta_s is not None:
                postfix["eta"] = format_duration(self._eta_s)
            bar.set_postfix(postfix, refresh=False)
        if self._done != bar.n:
            bar.update(self._done - bar.n)
        elif refresh:
            bar.refresh()

    def _show_plain(self) -> None:
        if not self._past_delay():
            return
        now = time.monotonic()
        if self._last_line_at is not None and now - self._last_line_at < PLAIN_INTERVAL_S:
            return
        self._write(self.line())

    def _write(self, line: str) -> None:
        self._last_line_at = time.monotonic()
        self._last_line = line
        print(line, file=self._stream, flush=True)

    def _tqdm(self) -> tqdm[Any]:
        """The tqdm bar, created on first use."""
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                desc=self._description,
                unit=self._unit,
                total=self._total,
                file=self._stream,
                dynamic_ncols=True,
                delay=self._delay_s,
            )
        return self._bar


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _number(value: float) -> str:
    """A rate for people: 0.41, 3.5, 120."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def format_duration(seconds: float) -> str:
    """A duration for people: ``45s``, ``13m20s``, ``2h05m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
