"""`legajo search`, `legajo reindex`, `legajo check`: find lines; rebuild or check the indexes.

`search` prints a table or JSON. The index files are caches derived from the database
(`indexer.search.index_files`): `reindex` rebuilds them from scratch (``--shards``: cut into
shards by id range; ``--engine ray``: the shards built on a Ray cluster), `check` compares them
with their manifests and the database and says what drifted, and ``check --repair`` fixes it
(rebuilding what is broken, bringing stale indexes up to date; exit code 4 either way).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from htr.errors import LegajoError
from indexer.errors import OptionError, SemanticModelError, UnknownCollectionError
from indexer.search.index_files import KINDS, SEMANTIC
from indexer.settings import resolve_storage
from legajo.cli.common import (
    EXIT_DRIFT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Progress,
    add_engine_arguments,
    add_storage_arguments,
    fail,
    non_negative_int,
    open_repository,
    positive_int,
    print_error,
    probability,
    ray_only_options,
)

if TYPE_CHECKING:
    from indexer.search.index_files import Manifest
    from indexer.search.query import QuerySyntaxError
    from indexer.search.service import SearchResult
    from indexer.store.repository import Repository

MODE_CHOICES = ("auto", "exact", "prob", "fuzzy", "semantic")
"""`indexer.search.service.MODES`, repeated so that parsing imports no search service code."""

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
        "--limit", type=positive_int, default=20, metavar="N", help="most hits (default: 20)"
    )
    parser.add_argument(
        "--offset", type=non_negative_int, default=0, metavar="N", help="skip the first N hits"
    )
    parser.add_argument("--collection", metavar="NAME", help="only this collection")
    parser.add_argument(
        "--min-confidence",
        type=probability,
        metavar="P",
        help="only lines whose confidence is at least P (corrected lines always count)",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="time limit (default: 5 s)"
    )
    parser.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_search)


def _run_search(args: argparse.Namespace) -> int:
    from indexer.search.planning import plan_of
    from indexer.search.service import QuerySyntaxError, SearchService

    try:
        plan_of(args.query)  # a malformed query is named before the database is opened
        repository = open_repository(args, create=False)
    except QuerySyntaxError as error:
        return _malformed(error)
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
        return _malformed(error)
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


def _malformed(error: QuerySyntaxError) -> int:
    print_error(f"malformed query: {error}")
    print(error.pointer(), file=sys.stderr)
    return EXIT_USAGE


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


def add_reindex_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo reindex`."""
    parser = commands.add_parser(
        "reindex",
        help="rebuild the search index files from the database",
        description="Rebuild the search index files (lexical: word forms for fuzzy search; "
        "semantic: sentence embeddings of lines and windows) from the database, and write "
        "them atomically with their manifests. The semantic index embeds every line, which "
        "takes long for a large collection on a CPU.",
    )
    parser.add_argument("--only", choices=KINDS, help="rebuild only this index")
    parser.add_argument(
        "--semantic-model",
        metavar="NAME_OR_PATH",
        help="sentence-transformers model for the semantic index: a model directory or a "
        "Hugging Face hub name in the local cache (default: the model of the existing index, "
        "else the packaged all-MiniLM-L6-v2). It is stored with the index: searches, the "
        "workbench and check --repair use it from then on",
    )
    parser.add_argument(
        "--shards",
        type=_shards,
        default="auto",
        metavar="N|auto",
        help="cut each index into N shards by id range, each its own file, searched in "
        "parallel (default: auto, one shard per million entries: one file below that)",
    )
    add_engine_arguments(
        parser,
        description="Where the shards are built. --engine ray needs Ray (pip install "
        "'legajo[ray]') and the index folder and a local --semantic-model at the same paths on "
        "every Ray node; each worker loads the sentence model once and builds whole shards.",
        local="this process, one shard after another",
        worker="each building one shard at a time",
        gpus=" for embedding",
    )
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_reindex)


def _shards(value: str) -> int | str:
    """Parses ``--shards``: a positive number, or ``auto``."""
    return value if value == "auto" else positive_int(value)


