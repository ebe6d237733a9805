"""`legajo export`: every indexed page of a collection written as PAGE XML, ALTO, text or JSON.

The writers are `indexer.transfer.formats`; this module assembles each page from the database (each
line's first reading and words, the latest human correction or confirmation of each line,
the processing steps; `page_with_corrections`) and decides where each file goes.

File names (`export_names`):

- One file per page frame, named after the source file's stem plus the format's suffix
  (`SUFFIXES`): ``folio_3r.jpg`` -> ``folio_3r.page.xml``. The format stays in the name so
  that exports in several formats can share a folder without overwriting each other, and
  `legajo import` finds the image of ``X.page.xml`` as it does for ``X.xml``.
- Pages of a multi-page file (a TIFF, a PDF: more than one frame stored, or a frame past
  the first) get their page number, from 1: ``scan_p002.alto.xml``.
- The source files' folders are kept below their common folder, so two ``folio_3r.jpg`` of
  ``leg1/`` and ``leg2/`` go to ``leg1/folio_3r.page.xml`` and ``leg2/folio_3r.page.xml``.
- Exporting every collection (no ``--collection``) puts each in a subfolder of its name.
- Names that would still clash (one image read by two models, or names that differ only
  in letter case) get ``_2``, ``_3``... in page order, and the report lists them.

Files are written whole under a temporary name and then renamed, so an interrupted export
leaves no half-written file; files of an earlier export with the same names are replaced.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePath

from htr.atomic_files import PUBLIC_MODE, write_bytes_atomically
from htr.document import Page
from indexer.errors import ExportPathError, ExportWriteError
from indexer.store.orm import PAGE_INDEXED
from indexer.store.repository import PageSummary, Repository
from indexer.transfer.formats import (
    LineCorrection,
    write_alto,
    write_json,
    write_page_xml,
    write_text,
)

logger = logging.getLogger(__name__)


class ExportFormat(StrEnum):
    """The export formats."""

    PAGE = "page"
    ALTO = "alto"
    TEXT = "txt"
    JSON = "json"


SUFFIXES = {
    ExportFormat.PAGE: ".page.xml",
    ExportFormat.ALTO: ".alto.xml",
    ExportFormat.TEXT: ".txt",
    ExportFormat.JSON: ".json",
}
"""The file name suffix of each format."""

_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class RenamedFile:
    """A page written under another name than its own, because another page had it."""

    source_path: str
    frame: int
    path: Path


@dataclass(frozen=True, slots=True)
class ExportReport:
    """The outcome of an export.

    Attributes:
        out_dir: The export folder.
        files: The files written, relative to `out_dir`, in page order.
        renamed: Pages whose file name got a ``_2``... to keep it apart from another's.
        seconds: Wall-clock time of the export.
    """

    out_dir: Path
    files: tuple[Path, ...]
    renamed: tuple[RenamedFile, ...]
    seconds: float


ExportProgress = Callable[[Path, int, int], None]
"""Called with each file written (relative to the export folder), the number written so
far and the number to write."""


def page_with_corrections(
    repository: Repository, page_id: int
) -> tuple[Page, dict[str, LineCorrection]]:
    """A stored page to export, and the latest correction of each reviewed line.

    Each line's text is its machine reading (`StoredLine.machine_text`: the latest model's,
    after `legajo reread` too, or an imported transcription's), with its line confidence and n-best
    alternatives. Its words are the stored ones: the recognizer's for a line nobody reviewed,
    the verified words of the current text (confidence 1) for a line a person corrected or
    confirmed (`Repository.correct_line`; a confirmation is a correction that keeps the
    text). This is what the writers of `indexer.transfer.formats` take: the correction becomes the
    main reading, its words on the stored words' boxes, and the machine reading stays beside
    it.

    Raises:
        LookupError: If there is no page with that id.
    """
    page = repository.load_page(page_id)
    stored = repository.lines(page_id)
    corrections: dict[str, LineCorrection] = {}
    for line in stored:
        history = repository.corrections(line.id) if line.version > 1 else []
        if history:
            latest = history[-1]
            corrections[line.line.id] = LineCorrection(
                line.line.id, latest.new_text, latest.editor, latest.created_at
            )
    machine_lines = tuple(replace(s.line, text=s.machine_text) for s in stored)
    return replace(page, lines=machine_lines), corrections


def render_page(
    page: Page, corrections: dict[str, LineCorrection], export_format: ExportFormat
) -> bytes:
    """One page in a format, UTF-8 encoded."""
    if export_format is ExportFormat.PAGE:
        return write_page_xml(page, corrections)
    if export_format is ExportFormat.ALTO:
        return write_alto(page, corrections)
    if export_format is ExportFormat.TEXT:
        return write_text(page, corrections).encode("utf-8")
    return write_json(page, corrections).encode("utf-8")


def export_names(
    pages: Sequence[PageSummary], export_format: ExportFormat, *, by_collection: bool
) -> tuple[dict[int, PurePath], list[RenamedFile]]:
    """Where each page's file goes, relative to the export folder (module docstring).

    Args:
        pages: The pages to export, in the order of `Repository.pages`.
        export_format: The format (its suffix ends each name).
        by_collection: Put each collection in a subfolder of its name.

    Returns:
        The relative path of each page, by page id, and the pages that were renamed.
    """
    frames: dict[tuple[str, str], set[int]] = defaultdict(set)
    folders: dict[str, list[PurePath]] = defaultdict(list)
    for page in pages:
        frames[(page.collection, page.source_path)].add(page.frame)
        folders[page.collection].append(PurePath(page.source_path).parent)
    bases = {collection: _common_folder(parents) for collection, parents in folders.items()}
    suffix = SUFFIXES[export_format]
    names: dict[int, PurePath] = {}
    renamed: list[RenamedFile] = []
    taken: set[str] = set()
    for page in pages:
        source = PurePath(page.source_path)
        folder = _relative_folder(source.parent, bases[page.collection])
        if by_collection:
            folder = PurePath(_safe_name(page.collection)) / folder
        stem = source.stem or "page"
        page_frames = frames[(page.collection, page.source_path)]
        if len(page_frames) > 1 or page.frame > 0:
            stem = f"{stem}_p{page.frame + 1:03d}"
        name = folder / f"{stem}{suffix}"
        n = 1
        while str(name).casefold() in taken:
            n += 1
            name = folder / f"{stem}_{n}{suffix}"
        taken.add(str(name).casefold())
        names[page.id] = name
        if n > 1:
            renamed.append(RenamedFile(page.source_path, page.frame, Path(name)))
    return names, renamed


def export_pages(
    repository: Repository,
    out_dir: Path,
    export_format: ExportFormat,
    collection: str | None = None,
    on_progress: ExportProgress | None = None,
) -> ExportReport:
    """Writes every indexed page of a collection, or of all, one file per page.

    Args:
        repository: Where the pages are.
        out_dir: The export folder (created when missing).
        export_format: The format.
        collection: Only this collection; None exports every collection, each in a
            subfolder.
        on_progress: Called after each file (`ExportProgress`).

    Returns:
        The files written and the pages renamed.

    Raises:
        UnknownCollectionError: If `collection` does not exist.
        ExportPathError: If `out_dir` is a file.
        ExportWriteError: If a file cannot be written (the files written so far stay).
    """
    started = time.perf_counter()
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportPathError(f"{out_dir} is a file, not a folder")
    if collection is not None:
        repository.collection_id(collection)
    pages = [p for p in repository.pages(collection) if p.status == PAGE_INDEXED]
    names, renamed = export_names(pages, export_format, by_collection=collection is None)
    for item in renamed:
        logger.info("%s [frame %d] written as %s", item.source_path, item.frame, item.path)
    files: list[Path] = []
    for page in pages:
        page_data, corrections = page_with_corrections(repository, page.id)
        relative = Path(names[page.id])
        _write_atomically(out_dir / relative, render_page(page_data, corrections, export_format))
        files.append(relative)
        if on_progress is not None:
            on_progress(relative, len(files), len(pages))
    return ExportReport(
        out_dir=out_dir,
        files=tuple(files),
        renamed=tuple(renamed),
        seconds=time.perf_counter() - started,
    )


def _common_folder(folders: Sequence[PurePath]) -> PurePath | None:
    """The deepest folder holding all `folders`; None when they share none (or mix kinds)."""
    try:
        return PurePath(os.path.commonpath([str(f) for f in folders]))
    except ValueError:  # relative and absolute paths mixed, or different drives
        return None


def _relative_folder(folder: PurePath, base: PurePath | None) -> PurePath:
    if base is None:
        return PurePath(*(_safe_name(part) for part in folder.parts if part not in ("/", "..")))
    return PurePath(*(_safe_name(part) for part in folder.relative_to(base).parts))


def _safe_name(name: str) -> str:
    """A file or folder name from any text: no separators, no ``..``, never empty."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" .")
    return cleaned or "_"


def _write_atomically(path: Path, data: bytes) -> None:
    # Not durable (no fsync per file: exports are many files, and can be run again), and
    # with the permissions a plain `open` gives, as exported files are meant to be shared.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(path, data, durable=False, mode=PUBLIC_MODE)
    except OSError as error:
        raise ExportWriteError(f"cannot write {path}: {error.strerror or error}") from error
