"""The `legajo` command line: htr's commands (`transcribe`, `eval`...) plus the indexer's.

Further indexer commands plug in by adding an ``add_..._command`` call to `build_parser`.

`legajo index` indexes page images into the database, `legajo stats` and `legajo errors`
report on it; `legajo import` stores PAGE XML and ALTO transcriptions made elsewhere, and
`legajo export` writes the pages back out (`indexer.importer`, `indexer.exporter`). Exit
codes: 0 when everything went well, 1 when the command could not run (model or database
unavailable, an export file that cannot be written), 2 for usage errors, 3 when some files
failed to index or import (``--on-error skip``, the default, indexes the others;
``--on-error abort`` stops at the first; imports always go on).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from htr.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_model_arguments,
    quiet_transformers,
    recognizer_settings,
    run_command_line,
)
from htr.cli import (
    build_parser as build_htr_parser,
)
from htr.errors import LegajoError
from indexer.cli_support import add_storage_arguments, fail, open_repository, print_error
from indexer.errors import (
    ExportPathError,
    UnknownCollectionError,
)
from indexer.maintenance_cli import add_check_command, add_reindex_command
from indexer.search_cli import add_search_command
from indexer.train_cli import TRAIN_FROM_DATABASE
from indexer.ui_command import add_ui_command

if TYPE_CHECKING:
    from indexer.exporter import ExportReport
    from indexer.importer import ImportOutcome, ImportReport
    from indexer.ingest import IndexReport, ProgressEvent

logger = logging.getLogger(__name__)

EXIT_SOME_FAILED = 3
"""Exit code of `legajo index` and `legajo import` when some files could not be read."""


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `legajo` command line.

    Args:
        argv: Arguments without the program name; defaults to `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    return run_command_line(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of all `legajo` subcommands: htr's and the indexer's."""
    return build_htr_parser(
        (
            add_index_command,
            add_stats_command,
            add_errors_command,
            add_import_command,
            add_export_command,
            add_search_command,
            add_reindex_command,
            add_check_command,
            add_ui_command,
        ),
        description="Search handwritten archives: transcribe and index page images.",
        train_data=(TRAIN_FROM_DATABASE,),
    )


def add_index_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo index`."""
    parser = commands.add_parser(
        "index",
        help="transcribe page images into the database",
        description="Transcribe page images (JPEG, PNG, TIFF, PDF; folders are walked "
        "recursively) and store every page, its lines, words and alternative readings. "
        "Pages already indexed with the same content and model are skipped, so the same "
        "command resumes an interrupted batch.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--collection", default="default", metavar="NAME", help="collection (default: default)"
    )
    add_storage_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument(
        "--layout",
        choices=["auto", "xml", "own"],
        default="auto",
        help="line polygons from a PAGE/ALTO file next to the image (xml), from our own "
        "segmentation (own), or from the file when there is one (auto, default)",
    )
    parser.add_argument("--lines", action="store_true", help="treat every image as one text line")
    parser.add_argument(
        "--on-error",
        choices=["skip", "abort"],
        default="skip",
        help="on a file that cannot be indexed: record it and go on (skip, default) or stop",
    )
    parser.add_argument(
        "--force", action="store_true", help="re-transcribe pages that are already indexed"
    )
    parser.set_defaults(run=_run_index)


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


def add_import_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo import`."""
    parser = commands.add_parser(
        "import",
        help="store PAGE XML / ALTO transcriptions (Transkribus, eScriptorium) as verified text",
        description="Store the text of PAGE XML (2009-2019) and ALTO (v2-v4) files as "
        "verified transcriptions (folders are walked recursively for *.xml). Each page's "
        "image is looked for next to its XML file (or one folder up from page/ and alto/); "
        "a page whose image is missing is imported all the same and listed. Importing a "
        "file again changes nothing; a newer file for the same image replaces the older "
        "import. Files that cannot be read are listed and the others imported (exit 3).",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--collection", default="default", metavar="NAME", help="collection (default: default)"
    )
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_import)


def add_export_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo export`."""
    parser = commands.add_parser(
        "export",
        help="write the indexed pages as PAGE XML, ALTO, text or JSON",
        description="Write one file per indexed page: PAGE XML 2019 or ALTO 4.4 (words, "
        "word confidences, alternative readings, processing steps), plain text or JSON. "
        "A line's latest correction is its main reading. Files are named after the source "
        "files (plus the page number for multi-page files), in the source folders' "
        "structure; files of an earlier export with the same names are replaced.",
    )
    parser.add_argument(
        "--format",
        choices=["page", "alto", "txt", "json"],
        required=True,
        help="PAGE XML 2019, ALTO 4.4, plain text, or JSON",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write to")
    parser.add_argument(
        "--collection",
        metavar="NAME",
        help="only this collection (default: every collection, each in a subfolder)",
    )
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_export)