def add_check_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo check`."""
    parser = commands.add_parser(
        "check",
        help="check the search index files against the database",
        description="Check each search index file against its manifest and the database: "
        "missing, unreadable (corrupt, truncated), foreign (built for another database), "
        "mismatched (wrong count) or stale (behind the database). Exit code 0 when all are "
        f"sound, {EXIT_DRIFT} when something drifted (with --repair: and was repaired).",
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="rebuild broken indexes and bring stale ones up to date",
    )
    parser.add_argument("--only", choices=KINDS, help="check only this index")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_check)


def _run_reindex(args: argparse.Namespace) -> int:
    from indexer.search.index_files import rebuild

    if ray_only := ray_only_options(args):
        return fail(OptionError(f"{', '.join(ray_only)}: only with --engine ray"), (OptionError,))
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    repository, home = opened
    runner = None
    session = contextlib.ExitStack()
    code = EXIT_OK
    try:
        if args.engine == "ray":
            from indexer.search.ray_shards import RayShardRunner
            from indexer.transfer.ray_engine import RayOptions

            options = RayOptions(
                address=args.address, workers=args.workers, gpus_per_worker=args.gpus_per_worker
            )
            try:  # one connection (or local cluster) for both indexes
                runner = session.enter_context(RayShardRunner(options))
            except LegajoError as error:
                return fail(error)
        for kind in [args.only] if args.only else KINDS:
            model = args.semantic_model if kind == SEMANTIC else None
            try:
                if model is not None:
                    _prepare_semantic_model(repository, home, model)
                with _index_progress(kind) as progress:
                    manifest = rebuild(
                        repository,
                        home,
                        kind,
                        semantic_model=model,
                        on_progress=progress.move_to,
                        shards=args.shards,
                        runner=runner,
                    )
            except (LegajoError, OSError) as error:
                print_error(f"{kind} index: {error}")
                code = EXIT_FAILED
                continue
            print(f"{kind}: {_describe(manifest)} -> {_file_of(repository, home, manifest)}")
    finally:
        session.close()
        repository.database.close()
    return code


def _run_check(args: argparse.Namespace) -> int:
    from indexer.search.index_files import check, repair

    opened = _open(args)
    if isinstance(opened, int):
        return opened
    repository, home = opened
    try:
        try:
            statuses = check(repository, home, [args.only] if args.only else KINDS)
        except LegajoError as error:
            print_error(error)
            return EXIT_FAILED
        for status in statuses:
            state = "ok" if status.problem is None else status.problem.value
            print(f"{status.kind}: {state}: {status.detail}")
        drifted = [status for status in statuses if not status.ok]
        if not drifted:
            return EXIT_OK
        if not args.repair:
            print("run `legajo check --repair` or `legajo reindex` to fix", file=sys.stderr)
            return EXIT_DRIFT
        for status in drifted:
            try:
                with _index_progress(status.kind) as progress:
                    [manifest] = repair(repository, home, [status], on_progress=progress.move_to)
            except (LegajoError, OSError) as error:
                hint = (
                    " (make the model available again, or choose another: legajo reindex "
                    "--only semantic --semantic-model NAME_OR_PATH)"
                    if isinstance(error, SemanticModelError)
                    else ""
                )
                print_error(f"cannot repair the {status.kind} index: {error}{hint}")
                return EXIT_FAILED
            print(f"{status.kind}: repaired: {_describe(manifest)}")
        return EXIT_DRIFT
    finally:
        repository.database.close()


def _open(args: argparse.Namespace) -> tuple[Repository, Path] | int:
    """The repository and home folder, or the exit code when the database cannot be used."""
    try:
        return open_repository(args, create=False), resolve_storage(args.home, args.db).home
    except LegajoError as error:
        return fail(error)


def _prepare_semantic_model(repository: Repository, home: Path, model: str) -> None:
    """Loads the sentence model asked for, and says on stderr when it replaces the index's.

    Raises:
        SemanticModelError: If the model cannot be loaded.
    """
    from indexer.search.index_files import stored_semantic_model
    from indexer.search.semantic import load_sentence_model, resolve_model

    load_sentence_model(model)
    previous = stored_semantic_model(home, repository.database.url)
    wanted = resolve_model(model).model_id
    if previous is not None and previous != wanted:
        print(
            f"semantic: the sentence model changes from {previous} to {wanted}: "
            "every passage is embedded again",
            file=sys.stderr,
        )


def _describe(manifest: Manifest) -> str:
    what = "word forms" if manifest.kind != SEMANTIC else "passages"
    model = f", model {manifest.model_id}" if manifest.model_id else ""
    shards = ""
    if manifest.shards:
        types = ", ".join(shard.index_type for shard in manifest.shards)
        shards = f" in {len(manifest.shards)} shards ({types})"
    return (
        f"{manifest.entries:,} {what}{shards}, {manifest.size_bytes / 1e6:.1f} MB, "
        f"built in {manifest.build_seconds:.1f} s{model}"
    )


def _file_of(repository: Repository, home: Path, manifest: Manifest) -> Path:
    """The index file, or the folder of the shards."""
    from indexer.search.index_files import index_folder, index_path

    folder = index_folder(home, repository.database.url)
    return folder / manifest.file if manifest.shards else index_path(folder, manifest.kind)


def _index_progress(kind: str) -> Progress:
    """The bar of the passages embedded while a semantic index is built.

    It appears on the first progress report, so a lexical build shows none.
    """
    return Progress(f"{kind} index", "passage")
