"""The work of a batch of `legajo index`, file by file: what both engines share.

`index_paths` (`indexer.transfer.ingest`, one process) and `index_paths_on_ray`
(`indexer.transfer.ray_engine`, a Ray cluster) differ only in where files are read. Both count
the pages with `count_pages`, open the run with `open_batch`, and index each file with a
`FileIndexer`, which stores each page in one transaction and records each failure through a
`BatchRecorder`; `end_run` and `batch_report` end the batch. The guarantees are those of
`indexer.transfer.ingest`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from htr.document import ProcessingStep
from htr.errors import ImageLoadError, LegajoError
from htr.images import PageImage, count_frames, iter_page_images
from htr.pipeline import transcribe_page
from htr.recognizer import Recognizer
from indexer.store.orm import RUN_ABORTED
from indexer.store.repository import ModelKey, Repository, SourceFile, StoreOutcome
from indexer.transfer.ingest_records import (
    CountedFile,
    EventKind,
    IndexFailure,
    IndexReport,
    IndexSettings,
    OnError,
    ProgressCallback,
    ProgressEvent,
)
from indexer.transfer.inputs import InputEntry

logger = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
"""Bytes read at a time when hashing a file."""


@dataclass(frozen=True, slots=True)
class BatchContext:
    """Where the pages of a batch go: plain values, so that they can travel to workers.

    Attributes:
        settings: How the batch is indexed.
        collection_id: The collection's id.
        run_id: The processing run recorded for the batch.
        model: The model that reads the pages (part of each page's key).
    """

    settings: IndexSettings
    collection_id: int
    run_id: int
    model: ModelKey


@dataclass(frozen=True, slots=True)
class BatchTally:
    """What a part of a batch did: pages indexed, replaced, skipped, and its failures."""

    indexed: int = 0
    replaced: int = 0
    skipped: int = 0
    other_model: int = 0
    failures: tuple[IndexFailure, ...] = ()


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


def count_pages(
    entries: Sequence[InputEntry], on_progress: ProgressCallback | None
) -> list[CountedFile]:
    """Counts the pages of every input from its headers (no image is decoded).

    An entry that cannot be read, or a file whose pages cannot be counted, keeps its error
    and counts as one page: it fails in its turn, with the other failures.
    """
    counted: list[CountedFile] = []
    for entry in entries:
        path = entry.path if entry.error is not None else entry.path.resolve()
        if entry.error is not None:
            item = CountedFile(path, 1, entry.error)
        else:
            try:
                item = CountedFile(path, count_frames(path))
            except ImageLoadError as error:
                item = CountedFile(path, 1, error)
            except Exception as error:  # one odd file must not end a batch of thousands
                logger.exception("unexpected error counting the pages of %s", path)
                item = CountedFile(path, 1, error)
        counted.append(item)
        if on_progress is not None:
            event = ProgressEvent(
                EventKind.FILE_COUNTED, path, frames=item.frames, total=len(entries)
            )
            on_progress(event)
    return counted


def open_batch(
    repository: Repository, step: ProcessingStep, settings: IndexSettings
) -> BatchContext:
    """Creates the collection if needed and records the start of the batch's run."""
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
    return BatchContext(settings, collection_id, run_id, ModelKey.of(step))


def end_run(repository: Repository, run_id: int, status: str) -> None:
    """Records the end of the batch's run, ``"finished"`` or ``"aborted"`` (never raises)."""
    try:
        repository.finish_run(run_id, status)
    except Exception:  # never hide the error that ended the batch behind this one
        logger.exception("could not record the end of run %d", run_id)


def batch_report(recorder: BatchRecorder, files: int, started: float, status: str) -> IndexReport:
    """The report of a batch whose run has ended; refreshes the statistics if pages were stored.

    Args:
        recorder: The batch's tallies.
        files: Input files considered.
        started: `time.perf_counter` at the start of the batch.
        status: How the run ended, ``"finished"`` or ``"aborted"``.
    """
    tally = recorder.tally()
    if tally.indexed or tally.replaced:
        recorder.repository.database.refresh_statistics()
    return IndexReport(
        run_id=recorder.context.run_id,
        files=files,
        indexed=tally.indexed,
        replaced=tally.replaced,
        skipped=tally.skipped,
        failures=tally.failures,
        seconds=time.perf_counter() - started,
        aborted=status == RUN_ABORTED,
        other_model=tally.other_model,
    )


class BatchRecorder:
    """Records what happens to the pages of a batch: failures in the database, tallies, events.

    Args:
        repository: Where failures are recorded.
        context: The batch.
        on_progress: Called with each `ProgressEvent`, in order.
    """

    def __init__(
        self,
        repository: Repository,
        context: BatchContext,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.repository = repository
        self.context = context
        self.on_progress = on_progress
        self.indexed = self.replaced = self.skipped = self.other_model = 0
        self.failures: list[IndexFailure] = []

    def tally(self) -> BatchTally:
        """What was done so far."""
        return BatchTally(
            self.indexed, self.replaced, self.skipped, self.other_model, tuple(self.failures)
        )

    def add(self, tally: BatchTally) -> None:
        """Adds what another recorder did (a worker's part of the batch)."""
        self.indexed += tally.indexed
        self.replaced += tally.replaced
        self.skipped += tally.skipped
        self.other_model += tally.other_model
        self.failures.extend(tally.failures)

    def emit(self, event: ProgressEvent) -> None:
        """Reports an event (and renews the run's heartbeat)."""
        self.repository.beat_run(self.context.run_id)
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
            self.context.collection_id,
            self.context.run_id,
            str(path),
            error,
            frame=frame,
            source=source,
            model=self.context.model if source is not None else None,
        )
        self.failures.append(IndexFailure(str(path), frame, type(error).__name__, reason))
        self.emit(
            ProgressEvent(EventKind.FAILED, path, frame=frame, pages_left=pages_left, reason=reason)
        )

    def skip(self, path: Path, frame: int, read_by: ModelKey | None = None) -> None:
        """Reports a page not indexed again, `read_by` the model whose reading is stored."""
        self.skipped += 1
        if read_by is not None and read_by != self.context.model:
            self.other_model += 1
            logger.info("%s [frame %d] is already read by %s", path, frame, read_by.model_id)
        self.emit(ProgressEvent(EventKind.PAGE_SKIPPED, path, frame=frame))

    def stored(self, path: Path, frame: int, outcome: StoreOutcome, lines: int) -> None:
        """Reports what storing a transcribed page did."""
        if outcome in (StoreOutcome.STORED, StoreOutcome.REPLACED):
            self.indexed += 1
            self.replaced += outcome is StoreOutcome.REPLACED
            self.emit(ProgressEvent(EventKind.PAGE_INDEXED, path, frame=frame, lines=lines))
            return
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


class FileIndexer:
    """Transcribes the pages of files and stores each page in one transaction.

    Args:
        recorder: Records the outcome of every page; its repository stores the pages.
        recognizer: Reads the lines; its model must be the batch's (`BatchContext.model`).
    """

    def __init__(self, recorder: BatchRecorder, recognizer: Recognizer) -> None:
        self.recorder = recorder
        self.recognizer = recognizer

    def index_file(self, counted: CountedFile) -> bool:
        """Indexes the pages of one file; False when something failed.

        Pages whose key (collection, content hash, frame, model) is already stored are
        skipped without being decoded, so indexing a file a second time (a rerun, or a task
        retried after its worker died) stores nothing twice.
        """
        recorder = self.recorder
        path, frames = counted.path, counted.frames
        if counted.error is not None:
            recorder.fail(path, counted.error)
            return False
        try:
            source = hash_file(path)
        except ImageLoadError as error:
            recorder.fail(path, error, pages_left=frames)
            return False
        recorder.emit(ProgressEvent(EventKind.FILE_STARTED, path, frames=frames))
        context = recorder.context
        done = (
            {}
            if context.settings.force
            else recorder.repository.read_frames(context.collection_id, source.sha256)
        )
        if set(done).issuperset(range(frames)):
            for frame in range(frames):
                recorder.skip(path, frame, done[frame])
            return True
        return self._index_frames(path, source, frames, done)

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
                    self.recorder.skip(path, page_image.frame, done[page_image.frame])
                    continue
                if not self._index_page(path, source, page_image):
                    all_good = False
                    if self.recorder.context.settings.on_error is OnError.ABORT:
                        return False
        except ImageLoadError as error:
            self.recorder.fail(
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
        recorder, context = self.recorder, self.recorder.context
        frame = page_image.frame
        try:
            page = transcribe_page(page_image, self.recognizer, context.settings.pipeline)
        except LegajoError as error:
            recorder.fail(path, error, frame=frame, source=source)
            return False
        except Exception as error:  # one odd page must not end a batch of thousands
            logger.exception("unexpected error on %s [frame %d]", path, frame)
            recorder.fail(path, error, frame=frame, source=source)
            return False
        outcome = recorder.repository.store_page(
            context.collection_id,
            context.run_id,
            source,
            page,
            context.model,
            replace=context.settings.force,
        )
        recorder.stored(path, frame, outcome, len(page.lines))
        return True