def _run_index(args: argparse.Namespace) -> int:
    from htr.pipeline import LayoutMode, PipelineSettings
    from htr.recognizer import load_recognizer
    from indexer.ingest import IndexSettings, OnError, find_inputs, index_paths

    try:
        find_inputs(args.paths)
        repository = open_repository(args)
    except LegajoError as error:
        return fail(error)
    quiet_transformers()
    try:
        recognizer = load_recognizer(args.model, recognizer_settings(args))
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    settings = IndexSettings(
        collection=args.collection,
        pipeline=PipelineSettings(layout=LayoutMode(args.layout), whole_image=args.lines),
        on_error=OnError(args.on_error),
        force=args.force,
    )
    try:
        with _ProgressBar() as progress:
            report = index_paths(args.paths, repository, recognizer, settings, progress.update)
    except LegajoError as error:  # the database failed: pages committed so far are kept
        print_error(error)
        return EXIT_FAILED
    finally:
        repository.database.close()
    _print_summary(report, repository.database.url)
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


class _ProgressBar:
    """A tqdm bar counting pages, fed by `indexer.ingest.ProgressEvent`s."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            desc="indexing", unit="page", total=0, disable=None, file=sys.stderr, dynamic_ncols=True
        )
        self._counts = {"indexed": 0, "skipped": 0, "failed": 0}

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def update(self, event: ProgressEvent) -> None:
        from indexer.ingest import EventKind

        if event.kind is EventKind.FILE_STARTED:
            self._bar.total = (self._bar.total or 0) + event.frames
            self._bar.refresh()
            return
        if event.kind is EventKind.FAILED:
            self._counts["failed"] += 1
            if event.frame is None:  # the file's pages were never counted
                self._bar.total = (self._bar.total or 0) + 1
            step = max(1, event.pages_left)
        else:
            self._counts["indexed" if event.kind is EventKind.PAGE_INDEXED else "skipped"] += 1
            step = 1
        self._bar.set_postfix(self._counts, refresh=False)
        self._bar.update(step)


def _print_summary(report: IndexReport, database_url: str) -> None:
    replaced = f" ({report.replaced} replaced)" if report.replaced else ""
    stopped = ", stopped at the first failure" if report.aborted else ""
    print(
        f"indexed {report.indexed} pages{replaced}, skipped {report.skipped} already indexed, "
        f"{report.failed} failed, {report.files} files in {report.seconds:.1f} s{stopped}"
        f" (run {report.run_id}, {database_url})"
    )
    for failure in report.failures:
        where = "" if failure.frame is None else f" [frame {failure.frame}]"
        print(f"failed: {failure.path}{where}: {failure.reason}", file=sys.stderr)


def _run_import(args: argparse.Namespace) -> int:
    from indexer.importer import find_import_inputs, import_paths

    try:
        inputs = find_import_inputs(args.paths)
        repository = open_repository(args)
    except LegajoError as error:
        return fail(error)
    try:
        with _ImportProgressBar(len(inputs)) as progress:
            report = import_paths(args.paths, repository, args.collection, progress.update)
    except LegajoError as error:  # the database failed: pages committed so far are kept
        print_error(error)
        return EXIT_FAILED
    finally:
        repository.database.close()
    _print_import_summary(report, repository.database.url)
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


class _ImportProgressBar:
    """A tqdm bar counting input files, fed with each file's `ImportOutcome`."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            desc="importing",
            unit="file",
            total=total,
            disable=None,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        self._counts: dict[str, int] = {}

    def __enter__(self) -> _ImportProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def update(self, _path: Path, outcome: ImportOutcome) -> None:
        self._counts[outcome.value] = self._counts.get(outcome.value, 0) + 1
        self._bar.set_postfix(self._counts, refresh=False)
        self._bar.update(1)


