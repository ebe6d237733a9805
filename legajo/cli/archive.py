"""`legajo index`, `legajo import`, `legajo export`: pages into the database and back out.

`index` transcribes page images into the database, in this process (``--engine local``, the
default) or on a Ray cluster (``--engine ray``, `indexer.transfer.ray_engine`); `import`
stores PAGE XML and ALTO transcriptions made elsewhere as verified text; `export` writes the
pages back out (`indexer.transfer`). ``--on-error skip``, the default, indexes the other
files when one fails (exit code 3); ``--on-error abort`` stops at the first; imports always
go on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from htr.errors import LegajoError
from indexer.errors import ExportPathError, OptionError
from legajo.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    Progress,
    add_engine_arguments,
    add_layout_argument,
    add_lines_argument,
    add_model_arguments,
    add_storage_arguments,
    fail,
    model_for_collection,
    quiet_transformers,
    ray_only_options,
    recognizer_settings,
    run_with_repository,
)

if TYPE_CHECKING:
    from indexer.store.repository import Repository
    from indexer.transfer.exporter import ExportReport
    from indexer.transfer.importer import ImportOutcome, ImportReport
    from indexer.transfer.ingest import IndexReport, IndexSettings, ProgressEvent
    from indexer.transfer.inputs import InputEntry


def add_index_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo index`."""
    parser = commands.add_parser(
        "index",
        help="transcribe page images into the database",
        description="Transcribe page images (JPEG, PNG, TIFF, PDF; folders are walked "
        "recursively) and store every page, its lines, words and alternative readings. "
        "Pages already indexed with the same content are skipped, so the same command "
        "resumes an interrupted batch; a page another model read is not stored twice "
        "(legajo reread reads it again in place, --force replaces that reading unless "
        "people corrected it).",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--collection", default="default", metavar="NAME", help="collection (default: default)"
    )
    add_storage_arguments(parser)
    add_model_arguments(parser, collection_default=True)
    add_layout_argument(parser)
    add_lines_argument(parser)
    parser.add_argument(
        "--on-error",
        choices=["skip", "abort"],
        default="skip",
        help="on a file that cannot be indexed: record it and go on (skip, default) or stop",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="re-transcribe pages that are already indexed, in place (corrected pages are kept)",
    )
    _add_engine_arguments(parser)
    parser.set_defaults(run=_run_index)


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--engine`` and the Ray engine's options."""
    add_engine_arguments(
        parser,
        description="Where pages are read. --engine ray needs Ray (pip install 'legajo[ray]'), "
        "the input paths and a local --model at the same paths on every Ray node, and a --db "
        "every worker reaches (PostgreSQL for a cluster of machines; a SQLite file only on one "
        "machine). Each worker stores its pages itself, one transaction each; a file whose "
        "worker dies is retried without storing any page twice.",
        local="this process",
        worker="each with its own copy of the model",
        gpus=" for reading",
    )


