"""`legajo import`: PAGE XML and ALTO files with text, stored as verified transcriptions.

`import_paths` is the batch entry point that `legajo import` (`legajo.cli.archive`) drives.
Each file is read by `indexer.transfer.transcriptions` (`read_transcription`: its verified
text, its image, its frame), whose public names are importable from here too.

- **Its identity.** A page is the frame of an image in a collection, as for `legajo index`:
  the image's content hash and frame, with the model key `IMPORT_MODEL`. A page imported
  without its image is keyed by the hash of the image path it expected instead, and keeps
  that key when a later import finds the image, so that it is replaced rather than doubled.
  So importing the same file twice stores nothing new (``unchanged``), and importing a newer
  transcription of the same image replaces the older one (``replaced``) instead of adding a
  second page. A page whose lines were corrected in
  legajo since is not replaced, and the file is reported as failed so that no correction is
  lost silently. Pages that a model transcribed (`legajo index`) are kept apart: an image
  both indexed and imported has two pages, which the report counts (``also indexed``).

Failures (a malformed or truncated XML file, a file that is neither PAGE nor ALTO, a file
without any text, a dangling symbolic link or a folder that cannot be listed) are named in
the report and never stop the batch; paths that hold no XML file at all are refused. They
are not stored in the database: `legajo errors` lists files that could not be indexed.
Well-formed XML files that are neither PAGE nor ALTO met while walking a folder (METS files,
Transkribus' ``doc.xml``) are ignored, not failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from htr import SOFTWARE
from htr.document import Page, ProcessingStep
from htr.errors import LayoutError, LegajoError
from htr.layout.common import parse_layout_xml
from htr.layout.files import sniff_layout_format
from indexer.errors import ImagePathRefusedError, TranscriptionImportError, UnreadableEntryError
from indexer.store.orm import PAGE_INDEXED, RUN_ABORTED, RUN_FINISHED
from indexer.store.repository import DEFAULT_COLLECTION, Repository, StoreOutcome
from indexer.transfer.image_paths import import_image_roots
from indexer.transfer.inputs import walk_inputs
from indexer.transfer.transcriptions import (
    IMAGE_ROOT_SETTING,
    IMPORT_MODEL,
    IMPORT_STEP,
    MULTI_PAGE_SUFFIXES,
    ImportedPage,
    find_image,
    read_transcription,
    stored_image_path,
)

__all__ = [
    "IMAGE_ROOT_SETTING",
    "IMPORT_MODEL",
    "IMPORT_STEP",
    "MULTI_PAGE_SUFFIXES",
    "ImportFailure",
    "ImportInput",
    "ImportOutcome",
    "ImportProgress",
    "ImportReport",
    "ImportedPage",
    "MissingImage",
    "find_image",
    "find_import_inputs",
    "import_paths",
    "read_transcription",
    "stored_image_path",
]

logger = logging.getLogger(__name__)


class ImportOutcome(StrEnum):
    """What happened to one input file."""

    IMPORTED = "imported"
    REPLACED = "replaced"
    """Imported over an older import of the same image and frame."""
    UNCHANGED = "unchanged"
    """The same file was imported before: nothing written."""
    FAILED = "failed"
    IGNORED = "ignored"
    """A well-formed XML file of another kind, met while walking a folder."""


@dataclass(frozen=True, slots=True)
class ImportInput:
    """A file to import.

    Attributes:
        path: The XML file.
        named: True when given on the command line, False when found in a folder (where
            XML files of other kinds are ignored rather than failed).
        error: Why the entry cannot be read at all (a dangling symbolic link, a folder
            that cannot be listed: `indexer.transfer.inputs`); it is then a failure.
    """

    path: Path
    named: bool
    error: UnreadableEntryError | None = None


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """A file that could not be imported, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class MissingImage:
    """A page imported without its image: the XML file and the image path it expected."""

    xml_path: str
    image_path: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of an import batch.

    Attributes:
        run_id: The processing run recorded for it.
        files: Input files considered (ignored ones included).
        imported: Pages stored (replaced ones included).
        replaced: Of those, pages that replaced an older import of the same image and frame.
        unchanged: Files imported before, with the same content: nothing written.
        ignored: Well-formed XML files of other kinds found in folders.
        also_indexed: Imported pages whose image is also transcribed by a model in the
            collection (two pages for one image).
        failures: Every file that could not be imported, in input order.
        missing_images: Pages imported without their image.
        seconds: Wall-clock time of the batch.
    """

    run_id: int
    files: int
    imported: int
    replaced: int
    unchanged: int
    ignored: int
    also_indexed: int
    failures: tuple[ImportFailure, ...]
    missing_images: tuple[MissingImage, ...]
    seconds: float

    @property
    def failed(self) -> int:
        """Number of files that failed."""
        return len(self.failures)


ImportProgress = Callable[[Path, ImportOutcome], None]


def find_import_inputs(paths: Sequence[Path]) -> list[ImportInput]:
    """Lists the files to import: files as given, ``*.xml`` of folders (recursive), sorted.

    Dangling links and folders that cannot be listed are inputs too, which fail in their
    turn (`indexer.transfer.inputs`).

    Raises:
        InputPathError: If a path does not exist.
        NoInputError: If the paths hold no XML file (and no unreadable entry).
    """
    entries = walk_inputs(paths, _is_xml_name, what="XML files")
    return [ImportInput(entry.path, entry.named, entry.error) for entry in entries]


def import_paths(
    paths: Sequence[Path],
    repository: Repository,
    collection: str = DEFAULT_COLLECTION,
    on_progress: ImportProgress | None = None,
    images_roots: Sequence[Path] = (),
) -> ImportReport:
    """Imports PAGE XML and ALTO files and folders into a collection (module docstring).

    Args:
        paths: Files and folders (walked recursively for ``*.xml``).
        repository: Where pages are stored.
        collection: The collection the pages go to (created when new).
        on_progress: Called after each file with its outcome.
        images_roots: Folders outside `paths` whose images the files may name
            (``--images-root``).

    Returns:
        What was imported, replaced, left unchanged, ignored and failed.

    Raises:
        InputPathError: If a path does not exist, or an images root is not a folder
            (nothing is imported).
    """
    started = time.perf_counter()
    inputs = find_import_inputs(paths)
    roots = import_image_roots(paths, images_roots)
    collection_id = repository.ensure_collection(collection)
    run_id = repository.start_run(
        collection_id, "import", ProcessingStep(IMPORT_STEP, SOFTWARE), {"files": len(inputs)}
    )
    batch = _ImportBatch(repository, collection, collection_id, run_id, roots)
    status = RUN_ABORTED
    try:
        for item in inputs:
            outcome = batch.import_file(item)
            repository.beat_run(run_id)
            if on_progress is not None:
                on_progress(item.path, outcome)
        status = RUN_FINISHED
    finally:
        try:
            repository.finish_run(run_id, status)
        except Exception:  # never hide the error that ended the batch behind this one
            logger.exception("could not record the end of run %d", run_id)
    counts = batch.counts
    if counts[ImportOutcome.IMPORTED] or counts[ImportOutcome.REPLACED]:
        repository.database.refresh_statistics()
    return ImportReport(
        run_id=run_id,
        files=len(inputs),
        imported=counts[ImportOutcome.IMPORTED] + counts[ImportOutcome.REPLACED],
        replaced=counts[ImportOutcome.REPLACED],
        unchanged=counts[ImportOutcome.UNCHANGED],
        ignored=counts[ImportOutcome.IGNORED],
        also_indexed=batch.also_indexed,
        failures=tuple(batch.failures),
        missing_images=tuple(batch.missing_images),
        seconds=time.perf_counter() - started,
    )


class _ImportBatch:
    """The state of one `import_paths` call."""

    def __init__(
        self,
        repository: Repository,
        collection: str,
        collection_id: int,
        run_id: int,
        image_roots: Sequence[Path],
    ) -> None:
        self.repository = repository
        self.image_roots = tuple(image_roots)
        self.collection_id = collection_id
        self.run_id = run_id
        self.counts = dict.fromkeys(ImportOutcome, 0)
        self.failures: list[ImportFailure] = []
        self.missing_images: list[MissingImage] = []
        self.also_indexed = 0
        self.imported_pages: dict[tuple[str, int], int] = {}
        self.indexed_by_model: set[tuple[str, int]] = set()
        for summary in repository.pages(collection):
            if summary.status != PAGE_INDEXED:
                continue
            key = (summary.sha256, summary.frame)
            if summary.model == IMPORT_MODEL:
                self.imported_pages[key] = summary.id
            else:
                self.indexed_by_model.add(key)
        self.batch_states: dict[tuple[str, int], tuple[str, str]] = {}
        """(XML hash, image path) of the pages stored by this batch, by page key."""

    def import_file(self, item: ImportInput) -> ImportOutcome:
        """Imports one file; failures are recorded, never raised (database errors are)."""
        if item.error is not None:  # a dangling link, a folder that cannot be listed
            return self._fail(item.path, item.error)
        path = item.path.resolve()
        if not item.named and sniff_layout_format(path) is None and _well_formed(path):
            logger.info("%s is neither PAGE nor ALTO: ignored", path)
            return self._count(ImportOutcome.IGNORED)
        try:
            imported = read_transcription(path, self.image_roots)
        except LegajoError as error:
            return self._fail(path, error)
        except Exception as error:  # one odd file must not end a batch of thousands
            logger.exception("unexpected error on %s", path)
            return self._fail(path, error)
        also_indexed = (imported.source.sha256, imported.page.frame) in self.indexed_by_model
        imported = self._keep_placeholder_key(imported)
        key = (imported.source.sha256, imported.page.frame)
        state = (imported.xml_sha256, imported.source.path)
        if self._stored_state(key) == state:
            return self._count(ImportOutcome.UNCHANGED)
        if key in self.batch_states:
            logger.warning(
                "%s transcribes the same image as a file imported before it in this batch "
                "(%s [frame %d]): it replaces it",
                path,
                imported.source.path,
                imported.page.frame,
            )
        outcome = self.repository.store_page(
            self.collection_id,
            self.run_id,
            imported.source,
            imported.page,
            IMPORT_MODEL,
            replace=True,
        )
        if outcome is StoreOutcome.KEPT_CORRECTED:
            return self._fail(
                path,
                TranscriptionImportError(
                    f"{path}: not imported: the page of {imported.source.path} was corrected "
                    "in legajo since it was imported, and replacing it would lose those "
                    "corrections"
                ),
            )
        self.batch_states[key] = state
        if outcome is StoreOutcome.ALREADY_PRESENT:  # stored meanwhile by another process
            return self._count(ImportOutcome.UNCHANGED)
        if not imported.image_found:
            self.missing_images.append(MissingImage(str(path), imported.source.path))
        if also_indexed:
            self.also_indexed += 1
        if outcome is StoreOutcome.REPLACED:
            return self._count(ImportOutcome.REPLACED)
        return self._count(ImportOutcome.IMPORTED)

    def _keep_placeholder_key(self, imported: ImportedPage) -> ImportedPage:
        """Keys a page by its placeholder when it was imported before without its image."""
        frame = imported.page.frame
        known = self.imported_pages.keys() | self.batch_states.keys()
        if not imported.image_found or (imported.source.sha256, frame) in known:
            return imported
        if (imported.placeholder_sha256, frame) not in known:
            return imported
        logger.info("%s: found now, replaces the page imported without it", imported.source.path)
        source = replace(imported.source, sha256=imported.placeholder_sha256)
        return replace(imported, source=source)

    def _stored_state(self, key: tuple[str, int]) -> tuple[str, str] | None:
        """(XML hash, image path) of the import stored under a page key, if there is one."""
        if key in self.batch_states:
            return self.batch_states[key]
        page_id = self.imported_pages.get(key)
        if page_id is None:
            return None
        page = self.repository.load_page(page_id)
        imports = [s.settings for s in page.steps if s.kind == IMPORT_STEP]
        if not imports:
            return None
        if IMAGE_ROOT_SETTING not in imports[-1] and not _opens(page):
            return None  # imported by an older legajo from outside its folders: record the root
        return str(imports[-1].get("sha256")), page.image

    def _fail(self, path: Path, error: Exception) -> ImportOutcome:
        reason = str(error) or type(error).__name__
        prefix = f"{path}: "
        if reason.startswith(prefix):  # the readers' messages name the file already
            reason = reason[len(prefix) :]
        logger.info("%s: %s", path, reason)
        self.failures.append(ImportFailure(str(path), reason))
        return self._count(ImportOutcome.FAILED)

    def _count(self, outcome: ImportOutcome) -> ImportOutcome:
        self.counts[outcome] += 1
        return outcome


def _is_xml_name(path: Path) -> bool:
    return path.suffix.lower() == ".xml" and not path.name.startswith(".")


def _opens(page: Page) -> bool:
    """True when `stored_image_path` lets a stored page's image be opened."""
    try:
        stored_image_path(page.image, page.steps)
    except ImagePathRefusedError:
        return False
    return True


def _well_formed(path: Path) -> bool:
    try:
        parse_layout_xml(path)
    except LayoutError:
        return False
    return True