def _print_import_summary(report: ImportReport, database_url: str) -> None:
    replaced = f" ({report.replaced} replaced)" if report.replaced else ""
    ignored = f", {report.ignored} other XML files ignored" if report.ignored else ""
    print(
        f"imported {report.imported} pages{replaced}, skipped {report.unchanged} unchanged, "
        f"{report.failed} failed, {report.files} files{ignored} in {report.seconds:.1f} s"
        f" (run {report.run_id}, {database_url})"
    )
    if report.missing_images:
        print(f"{len(report.missing_images)} pages imported without their image (not found)")
    if report.also_indexed:
        print(
            f"{report.also_indexed} imported pages are also transcribed by a model in this "
            "collection: both copies are kept"
        )
    for missing in report.missing_images:
        print(f"no image: {missing.xml_path}: expected {missing.image_path}", file=sys.stderr)
    for failure in report.failures:
        print(f"failed: {failure.path}: {failure.reason}", file=sys.stderr)


def _run_export(args: argparse.Namespace) -> int:
    from indexer.exporter import ExportFormat, export_pages

    try:
        repository = open_repository(args)
    except LegajoError as error:
        return fail(error)
    try:
        with _ExportProgressBar() as progress:
            report = export_pages(
                repository, args.out, ExportFormat(args.format), args.collection, progress.update
            )
    except (UnknownCollectionError, ExportPathError) as error:
        print_error(error)
        return EXIT_USAGE
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    finally:
        repository.database.close()
    _print_export_summary(report)
    return EXIT_OK


class _ExportProgressBar:
    """A tqdm bar counting the files written."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            desc="exporting", unit="page", disable=None, file=sys.stderr, dynamic_ncols=True
        )

    def __enter__(self) -> _ExportProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def update(self, _path: Path, done: int, total: int) -> None:
        self._bar.total = total
        self._bar.update(done - self._bar.n)


def _print_export_summary(report: ExportReport) -> None:
    print(f"exported {len(report.files)} pages to {report.out_dir} in {report.seconds:.1f} s")
    for item in report.renamed:
        where = f" [frame {item.frame}]" if item.frame else ""
        print(
            f"renamed: {item.source_path}{where} written as {item.path} "
            "(another page has the same name)",
            file=sys.stderr,
        )


def _run_stats(args: argparse.Namespace) -> int:
    try:
        repository = open_repository(args)
        stats = repository.stats(args.collection)
    except LegajoError as error:
        return fail(error)
    header = ("collection", "pages", "lines", "words", "mean conf.", "errors")
    rows = [
        (
            s.collection,
            str(s.pages),
            str(s.lines),
            str(s.words),
            "-" if s.mean_confidence is None else f"{s.mean_confidence:.3f}",
            str(s.errors),
        )
        for s in stats
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    repository.database.close()
    return EXIT_OK


def _run_errors(args: argparse.Namespace) -> int:
    try:
        repository = open_repository(args)
        if args.collection is not None:
            repository.collection_id(args.collection)
        failures = repository.failures(args.collection)
    except LegajoError as error:
        return fail(error)
    for failure in failures:
        where = "" if failure.frame is None else f" [frame {failure.frame}]"
        print(
            f"{failure.collection}\t{failure.source_path}{where}\t{failure.kind}: {failure.reason}"
        )
    if not failures:
        print("no failed files", file=sys.stderr)
    repository.database.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
