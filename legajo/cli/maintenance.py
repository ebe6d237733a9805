"""`legajo stats` and `legajo errors`: what the database holds, and what failed to go in."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from legajo.cli.common import EXIT_OK, add_storage_arguments, print_table, run_with_repository

if TYPE_CHECKING:
    from indexer.store.repository import Repository


def add_stats_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo stats`."""
    parser = commands.add_parser(
        "stats",
        help="pages, lines, words, confidence and errors per collection",
        description="Print pages, lines, words, mean word confidence and failed files "
        "per collection.",
    )
    parser.add_argument("--collection", metavar="NAME", help="only this collection")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_stats)


def add_errors_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo errors`."""
    parser = commands.add_parser(
        "errors",
        help="list the files that could not be indexed",
        description="List the files (and pages) that could not be indexed, with the reason; "
        "a file indexed later disappears from the list.",
    )
    parser.add_argument("--collection", metavar="NAME", help="only this collection")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_errors)


def _run_stats(args: argparse.Namespace) -> int:
    def stats(repository: Repository) -> int:
        rows = [
            (
                s.collection,
                str(s.pages),
                str(s.lines),
                str(s.words),
                "-" if s.mean_confidence is None else f"{s.mean_confidence:.3f}",
                str(s.errors),
            )
            for s in repository.stats(args.collection)
        ]
        print_table(("collection", "pages", "lines", "words", "mean conf.", "errors"), rows)
        return EXIT_OK

    return run_with_repository(args, stats, create=False)


def _run_errors(args: argparse.Namespace) -> int:
    def errors(repository: Repository) -> int:
        if args.collection is not None:
            repository.collection_id(args.collection)
        failures = repository.failures(args.collection)
        for failure in failures:
            where = "" if failure.frame is None else f" [frame {failure.frame}]"
            print(
                f"{failure.collection}\t{failure.source_path}{where}\t"
                f"{failure.kind}: {failure.reason}"
            )
        if not failures:
            print("no failed files", file=sys.stderr)
        return EXIT_OK

    return run_with_repository(args, errors, create=False)
