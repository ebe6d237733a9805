"""The plain records `indexer.store.repository.Repository` returns and takes, never ORM rows.

Frozen dataclasses (and `StoreOutcome`) with no database behind them: callers may keep,
compare and pass them around freely.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from htr.document import Line, ProcessingStep


@dataclass(frozen=True, slots=True)
class ModelKey:
    """Which model read a page: its id (name or path) and revision (empty when unknown)."""

    model_id: str
    revision: str = ""

    @classmethod
    def of(cls, step: ProcessingStep) -> ModelKey:
        """The model of a recognition step."""
        return cls(step.model_id or "", step.model_revision or "")


IMPORT_MODEL = ModelKey("import")
"""The model key of imported pages: they were read by people, not by a model."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An input file as indexed: its path as given, content hash and size."""

    path: str
    sha256: str
    size_bytes: int


class StoreOutcome(StrEnum):
    """What `Repository.store_page` did."""

    STORED = "stored"
    REPLACED = "replaced"
    ALREADY_PRESENT = "already-present"
    KEPT_CORRECTED = "kept-corrected"
    """Not replaced: the stored page holds human corrections that re-indexing would lose."""
    READ_BY_OTHER_MODEL = "read-by-other-model"
    """Not stored: another model's reading of the page is stored (``legajo reread`` reads it
    again in place; ``--force`` replaces it when it holds no corrections)."""


class RereadOutcome(StrEnum):
    """What `Repository.reread_page` did."""

    REREAD = "reread"
    UNCHANGED = "unchanged"
    """Not written: the page is already read by that model, or changed meanwhile."""
    COLLIDES = "collides"
    """Not written: another copy of the page, read by that model, is stored already."""


@dataclass(frozen=True, slots=True)
class MachineReading:
    """One machine reading of a line (`Repository.readings`).

    Attributes:
        text: What the model read.
        confidence: Its line confidence.
        model: The model that read it.
        run_id: The run (``index`` or ``reread``) that stored it.
        created_at: When.
    """

    text: str
    confidence: float
    model: ModelKey
    run_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A model registered in the home (`indexer.store.model_registry`).

    Attributes:
        name: The name people use.
        path: Its checkpoint folder.
        model: The key pages read by it carry.
        parent: The model it was fine-tuned from, when known.
        collection: The collection whose verified lines it learnt from.
        created_at: When it was registered.
        minutes: Wall-clock minutes of its training.
        training: What it was trained and measured on.
        cer_before: CER of the parent on the held-back lines.
        cer_after: CER of this model on the same lines.
    """

    name: str
    path: str
    model: ModelKey
    parent: ModelKey | None
    collection: str | None
    created_at: dt.datetime
    minutes: float
    training: Mapping[str, Any]
    cer_before: float | None
    cer_after: float | None


@dataclass(frozen=True, slots=True)
class PageSummary:
    """A stored page without its lines."""

    id: int
    collection: str
    source_path: str
    frame: int
    sha256: str
    status: str
    error: str | None
    model: ModelKey
    line_count: int
    steps: tuple[ProcessingStep, ...] = ()
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class Correction:
    """One human correction of a line."""

    id: int
    line_id: int
    old_text: str
    new_text: str
    editor: str
    version: int
    created_at: dt.datetime

    @property
    def confirmed(self) -> bool:
        """True when the editor confirmed the text as it was (`Repository.confirm_line`)."""
        return self.old_text == self.new_text


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A line waiting for review (`Repository.review_queue`).

    Attributes:
        page_id: Its page.
        line_id: The line.
        weakest: Confidence of its least confident word; the line confidence when it has
            no words.
        source_path: The page's file.
        frame: The page's frame in that file.
    """

    page_id: int
    line_id: int
    weakest: float
    source_path: str
    frame: int


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file (or one frame of it) that could not be indexed.

    Attributes:
        collection: Collection it was to go to.
        source_path: The file, as given to the indexer.
        frame: The frame that failed, None when the whole file could not be read.
        kind: Error class name, e.g. ``"ImageLoadError"``.
        reason: The error message.
        run_id: The processing run that met the error.
        created_at: When.
    """

    collection: str
    source_path: str
    frame: int | None
    kind: str
    reason: str
    run_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """Counts for one collection.

    Attributes:
        collection: Its name.
        pages: Indexed pages (frames).
        lines: Stored lines.
        words: Stored words.
        mean_confidence: Mean word confidence (expected share of words read right), None
            without words.
        errors: Files or frames that failed and were not indexed since.
    """

    collection: str
    pages: int
    lines: int
    words: int
    mean_confidence: float | None
    errors: int


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A processing run (one `legajo index` or `legajo import` invocation).

    Attributes:
        status: ``running``, ``finished``, ``aborted``, or ``interrupted`` (its process
            ended without recording its end; `indexer.store.runs`).
        host: The host name of the process that ran it (None before revision 0005).
        pid: That process's id on that host.
        heartbeat_at: When that process last showed it was alive.
    """

    id: int
    collection: str
    kind: str
    model: ModelKey
    software: str
    settings: Mapping[str, Any]
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    host: str | None = None
    pid: int | None = None
    heartbeat_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class VerifiedLine:
    """A stored line whose text a person verified (`Repository.verified_lines`).

    Attributes:
        source_path: The page's file, as it was indexed or imported.
        frame: The page's frame in that file.
        sha256: The content hash the page is stored under.
        steps: The page's processing steps.
        line: The line: stored geometry and zone, `Line.text` the verified text (no words
            or alternatives).
        corrected: True when a person corrected or confirmed the line (`Line.text` is then
            the latest correction), False for a line of an imported page never corrected.
    """

    source_path: str
    frame: int
    sha256: str
    steps: tuple[ProcessingStep, ...]
    line: Line
    corrected: bool