def add_import_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo import`."""
    parser = commands.add_parser(
        "import",
        help="store PAGE XML / ALTO transcriptions (Transkribus, eScriptorium) as verified text",
        description="Store the text of PAGE XML (2009-2019) and ALTO (v2-v4) files as "
        "verified transcriptions (folders are walked recursively for *.xml). Each page's "
        "image is looked for next to its XML file (or one folder up from page/ and alto/); "
        "a page whose image is missing is imported all the same and listed. An image must "
        "lie inside the folders being imported (or an --images-root), symlinks followed: "
        "a file whose image leads elsewhere is refused. Importing a "
        "file again changes nothing; a newer file for the same image replaces the older "
        "import. Files that cannot be read are listed and the others imported (exit 3).",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--collection", default="default", metavar="NAME", help="collection (default: default)"
    )
    parser.add_argument(
        "--images-root",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="also take page images from this folder, where the XML files name images outside "
        "the folders being imported (repeatable)",
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
    from htr.recognizer import load_recognizer
    from indexer.transfer.ingest import find_inputs, index_paths

    if ray_only := ray_only_options(args):
        return fail(OptionError(f"{', '.join(ray_only)}: only with --engine ray"), (OptionError,))
    try:
        inputs = find_inputs(args.paths)
    except LegajoError as error:
        return fail(error)

    def index(repository: Repository) -> int:
        quiet_transformers()
        model = model_for_collection(repository, args.model, args.collection)
        with _IndexProgress() as progress:
            if args.engine == "ray":
                report = _index_on_ray(args, repository, model, inputs, progress)
            else:
                recognizer = load_recognizer(model, recognizer_settings(args))
                report = index_paths(
                    args.paths,
                    repository,
                    recognizer,
                    _index_settings(args),
                    progress.show,
                    inputs=inputs,
                )
        _print_summary(report, repository.database.url)
        return EXIT_SOME_FAILED if report.failures else EXIT_OK

    return run_with_repository(args, index)


def _index_settings(args: argparse.Namespace) -> IndexSettings:
    from htr.pipeline import LayoutMode, PipelineSettings
    from indexer.transfer.ingest import IndexSettings, OnError

    return IndexSettings(
        collection=args.collection,
        pipeline=PipelineSettings(layout=LayoutMode(args.layout), whole_image=args.lines),
        on_error=OnError(args.on_error),
        force=args.force,
    )


def _index_on_ray(
    args: argparse.Namespace,
    repository: Repository,
    model: str,
    inputs: Sequence[InputEntry],
    progress: _IndexProgress,
) -> IndexReport:
    from indexer.settings import resolve_storage
    from indexer.transfer.ray_engine import RayBatch, RayOptions, index_paths_on_ray

    batch = RayBatch(
        database_url=resolve_storage(args.home, args.db).database_url,
        model=model,
        recognizer=recognizer_settings(args),
        settings=_index_settings(args),
    )
    options = RayOptions(
        address=args.address, workers=args.workers, gpus_per_worker=args.gpus_per_worker
    )
    return index_paths_on_ray(args.paths, repository, batch, options, progress.show, inputs=inputs)


COUNTING_DELAY_S = 2.0
"""Counting the pages shows progress only when it takes longer than this."""


class _IndexProgress:
    """The progress of `legajo index`: counting the pages, then indexing them."""

    def __init__(self) -> None:
        self._counting = Progress("counting pages", "file", delay_s=COUNTING_DELAY_S)
        self._indexing = Progress("indexing", "page")
        self._counted = 0

    def __enter__(self) -> _IndexProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._counting.close()
        self._indexing.close()

    def show(self, event: ProgressEvent) -> None:
        """Feeds one `indexer.transfer.ingest.ProgressEvent` to the display."""
        from indexer.transfer.ingest import EventKind

        if event.kind is EventKind.FILE_COUNTED:
            self._counted += 1
            self._counting.move_to(self._counted, event.total)
        elif event.kind is EventKind.PAGES_COUNTED:
            self._counting.close()
            self._indexing.set_total(event.frames)
        elif event.kind is EventKind.FAILED:
            self._indexing.count("failed")
            self._indexing.advance(max(1, event.pages_left))
        elif event.kind is not EventKind.FILE_STARTED:
            indexed = event.kind is EventKind.PAGE_INDEXED
            self._indexing.count("indexed" if indexed else "skipped")
            self._indexing.advance()


def _print_summary(report: IndexReport, database_url: str) -> None:
    replaced = f" ({report.replaced} replaced)" if report.replaced else ""
    stopped = ", stopped at the first failure" if report.aborted else ""
    print(
        f"indexed {report.indexed} pages{replaced}, skipped {report.skipped} already indexed, "
        f"{report.failed} failed, {report.files} files in {report.seconds:.1f} s{stopped}"
        f" (run {report.run_id}, {database_url})"
    )
    if report.other_model:
        print(
            f"{report.other_model} pages are read by another model and were not stored again: "
            "legajo reread reads them again in place, --force replaces their reading"
        )
    for failure in report.failures:
        where = "" if failure.frame is None else f" [frame {failure.frame}]"
        print(f"failed: {failure.path}{where}: {failure.reason}", file=sys.stderr)


def _run_import(args: argparse.Namespace) -> int:
    from indexer.transfer.image_paths import import_image_roots
    from indexer.transfer.importer import find_import_inputs, import_paths

    try:
        inputs = find_import_inputs(args.paths)
        import_image_roots(args.paths, args.images_root)
    except LegajoError as error:
        return fail(error)

    def import_files(repository: Repository) -> int:
        with Progress("importing", "file") as progress:
            progress.set_total(len(inputs))

            def show(_path: Path, outcome: ImportOutcome) -> None:
                progress.count(outcome.value)
                progress.advance()

            report = import_paths(
                args.paths, repository, args.collection, show, images_roots=args.images_root
            )
        _print_import_summary(report, repository.database.url)
        return EXIT_SOME_FAILED if report.failures else EXIT_OK

    return run_with_repository(args, import_files)


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
    from indexer.transfer.exporter import ExportFormat, export_pages

    def export(repository: Repository) -> int:
        with Progress("exporting", "page") as progress:
            report = export_pages(
                repository,
                args.out,
                ExportFormat(args.format),
                args.collection,
                lambda _path, done, total: progress.move_to(done, total),
            )
        _print_export_summary(report)
        return EXIT_OK

    return run_with_repository(args, export, usage=(ExportPathError,), create=False)


def _print_export_summary(report: ExportReport) -> None:
    print(f"exported {len(report.files)} pages to {report.out_dir} in {report.seconds:.1f} s")
    for item in report.renamed:
        where = f" [frame {item.frame}]" if item.frame else ""
        print(
            f"renamed: {item.source_path}{where} written as {item.path} "
            "(another page has the same name)",
            file=sys.stderr,
        )
