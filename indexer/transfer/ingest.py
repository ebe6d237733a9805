"""Batch indexing: walk folders, transcribe every page, store each page in one transaction.

`index_paths` is the library entry point; `legajo index` (`legajo.cli.archive`) drives it with a
progress bar fed by its callback.

What is guaranteed:

- **Each page (frame) is stored in one transaction** with all its lines, words and
  alternative readings: after a crash (``kill -9``, power cut) a page is either entirely in
  the database or not at all.
- **Reruns resume.** A page is identified by its collection, the SHA-256 of its file's
  content, its frame and the model (id and revision) that reads it. Pages already indexed
  that way are skipped without being decoded, so running the same command again after a
  crash indexes exactly the pages that are missing. ``force=True`` re-transcribes them and
  replaces their lines in one transaction (pages holding human corrections are kept).
- **Failures are named and kept.** A file (or frame) that cannot be read or transcribed is
  recorded with its reason (`Repository.failures`) and, by default, the batch goes on; a
  later successful run clears the record. Failed files are retried by every run. Nothing is
  dropped silently: a dangling symbolic link or a folder that cannot be listed is a failure
  like any other (`indexer.transfer.inputs`), and paths that hold no page image at all are
  refused (`NoInputError`).
- **Totals first.** The pages of every file are counted before the first one is
  transcribed, from the files' headers without decoding any image (`htr.images.count_frames`),
  so progress displays know the total from the start (`EventKind.PAGES_COUNTED`). A file
  whose pages cannot be counted is a failure, reported in its turn; it counts as one page.
- **Interrupted runs are told.** The run records its process (`indexer.store.runs`); runs
  left ``running`` by a process that is gone are marked ``interrupted`` when the next batch
  starts.
- **Two processes indexing the same folder at once** do not corrupt anything and store no
  page twice: the database's unique constraint on the page key lets the first commit win;
  the other process notices, discards its copy and counts the page as skipped. Both may
  spend time transcribing the same page, so split large batches by folder rather than
  running copies of one command. On SQLite, writers queue for the write lock (WAL mode,
  ``BEGIN IMMEDIATE``, a busy timeout); readers are never blocked.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from htr.errors import ImageLoadError, LegajoError
from htr.images import PageImage, count_frames, is_supported, iter_page_images
from htr.pipeline import PipelineSettings, transcribe_page
from htr.recognizer import Recognizer
from indexer.errors import NoInputError
from indexer.store.orm import RUN_ABORTED, RUN_FINISHED
from indexer.store.repository import (
    DEFAULT_COLLECTION,
    ModelKey,
    Repository,
    SourceFile,
    StoreOutcome,
)
from indexer.transfer.inputs import InputEntry, walk_inputs

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
"""Bytes read at a time when hashing a file."""


class OnError(StrEnum):
    """What to do when a file cannot be indexed."""

    SKIP = "skip"
    """Record the failure and go on with the next file (the default)."""
    ABORT = "abort"
    """Record the failure and stop."""


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """How a batch is indexed.

    Attributes:
        collection: Collection the pages go to.
        pipeline: Layout settings of the transcription.
        on_error: Go on or stop at the first file that fails.
        force: Re-transcribe pages already indexed with the same content, whichever model
            read them; a reading people corrected is kept.
    """

    collection: str = DEFAULT_COLLECTION
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    on_error: OnError = OnError.SKIP
    force: bool = False


class EventKind(StrEnum):
    """What a `ProgressEvent` reports, in the order a batch reports them.

    First one `FILE_COUNTED` per input while the pages are counted, then `PAGES_COUNTED`
    once, then for each file `FILE_STARTED` and its pages' `PAGE_INDEXED`, `PAGE_SKIPPED`
    or `FAILED` (a file that cannot be counted or read has one `FAILED` and no
    `FILE_STARTED`).
    """

    FILE_COUNTED = "file-counted"
    PAGES_COUNTED = "pages-counted"
    FILE_STARTED = "file-started"
    PAGE_INDEXED = "page-indexed"
    PAGE_SKIPPED = "page-skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One step of a batch, for progress displays.

    Attributes:
        kind: What happened.
        path: The file concerned (for PAGES_COUNTED, the last one counted).
        frame: The page concerned, None for events about the whole file.
        frames: For FILE_COUNTED and FILE_STARTED, the file's number of pages (1 for a
            file that cannot be counted: it will fail); for PAGES_COUNTED, the pages of
            the whole batch, the amount of work that the other events use up.
        total: For FILE_COUNTED, the number of files to count.
        pages_left: For FAILED, how many pages of the file will not be processed because of
            the failure (the failed one included).
        lines: For PAGE_INDEXED, the lines stored.
        reason: For FAILED, the error message.
    """

    kind: EventKind
    path: Path
    frame: int | None = None
    frames: int = 0
    total: int = 0
    pages_left: int = 0
    lines: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class IndexFailure:
    """A file or page that could not be indexed in this batch."""

    path: str
    frame: int | None
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class IndexReport:
    """The outcome of a batch.

    Attributes:
        run_id: The processing run recorded for it.
        files: Input files considered.
        indexed: Pages transcribed and stored (replaced ones included).
        replaced: Of those, pages that replaced an earlier copy (``force``).
        skipped: Pages already indexed (by an earlier run or, meanwhile, by another process).
        failures: Every file or page that failed, in input order.
        seconds: Wall-clock time of the batch.
        aborted: True when the batch stopped at a failure (`OnError.ABORT`).
        other_model: Of the skipped pages, those another model had read: they are not
            stored a second time (``legajo reread`` reads them again in place, ``force``
            replaces their reading unless people corrected it).
    """

    run_id: int
    files: int
    indexed: int
    replaced: int
    skipped: int
    failures: tuple[IndexFailure, ...]
    seconds: float
    aborted: bool
    other_model: int = 0

    @property
    def failed(self) -> int:
        """Number of failures."""
        return len(self.failures)


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class _CountedFile:
    """An input with its pages counted, or the error that will make it fail."""

    path: Path
    frames: int
    error: Exception | None = None


