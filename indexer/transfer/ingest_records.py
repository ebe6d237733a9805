"""The records of a batch of `legajo index`: its settings, progress events and report.

Shared by both engines: `indexer.transfer.ingest` (one process) and
`indexer.transfer.ray_engine` (a Ray cluster), and by the displays that follow them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from htr.pipeline import PipelineSettings
from indexer.store.repository import DEFAULT_COLLECTION


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
class CountedFile:
    """An input with its pages counted, or the error that will make it fail."""

    path: Path
    frames: int
    error: Exception | None = None
