"""Batch indexing: walk folders, transcribe every page, store each page in one transaction.

`index_paths` is the library entry point; `legajo index` (`legajo.cli.archive`) drives it with a
progress bar fed by its callback. `indexer.transfer.ray_engine` runs the same work on a Ray
cluster (``--engine ray``); the per-file work both share is `indexer.transfer.file_indexer`,
the records (settings, events, report) `indexer.transfer.ingest_records`.

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

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from htr.images import is_supported
from htr.recognizer import Recognizer
from indexer.errors import NoInputError
from indexer.store.orm import RUN_ABORTED, RUN_FINISHED
from indexer.store.repository import Repository
from indexer.transfer.file_indexer import (
    BatchRecorder,
    FileIndexer,
    batch_report,
    count_pages,
    end_run,
    hash_file,
    open_batch,
)
from indexer.transfer.ingest_records import (
    EventKind,
    IndexFailure,
    IndexReport,
    IndexSettings,
    OnError,
    ProgressCallback,
    ProgressEvent,
)
from indexer.transfer.inputs import InputEntry, walk_inputs

__all__ = [
    "EventKind",
    "IndexFailure",
    "IndexReport",
    "IndexSettings",
    "OnError",
    "ProgressCallback",
    "ProgressEvent",
    "find_inputs",
    "hash_file",
    "index_paths",
]

logger = logging.getLogger(__name__)


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
    files = count_pages(entries, on_progress)
    context = open_batch(repository, recognizer.processing_step(), settings)
    recorder = BatchRecorder(repository, context, on_progress)
    indexer = FileIndexer(recorder, recognizer)
    status = RUN_ABORTED
    try:
        total = sum(counted.frames for counted in files)
        recorder.emit(ProgressEvent(EventKind.PAGES_COUNTED, files[-1].path, frames=total))
        for counted in files:
            if not indexer.index_file(counted) and settings.on_error is OnError.ABORT:
                logger.warning("stopping at the first failure (on-error abort)")
                break
        else:
            status = RUN_FINISHED
    finally:
        end_run(repository, context.run_id, status)
    return batch_report(recorder, len(files), started, status)
