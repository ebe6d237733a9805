"""`legajo reread`: read a collection's pages again with another model, in place.

Each page is opened again as it was stored (the same file content, each PDF page at its
stored resolution: `indexer.transfer.stored_images`), its stored lines are cut with their
stored polygons and read by the new model, and the readings are written in place in one
transaction per page (`indexer.store.rereading`): page and line ids stay, every reading is
kept with the model that made it, lines people verified keep their verified text, search
follows at once. A page already read by the model is skipped, so the same command resumes an
interrupted reread; imported transcriptions are not machine readings and are left alone.
A page that cannot be read again (its file gone or changed) is recorded as a failure
(`legajo errors`) and the others are read.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from htr.document import Line
from htr.errors import ImageLoadError, LegajoError
from htr.images import PageImage
from htr.pipeline import read_lines, stored_pdf_dpi
from htr.recognizer import Recognizer
from indexer.store.orm import PAGE_INDEXED, RUN_ABORTED, RUN_FINISHED
from indexer.store.records import IMPORT_MODEL, ModelKey, PageSummary, RereadOutcome
from indexer.store.repository import Repository, StoredLine
from indexer.transfer.stored_images import check_unchanged, stored_frames

logger = logging.getLogger(__name__)

RUN_KIND = "reread"
"""`ProcessingRunRow.kind` of a reread."""


@dataclass(frozen=True, slots=True)
class RereadFailure:
    """A page that could not be read again."""

    path: str
    frame: int
    reason: str


@dataclass(slots=True)
class RereadReport:
    """What a reread did.

    Attributes:
        run_id: Its processing run.
        model: The model that read.
        pages: Machine-read pages of the collection.
        reread: Pages read again now.
        already: Pages that model had read already (skipped).
        collided: Pages skipped because another copy of them, read by that model, is
            stored already (from before legajo kept one reading per page).
        imported: Imported pages left as they are.
        failures: Pages that could not be read again.
        lines_read: Lines read.
        lines_changed: Of those, lines whose machine reading changed.
        verified_kept: Of those, verified lines that kept their verified text.
        confidence_before: Mean line confidence of the lines read, before.
        confidence_after: The same, after.
        seconds: Wall-clock time.
    """

    run_id: int
    model: ModelKey
    pages: int = 0
    reread: int = 0
    already: int = 0
    collided: int = 0
    imported: int = 0
    failures: list[RereadFailure] = field(default_factory=list)
    lines_read: int = 0
    lines_changed: int = 0
    verified_kept: int = 0
    confidence_before: float | None = None
    confidence_after: float | None = None
    seconds: float = 0.0


RereadProgress = Callable[[int, int], None]
"""Called with (pages done, pages to do) after each page."""


def reread_collection(
    repository: Repository,
    recognizer: Recognizer,
    collection: str,
    *,
    only_unverified: bool = False,
    progress: RereadProgress | None = None,
) -> RereadReport:
    """Reads a collection's machine-read pages again with `recognizer`, in place.

    Args:
        repository: The database.
        recognizer: The model to read with.
        collection: The collection.
        only_unverified: Read only the lines nobody verified (verified lines also keep
            their earlier machine reading).
        progress: Told after each page.

    Returns:
        What was done.

    Raises:
        UnknownCollectionError: If the collection does not exist.
    """
    started = time.perf_counter()
    collection_id = repository.collection_id(collection)
    step = recognizer.processing_step()
    model = ModelKey.of(step)
    stored = [p for p in repository.pages(collection) if p.status == PAGE_INDEXED]
    machine_read = [p for p in stored if p.model != IMPORT_MODEL]
    todo = [p for p in machine_read if p.model != model]
    run_id = repository.start_run(
        collection_id, RUN_KIND, step, {"only_unverified": only_unverified}
    )
    report = RereadReport(
        run_id,
        model,
        pages=len(machine_read),
        already=len(machine_read) - len(todo),
        imported=len(stored) - len(machine_read),
    )
    batch = _Reread(repository, recognizer, collection_id, run_id, report, only_unverified)
    status = RUN_ABORTED
    try:
        for path, group in groupby(todo, key=lambda p: p.source_path):
            for page, image, error in _stored_pages(path, list(group)):
                if image is None:
                    batch.fail(page, error or ImageLoadError(f"{path}: cannot be opened"))
                else:
                    batch.reread(page, image)
                repository.beat_run(run_id)
                if progress is not None:
                    progress(batch.done, len(todo))
        status = RUN_FINISHED
    finally:
        repository.finish_run(run_id, status)
    report.confidence_before = statistics.fmean(batch.before) if batch.before else None
    report.confidence_after = statistics.fmean(batch.after) if batch.after else None
    report.seconds = time.perf_counter() - started
    return report


class _Reread:
    """The state of one `reread_collection` call."""

    def __init__(
        self,
        repository: Repository,
        recognizer: Recognizer,
        collection_id: int,
        run_id: int,
        report: RereadReport,
        only_unverified: bool,
    ) -> None:
        self.repository = repository
        self.recognizer = recognizer
        self.collection_id = collection_id
        self.run_id = run_id
        self.report = report
        self.only_unverified = only_unverified
        self.step = recognizer.processing_step()
        self.done = 0
        self.before: list[float] = []
        self.after: list[float] = []

    def reread(self, page: PageSummary, image: PageImage) -> None:
        """Reads one page's lines again and stores the readings in place."""
        self.done += 1
        try:
            stored = self.repository.lines(page.id)
            chosen = [s for s in stored if not (self.only_unverified and s.version > 1)]
            read = read_lines(image.image, [s.line for s in chosen], self.recognizer)
            outcome = self.repository.reread_page(
                page.id,
                expected=page.model,
                step=self.step,
                run_id=self.run_id,
                lines={s.id: line for s, line in zip(chosen, read, strict=True)},
            )
        except LegajoError as error:
            self.fail(page, error)
            return
        except Exception as error:  # one odd page must not end the reread of thousands
            logger.exception("unexpected error on %s [frame %d]", page.source_path, page.frame)
            self.fail(page, error)
            return
        if outcome is RereadOutcome.COLLIDES:
            self.report.collided += 1
            logger.warning(
                "%s [frame %d]: another copy of this page, read by %s, is stored already; "
                "left as it is",
                page.source_path,
                page.frame,
                self.report.model.model_id,
            )
            return
        if outcome is RereadOutcome.UNCHANGED:
            self.report.already += 1
            return
        self._count(chosen, read)

    def _count(self, chosen: Sequence[StoredLine], read: Sequence[Line]) -> None:
        report = self.report
        report.reread += 1
        for old, new in zip(chosen, read, strict=True):
            report.lines_read += 1
            report.lines_changed += new.text != old.machine_text
            report.verified_kept += old.version > 1
            self.before.append(old.line.confidence)
            self.after.append(new.confidence)

    def fail(self, page: PageSummary, error: Exception) -> None:
        """Records a page that could not be read again (`legajo errors` lists it)."""
        self.done += 1
        reason = str(error) or type(error).__name__
        logger.warning("%s [frame %d]: %s", page.source_path, page.frame, reason)
        self.repository.record_failure(
            self.collection_id, self.run_id, page.source_path, error, frame=page.frame
        )
        self.report.failures.append(RereadFailure(page.source_path, page.frame, reason))


def _stored_pages(
    path: str, pages: Sequence[PageSummary]
) -> Iterator[tuple[PageSummary, PageImage | None, Exception | None]]:
    """Each page of one file with its image as stored, or the error that keeps it from opening.

    Pages come one at a time, in frame order, so a long PDF is never held in memory whole.
    """
    by_frame = {page.frame: page for page in pages}
    opened: set[int] = set()
    try:
        if not Path(path).is_file():
            raise ImageLoadError(f"{path}: the page image is not there any more")
        check_unchanged(path, {page.sha256 for page in pages})
        dpis = {page.frame: stored_pdf_dpi(page.steps) for page in pages}
        for image in stored_frames(path, dpis):
            opened.add(image.frame)
            yield by_frame[image.frame], image, None
    except ImageLoadError as error:
        for frame in sorted(set(by_frame) - opened):
            yield by_frame[frame], None, error
        return
    for frame in sorted(set(by_frame) - opened):
        yield by_frame[frame], None, ImageLoadError(f"{path} has no page {frame + 1} any more")
