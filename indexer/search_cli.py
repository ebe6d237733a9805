"""`legajo search QUERY`: find lines in the database, as a table or as JSON.

Exit codes: 0 when the search ran (with or without hits), 1 when it could not run (database
unavailable, time limit reached, index unusable), 2 for usage errors (malformed query,
unknown collection, bad option values).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from htr.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from htr.errors import LegajoError
from indexer.cli_support import add_storage_arguments, fail, open_repository, print_error
from indexer.errors import UnknownCollectionError

if TYPE_CHECKING:
    from indexer.search import SearchResult

MODE_CHOICES = ("auto", "exact", "prob", "fuzzy", "semantic")
"""`indexer.search.MODES`, repeated here so that ``legajo --help`` imports no search code."""

_TEXT_WIDTH = 70


def add_search_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo search`."""
    parser = commands.add_parser(
        "search",
        help="search the indexed lines",
        description='Search the indexed lines. Query syntax: words, "quoted phrases", '
        "OR between terms, -excluded terms, a trailing * for prefixes. Modes: exact (the "
        "best reading only), prob (every n-best reading, by probability), fuzzy (near "
        "misses of the recognizer), semantic (by meaning), auto (prob with spelling "
        "variants and near misses; the default).",
    )
    parser.add_argument("query", metavar="QUERY", help="the query (quote it in the shell)")
    parser.add_argument("--mode", choices=MODE_CHOICES, default="auto", help="(default: auto)")
    parser.add_argument(
        "--limit", type=_positive_int, default=20, metavar="N", help="most hits (default: 20)"
    )
    parser.add_argument(
        "--offset", type=_non_negative_int, default=0, metavar="N", help="skip the first N hits"
    )
    parser.add_argument("--collection", metavar="NAME", help="only this collection")
    parser.add_argument(
        "--min-confidence",
        type=_probability,
        metavar="P",
        help="only lines whose confidence is at least P (corrected lines always count)",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="time limit (default: 5 s)"
    )
    parser.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_search)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {number}")
    return number


def _probability(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return number


def _run_search(args: argparse.Namespace) -> int:
    from indexer.search import QuerySyntaxError, SearchService
    from indexer.settings import resolve_storage

    try:
        repository = open_repository(args)
    except LegajoError as error:
        return fail(error)
    try:
        service = SearchService(repository, resolve_storage(args.home, args.db).home)
        result = service.search(
            args.query,
            mode=args.mode,
            limit=args.limit,
            offset=args.offset,
            collection=args.collection,
            min_confidence=args.min_confidence,
            timeout_s=args.timeout,
        )
    except QuerySyntaxError as error:
        print_error(f"malformed query: {error}")
        print(error.pointer(), file=sys.stderr)
        return EXIT_USAGE
    except UnknownCollectionError as error:
        print_error(error)
        return EXIT_USAGE
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    finally:
        repository.database.close()
    if args.json:
        json.dump([hit.to_json() for hit in result.hits], sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        _print_table(result)
    return EXIT_OK


def _print_table(result: SearchResult) -> None:
    if not result.hits:
        print(f"no hits ({result.mode}, {result.elapsed_s * 1000:.0f} ms)", file=sys.stderr)
        return
    header = ("score", "page", "line", "text")
    rows = [
        (
            f"{hit.score:.3f}",
            f"{hit.page}" + (f" [{hit.frame}]" if hit.frame else ""),
            str(hit.line_id),
            _shorten(hit.text),
        )
        for hit in result.hits
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2])]
        print("  ".join([*cells, row[3]]))
    shown = f"{len(result.hits)} of {result.total}"
    print(f"{shown} hits ({result.mode}, {result.elapsed_s * 1000:.0f} ms)", file=sys.stderr)


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _TEXT_WIDTH else flat[: _TEXT_WIDTH - 1] + "…"
