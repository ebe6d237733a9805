"""`legajo reindex` and `legajo check`: rebuild the search index files, or check them.

The index files are caches derived from the database (`indexer.index_files`): `reindex`
rebuilds them from scratch, `check` compares them with their manifests and the database and
says what drifted, and ``check --repair`` fixes it (rebuilding what is broken, bringing stale
indexes up to date).

Exit codes: 0 when everything went well (`check`: every index is sound and up to date), 1
when the command could not run or a rebuild failed (database unavailable, sentence model
unavailable, files that cannot be written), 2 for usage errors, and `EXIT_DRIFT` (4) when
`check` found drift: with ``--repair`` the drift was also repaired, as the report says.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.cli import EXIT_FAILED, EXIT_OK
from htr.errors import LegajoError
from indexer.cli_support import add_storage_arguments, fail, open_repository, print_error
from indexer.index_files import KINDS, SEMANTIC

if TYPE_CHECKING:
    from tqdm import tqdm

    from indexer.index_files import Manifest
    from indexer.repository import Repository

EXIT_DRIFT = 4
"""Exit code of `legajo check` when an index file was missing, broken or behind."""


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
        help="sentence-transformers model for the semantic index (default: the model of the "
        "existing index, else the packaged all-MiniLM-L6-v2)",
    )
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_reindex)


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
    from indexer.index_files import rebuild

    opened = _open(args)
    if isinstance(opened, int):
        return opened
    repository, home = opened
    code = EXIT_OK
    try:
        for kind in [args.only] if args.only else KINDS:
            model = args.semantic_model if kind == SEMANTIC else None
            try:
                with _ProgressBar(kind) as progress:
                    manifest = rebuild(
                        repository, home, kind, semantic_model=model, on_progress=progress.update
                    )
            except (LegajoError, OSError) as error:
                print_error(f"{kind} index: {error}")
                code = EXIT_FAILED
                continue
            print(f"{kind}: {_describe(manifest)} -> {_file_of(repository, home, kind)}")
    finally:
        repository.database.close()
    return code


def _run_check(args: argparse.Namespace) -> int:
    from indexer.index_files import check, repair

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
                with _ProgressBar(status.kind) as progress:
                    [manifest] = repair(repository, home, [status], on_progress=progress.update)
            except (LegajoError, OSError) as error:
                print_error(f"cannot repair the {status.kind} index: {error}")
                return EXIT_FAILED
            print(f"{status.kind}: repaired: {_describe(manifest)}")
        return EXIT_DRIFT
    finally:
        repository.database.close()


def _open(args: argparse.Namespace) -> tuple[Repository, Path] | int:
    """The repository and home folder, or the exit code when the database cannot be used."""
    from indexer.settings import resolve_storage

    try:
        return open_repository(args), resolve_storage(args.home, args.db).home
    except LegajoError as error:
        return fail(error)


def _describe(manifest: Manifest) -> str:
    what = "word forms" if manifest.kind != SEMANTIC else "passages"
    model = f", model {manifest.model_id}" if manifest.model_id else ""
    return (
        f"{manifest.entries:,} {what}, {manifest.size_bytes / 1e6:.1f} MB, "
        f"built in {manifest.build_seconds:.1f} s{model}"
    )


def _file_of(repository: Repository, home: Path, kind: str) -> Path:
    from indexer.index_files import index_folder, index_path

    return index_path(index_folder(home, repository.database.url), kind)


class _ProgressBar:
    """A tqdm bar of the passages embedded while a semantic index is built.

    The bar appears on the first progress report, so a lexical build shows none.
    """

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._bar: tqdm[Any] | None = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bar
        if bar is None:
            bar = self._bar = tqdm(
                desc=f"{self._kind} index",
                unit="passage",
                total=total,
                disable=None,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        bar.total = total
        bar.update(done - bar.n)
