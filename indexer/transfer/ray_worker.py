"""What runs inside the Ray workers of ``legajo index --engine ray`` (no Ray import here).

`RayPageIndexer` is the class of Ray Data's actor pool: each actor loads the recognizer and
opens the database once, then indexes whole files with the local engine's `FileIndexer`,
storing each page in one transaction. It returns, per file, a JSON summary (`FileOutcome`:
the tallies and the progress events) that the driver adds to the batch and shows.

Why the workers write, not the driver: pages are the bulk of the data (lines, words, n-best
readings), so each worker writing its own pages keeps the driver out of the data path and
lets writing scale with the workers; the database (PostgreSQL for a cluster) is reached from
every node anyway. A task that Ray retries after its worker died indexes its file again:
the pages the dead worker had committed are found by their key and skipped, the others are
stored, so no page is stored twice (and none half: each page is one transaction).
`check_worker` runs once, as a plain Ray task, before the pool starts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from htr.document import ProcessingStep
from htr.recognizer import Recognizer, RecognizerSettings, load_recognizer
from indexer.errors import RayClusterError
from indexer.store.db import open_database
from indexer.store.repository import ModelKey, Repository
from indexer.transfer.file_indexer import BatchContext, BatchRecorder, BatchTally, FileIndexer
from indexer.transfer.ingest_records import CountedFile, EventKind, IndexFailure, ProgressEvent

logger = logging.getLogger(__name__)

Batch = Mapping[str, np.ndarray]
"""A Ray Data batch in numpy format: one array per column."""


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What a worker did with one file: its tallies and its progress events, in order."""

    tally: BatchTally
    events: tuple[ProgressEvent, ...]

    def to_json(self) -> str:
        """The outcome as a JSON string (what travels back to the driver)."""
        tally = self.tally
        return json.dumps(
            {
                "indexed": tally.indexed,
                "replaced": tally.replaced,
                "skipped": tally.skipped,
                "other_model": tally.other_model,
                "failures": [[f.path, f.frame, f.kind, f.reason] for f in tally.failures],
                "events": [_event_data(event) for event in self.events],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FileOutcome:
        """Reads an outcome written by `to_json`."""
        data = json.loads(text)
        tally = BatchTally(
            indexed=data["indexed"],
            replaced=data["replaced"],
            skipped=data["skipped"],
            other_model=data["other_model"],
            failures=tuple(IndexFailure(*failure) for failure in data["failures"]),
        )
        events = tuple(_event_of(item) for item in data["events"])
        return cls(tally, events)


def _event_data(event: ProgressEvent) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "path": str(event.path),
        "frame": event.frame,
        "frames": event.frames,
        "pages_left": event.pages_left,
        "lines": event.lines,
        "reason": event.reason,
    }


def _event_of(data: Mapping[str, Any]) -> ProgressEvent:
    return ProgressEvent(
        EventKind(data["kind"]),
        Path(data["path"]),
        frame=data["frame"],
        frames=data["frames"],
        pages_left=data["pages_left"],
        lines=data["lines"],
        reason=data["reason"],
    )


def check_worker(database_url: str, model: str, settings: RecognizerSettings) -> ProcessingStep:
    """Loads the model and opens the database as a worker will; returns the model's step.

    Run as one Ray task before the batch, with the workers' resources: the driver learns the
    model's key (id and revision, part of every page's key) as the workers see it, and an
    unreachable database or a missing model is reported before anything starts.

    Raises:
        ModelLoadError: If the model cannot be loaded on the worker.
        DatabaseOpenError: If the database cannot be reached from the worker.
    """
    repository = Repository(open_database(database_url, migrate=False))
    try:
        repository.collections()
    finally:
        repository.database.close()
    return load_recognizer(model, settings).processing_step()


class RayPageIndexer:
    """A Ray Data actor: indexes the files of its batches into the database.

    Args:
        database_url: The database, as reachable from the worker (password included).
        model: The checkpoint directory or hub name, as reachable from the worker.
        recognizer_settings: Decoding and device settings (``auto`` uses the worker's GPU).
        context: The batch (collection, run, model key, settings).

    Raises:
        RayClusterError: If the worker's model is not the one the batch was opened for.
    """

    def __init__(
        self,
        database_url: str,
        model: str,
        recognizer_settings: RecognizerSettings,
        context: BatchContext,
    ) -> None:
        self._repository = Repository(open_database(database_url, migrate=False))
        self._recognizer: Recognizer = load_recognizer(model, recognizer_settings)
        found = ModelKey.of(self._recognizer.processing_step())
        if found != context.model:
            raise RayClusterError(
                f"the worker's model {found.model_id} (revision {found.revision}) is not the "
                f"batch's {context.model.model_id} (revision {context.model.revision})"
            )
        self._context = context

    def __call__(self, batch: Batch) -> dict[str, np.ndarray]:
        """Indexes the files of a batch (columns ``index``, ``path``, ``frames``).

        Returns:
            The columns ``index`` (as given) and ``outcome`` (`FileOutcome.to_json`).
        """
        outcomes = [
            self.index_file(Path(str(path)), int(frames)).to_json()
            for path, frames in zip(batch["path"], batch["frames"], strict=True)
        ]
        return {"index": np.asarray(batch["index"]), "outcome": np.asarray(outcomes)}

    def index_file(self, path: Path, frames: int) -> FileOutcome:
        """Indexes one file (pages already stored under their key are skipped)."""
        events: list[ProgressEvent] = []
        recorder = BatchRecorder(self._repository, self._context, events.append)
        FileIndexer(recorder, self._recognizer).index_file(CountedFile(path, frames))
        return FileOutcome(recorder.tally(), tuple(events))