def find_inputs(paths: Sequence[Path]) -> list[InputEntry]:
    """Lists the files to index: files as given, folders walked recursively, sorted.

    Folders contribute the files whose suffix `htr.images.is_supported` accepts, and the
    entries that cannot be read (dangling links, folders that cannot be listed), which
    fail in their turn (`indexer.transfer.inputs`); files named explicitly are always
    taken (and fail with a reason if they are not page images).

    Raises:
        InputPathError: If a path does not exist.
        NoInputError: If the paths hold no page image and no unreadable entry.
    """
    return walk_inputs(paths, is_supported, what="page images")


def hash_file(path: Path) -> SourceFile:
    """Hashes a file's content (SHA-256, streamed) and notes its size.

    Raises:
        ImageLoadError: If the file cannot be read.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise ImageLoadError(f"cannot read {path}: {error.strerror or error}") from error
    return SourceFile(path=str(path), sha256=digest.hexdigest(), size_bytes=size)


def index_paths(
    paths: Sequence[Path],
    repository: Repository,
    recognizer: Recognizer,
    settings: IndexSettings | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    inputs: Sequence[InputEntry] | None = None,
) -> IndexReport:
    """Indexes image and PDF files and folders into a collection.

    Args:
        paths: Files and folders (walked recursively).
        repository: Where pages are stored.
        recognizer: The line recognizer; its model id and revision are part of each page's
            identity.
        settings: Collection, layout, error policy, force.
        on_progress: Called with each `ProgressEvent`, in order (see `EventKind`).
        inputs: `find_inputs` of `paths`, when the caller has it already (a large tree is
            then not walked twice).

    Returns:
        What was indexed, skipped and failed.

    Raises:
        InputPathError: If a path does not exist (nothing is indexed).
        NoInputError: If the paths hold no page image (nothing is indexed).
    """
    settings = settings or IndexSettings()
    started = time.perf_counter()
    entries = list(inputs) if inputs is not None else find_inputs(paths)
    if not entries:
        raise NoInputError(f"no page images in {', '.join(str(p) for p in paths)}")
    files = _count_pages(entries, on_progress)
    step = recognizer.processing_step()
    model = ModelKey.of(step)
    collection_id = repository.ensure_collection(settings.collection)
    run_id = repository.start_run(
        collection_id,
        "index",
        step,
        {
            "layout": settings.pipeline.layout.value,
            "whole_image": settings.pipeline.whole_image,
            "on_error": settings.on_error.value,
            "force": settings.force,
        },
    )
    batch = _Batch(repository, recognizer, settings, collection_id, run_id, model, on_progress)
    status = RUN_ABORTED
    try:
        total = sum(counted.frames for counted in files)
        batch.emit(ProgressEvent(EventKind.PAGES_COUNTED, files[-1].path, frames=total))
        for counted in files:
            if not batch.index_file(counted) and settings.on_error is OnError.ABORT:
                logger.warning("stopping at the first failure (on-error abort)")
                break
        else:
            status = RUN_FINISHED
    finally:
        _finish_run(repository, run_id, status)
    if batch.indexed or batch.replaced:
        repository.database.refresh_statistics()
    return IndexReport(
        run_id=run_id,
        files=len(files),
        indexed=batch.indexed,
        replaced=batch.replaced,
        skipped=batch.skipped,
        failures=tuple(batch.failures),
        seconds=time.perf_counter() - started,
        aborted=status == RUN_ABORTED,
        other_model=batch.other_model,
    )


def _count_pages(
    entries: Sequence[InputEntry], on_progress: ProgressCallback | None
) -> list[_CountedFile]:
    """Counts the pages of every input from its headers (no image is decoded).

    An entry that cannot be read, or a file whose pages cannot be counted, keeps its error
    and counts as one page: it fails in its turn, with the other failures.
    """
    counted: list[_CountedFile] = []
    for entry in entries:
        path = entry.path if entry.error is not None else entry.path.resolve()
        if entry.error is not None:
            item = _CountedFile(path, 1, entry.error)
        else:
            try:
                item = _CountedFile(path, count_frames(path))
            except ImageLoadError as error:
                item = _CountedFile(path, 1, error)
            except Exception as error:  # one odd file must not end a batch of thousands
                logger.exception("unexpected error counting the pages of %s", path)
                item = _CountedFile(path, 1, error)
        counted.append(item)
        if on_progress is not None:
            event = ProgressEvent(
                EventKind.FILE_COUNTED, path, frames=item.frames, total=len(entries)
            )
            on_progress(event)
    return counted


def _finish_run(repository: Repository, run_id: int, status: str) -> None:
    try:
        repository.finish_run(run_id, status)
    except Exception:  # never hide the error that ended the batch behind this one
        logger.exception("could not record the end of run %d", run_id)


class _Batch:
    """The state of one `index_paths` call."""

    def __init__(
        self,
        repository: Repository,
        recognizer: Recognizer,
        settings: IndexSettings,
        collection_id: int,
        run_id: int,
        model: ModelKey,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.repository = repository
        self.recognizer = recognizer
        self.settings = settings
        self.collection_id = collection_id
        self.run_id = run_id
        self.model = model
        self.on_progress = on_progress
        self.indexed = self.replaced = self.skipped = self.other_model = 0
        self.failures: list[IndexFailure] = []

    def emit(self, event: ProgressEvent) -> None:
        self.repository.beat_run(self.run_id)
        if self.on_progress is not None:
            self.on_progress(event)

    def fail(
        self,
        path: Path,
        error: Exception,
        *,
        frame: int | None = None,
        source: SourceFile | None = None,
        pages_left: int = 1,
    ) -> None:
        """Records and reports a failure."""
        reason = str(error) or type(error).__name__
        logger.info("%s%s: %s", path, "" if frame is None else f" [frame {frame}]", reason)
        self.repository.record_failure(
            self.collection_id,
            self.run_id,
            str(path),
            error,
            frame=frame,
            source=source,
            model=self.model if source is not None else None,
        )
        self.failures.append(IndexFailure(str(path), frame, type(error).__name__, reason))
        self.emit(
            ProgressEvent(EventKind.FAILED, path, frame=frame, pages_left=pages_left, reason=reason)
        )

    def index_file(self, counted: _CountedFile) -> bool:
        """Indexes the pages of one file; False when something failed."""
        path, frames = counted.path, counted.frames
        if counted.error is not None:
            self.fail(path, counted.error)
            return False
        try:
            source = hash_file(path)
        except ImageLoadError as error:
            self.fail(path, error, pages_left=frames)
            return False
        self.emit(ProgressEvent(EventKind.FILE_STARTED, path, frames=frames))
        done = (
            {}
            if self.settings.force
            else self.repository.read_frames(self.collection_id, source.sha256)
        )
        if set(done).issuperset(range(frames)):
            for frame in range(frames):
                self.skip(path, frame, done[frame])
            return True
        return self._index_frames(path, source, frames, done)

    def skip(self, path: Path, frame: int, read_by: ModelKey | None = None) -> None:
        """Reports a page not indexed again, `read_by` the model whose reading is stored."""
        self.skipped += 1
        if read_by is not None and read_by != self.model:
            self.other_model += 1
            logger.info("%s [frame %d] is already read by %s", path, frame, read_by.model_id)
        self.emit(ProgressEvent(EventKind.PAGE_SKIPPED, path, frame=frame))

    def _index_frames(
        self, path: Path, source: SourceFile, frames: int, done: dict[int, ModelKey]
    ) -> bool:
        """Indexes a file's frames; False when one of them failed.

        A frame that fails to transcribe does not stop the next ones (unless the batch aborts
        on errors); a frame that fails to decode ends the file.
        """
        next_frame = 0
        all_good = True
        pages = iter_page_images(path)
        try:
            for page_image in pages:
                next_frame = page_image.frame + 1
                if page_image.frame in done:
                    self.skip(path, page_image.frame, done[page_image.frame])
                    continue
                if not self._index_page(path, source, page_image):
                    all_good = False
                    if self.settings.on_error is OnError.ABORT:
                        return False
        except ImageLoadError as error:
            self.fail(
                path,
                error,
                frame=next_frame,
                source=source,
                pages_left=max(1, frames - next_frame),
            )
            return False
        finally:
            pages.close()
        return all_good

    def _index_page(self, path: Path, source: SourceFile, page_image: PageImage) -> bool:
        frame = page_image.frame
        try:
            page = transcribe_page(page_image, self.recognizer, self.settings.pipeline)
        except LegajoError as error:
            self.fail(path, error, frame=frame, source=source)
            return False
        except Exception as error:  # one odd page must not end a batch of thousands
            logger.exception("unexpected error on %s [frame %d]", path, frame)
            self.fail(path, error, frame=frame, source=source)
            return False
        outcome = self.repository.store_page(
            self.collection_id,
            self.run_id,
            source,
            page,
            self.model,
            replace=self.settings.force,
        )
        if outcome in (StoreOutcome.STORED, StoreOutcome.REPLACED):
            self.indexed += 1
            self.replaced += outcome is StoreOutcome.REPLACED
            self.emit(
                ProgressEvent(EventKind.PAGE_INDEXED, path, frame=frame, lines=len(page.lines))
            )
        else:
            if outcome is StoreOutcome.KEPT_CORRECTED:
                logger.warning(
                    "%s [frame %d] holds corrections: not replaced (legajo reread reads it "
                    "again in place and keeps them)",
                    path,
                    frame,
                )
            self.skip(path, frame)
            if outcome is StoreOutcome.READ_BY_OTHER_MODEL:
                self.other_model += 1
        return True
