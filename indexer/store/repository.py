"""The front of the store: `Repository` reads and writes legajo's tables.

Everything it returns is a domain object (`htr.document.Page`, `Line`...) or one of the small
frozen dataclasses of `indexer.store.records`, never an ORM row. Every value reaches SQL as
a bound parameter. Everything outside `indexer.store` goes through `Repository` (and the
`SearchReader` it opens); `indexer.store.db` gives it the engine.

`Repository` opens the transactions and says what each operation means; the longer reads
and writes run inside them in a module per concern: `indexer.store.page_writes` (pages and
failures), `indexer.store.verification` (corrections, confirmations, the review queue,
verified lines), `indexer.store.search_writer` and `indexer.store.search_feed` (the word
index and change feed of search, written and read), `indexer.store.statistics` (counts)
and `indexer.store.row_mapping` (rows to domain objects and back).

Writes are one transaction each. `store_page` writes a page with all its lines, words and
alternatives in one transaction, so a page is either entirely stored or not at all, whatever
happens to the process. The unique constraint on (collection, content hash, frame, model id,
model revision) makes storing idempotent: a second copy of a page, from a rerun or from a
second process indexing the same folder, is refused by the database and reported as
`StoreOutcome.ALREADY_PRESENT`.

For search, `store_page`, `correct_line` and `confirm_line` also write, in the same
transaction, the line's word probabilities and one `search_changes` row per line changed:
the feed that keeps the FAISS indexes fresh. `Repository.search_reader` opens the read side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from htr.document import Line, Page, ProcessingStep
from htr.errors import LegajoError
from indexer.errors import LineNotFoundError, UnknownCollectionError
from indexer.store.db import Database
from indexer.store.orm import (
    PAGE_INDEXED,
    CollectionRow,
    CorrectionRow,
    FileErrorRow,
    LineRow,
    PageRow,
    ProcessingRunRow,
    SearchChangeRow,
    WordFormRow,
)
from indexer.store.page_writes import write_failure, write_page
from indexer.store.records import (
    IMPORT_MODEL,
    CollectionStats,
    Correction,
    FileFailure,
    MachineReading,
    ModelKey,
    PageSummary,
    RereadOutcome,
    ReviewItem,
    RunRecord,
    SourceFile,
    StoreOutcome,
    VerifiedLine,
)
from indexer.store.rereading import read_readings, write_reread
from indexer.store.row_mapping import (
    StoredLine,
    correction_record,
    file_failure,
    page_of,
    page_summary,
    run_record,
    stored_line,
)
from indexer.store.runs import (
    HEARTBEAT_INTERVAL_S,
    current_owner,
    insert_run,
    mark_interrupted_runs,
    touch_run,
)
from indexer.store.search_feed import read_changes, stream_line_texts, stream_word_forms
from indexer.store.search_reader import SearchReader
from indexer.store.statistics import ARCHIVE_TABLES, SEARCH_TABLES, collection_stats, row_counts
from indexer.store.verification import read_review_queue, read_verified_lines, write_line_version

__all__ = [
    "DEFAULT_COLLECTION",
    "CollectionStats",
    "Correction",
    "FileFailure",
    "MachineReading",
    "ModelKey",
    "PageSummary",
    "Repository",
    "RereadOutcome",
    "ReviewItem",
    "RunRecord",
    "SearchReader",
    "SourceFile",
    "StoreOutcome",
    "StoredLine",
    "VerifiedLine",
]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
"""The collection pages go to when none is named."""


class Repository:
    """Reads and writes legajo's tables.

    Args:
        database: An open database (see `indexer.store.db.open_database`).
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._heartbeats: dict[int, float] = {}
        """When (monotonic seconds) this repository last renewed each run's heartbeat."""

    @property
    def database(self) -> Database:
        """The database this repository works on."""
        return self._db

    # -- collections and runs ------------------------------------------------------------

    def ensure_collection(self, name: str) -> int:
        """Returns the id of a collection, creating it when new (safe under concurrency)."""
        with self._db.read() as session:
            found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if found is not None:
            return found
        try:
            with self._db.write() as session:
                found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
                if found is not None:
                    return found
                row = CollectionRow(name=name)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:  # created by another process meanwhile
            return self.collection_id(name)

    def collection_id(self, name: str) -> int:
        """The id of an existing collection.

        Raises:
            UnknownCollectionError: If there is no collection of that name.
        """
        with self._db.read() as session:
            found = session.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if found is None:
            raise UnknownCollectionError(f"no collection named {name!r}")
        return found

    def collections(self) -> list[str]:
        """The names of all collections, sorted."""
        with self._db.read() as session:
            return list(session.scalars(select(CollectionRow.name).order_by(CollectionRow.name)))

    def start_run(
        self, collection_id: int, kind: str, step: ProcessingStep, settings: Mapping[str, Any]
    ) -> int:
        """Records the start of a processing run and returns its id.

        The run records this process (host name, process id) as its owner. Runs left
        ``running`` by processes that are gone are marked ``interrupted`` first
        (`indexer.store.runs`), each with a warning in the log.

        Args:
            collection_id: The collection it works on.
            kind: What it does, e.g. ``"index"``.
            step: The recognizer's provenance record (model id, revision, its settings).
            settings: Further settings of the run (layout, on-error...), JSON-compatible.
        """
        owner = current_owner()
        with self._db.write() as session:
            mark_interrupted_runs(session, owner)
            run_id = insert_run(session, collection_id, kind, step, settings, owner)
        self._heartbeats[run_id] = time.monotonic()
        return run_id

    def beat_run(self, run_id: int) -> None:
        """Renews a running run's heartbeat, at most every minute (cheap to call often).

        The heartbeat tells other hosts that the run's process is still alive
        (`indexer.store.runs`). A failure to write it is logged, never raised: it must not
        end the batch.
        """
        now = time.monotonic()
        if now - self._heartbeats.get(run_id, 0.0) < HEARTBEAT_INTERVAL_S:
            return
        self._heartbeats[run_id] = now
        try:
            with self._db.write() as session:
                touch_run(session, run_id)
        except LegajoError as error:
            logger.warning("could not renew the heartbeat of run %d: %s", run_id, error)

    def finish_run(self, run_id: int, status: str) -> None:
        """Records the end of a run (``"finished"`` or ``"aborted"``)."""
        self._heartbeats.pop(run_id, None)
        with self._db.write() as session:
            touch_run(session, run_id, status)

    def runs(self, collection: str | None = None) -> list[RunRecord]:
        """The processing runs, oldest first, optionally of one collection."""
        query = (
            select(ProcessingRunRow, CollectionRow.name)
            .join(CollectionRow, CollectionRow.id == ProcessingRunRow.collection_id)
            .order_by(ProcessingRunRow.id)
        )
        if collection is not None:
            query = query.where(CollectionRow.name == collection)
        with self._db.read() as session:
            return [run_record(row, name) for row, name in session.execute(query)]

    # -- pages ---------------------------------------------------------------------------

    def indexed_frames(self, collection_id: int, sha256: str, model: ModelKey) -> set[int]:
        """The frames of a file content already indexed in a collection by a model."""
        with self._db.read() as session:
            return set(
                session.scalars(
                    select(PageRow.frame).where(
                        PageRow.collection_id == collection_id,
                        PageRow.sha256 == sha256,
                        PageRow.model_id == model.model_id,
                        PageRow.model_revision == model.revision,
                        PageRow.status == PAGE_INDEXED,
                    )
                )
            )

    def read_frames(self, collection_id: int, sha256: str) -> dict[int, ModelKey]:
        """The frames of a file content that a model read in a collection, with that model.

        Imported transcriptions are not machine readings and do not count.
        """
        query = (
            select(PageRow.frame, PageRow.model_id, PageRow.model_revision)
            .where(
                PageRow.collection_id == collection_id,
                PageRow.sha256 == sha256,
                PageRow.status == PAGE_INDEXED,
            )
            .order_by(PageRow.id.desc())
        )
        with self._db.read() as session:
            found = {
                int(frame): ModelKey(model_id, revision)
                for frame, model_id, revision in session.execute(query)
            }
        return {frame: key for frame, key in found.items() if key != IMPORT_MODEL}

    def store_page(
        self,
        collection_id: int,
        run_id: int | None,
        source: SourceFile,
        page: Page,
        model: ModelKey,
        *,
        replace: bool = False,
    ) -> StoreOutcome:
        """Stores a transcribed page with its lines, words and alternatives, in one transaction.

        Args:
            collection_id: The collection.
            run_id: The processing run that produced it.
            source: The file it comes from.
            page: The page (``page.frame`` is its frame in the file).
            model: The model that read it.
            replace: Replace the lines of an already indexed copy (``--force``), unless that
                copy holds human corrections.

        Returns:
            What was done. A page already indexed (by a rerun, or meanwhile by another
            process) is left as it is and reported as `StoreOutcome.ALREADY_PRESENT`.
        """
        try:
            with self._db.write() as session:
                return write_page(
                    session, collection_id, run_id, source, page, model, replace=replace
                )
        except IntegrityError:
            if page.frame in self.indexed_frames(collection_id, source.sha256, model):
                logger.info("%s frame %d was indexed meanwhile", source.path, page.frame)
                return StoreOutcome.ALREADY_PRESENT
            raise

    def record_failure(
        self,
        collection_id: int,
        run_id: int | None,
        source_path: str,
        error: BaseException,
        *,
        frame: int | None = None,
        source: SourceFile | None = None,
        model: ModelKey | None = None,
    ) -> None:
        """Records that a file, or one frame of it, could not be indexed.

        The failure replaces any earlier one of the same file and frame. With `source`,
        `frame` and `model` given, the frame also gets a page row with status ``"failed"``
        (unless a good copy is already indexed).
        """
        try:
            with self._db.write() as session:
                write_failure(
                    session,
                    collection_id,
                    run_id,
                    source_path,
                    error,
                    frame=frame,
                    source=source,
                    model=model,
                )
        except IntegrityError:  # another process stored the page meanwhile: keep its copy
            logger.info("%s frame %s was indexed meanwhile", source_path, frame)

    def failures(self, collection: str | None = None) -> list[FileFailure]:
        """The files and frames that failed and have not been indexed since, by path."""
        query = (
            select(FileErrorRow, CollectionRow.name)
            .join(CollectionRow, CollectionRow.id == FileErrorRow.collection_id)
            .order_by(CollectionRow.name, FileErrorRow.source_path, FileErrorRow.frame)
        )
        if collection is not None:
            query = query.where(CollectionRow.name == collection)
        with self._db.read() as session:
            return [file_failure(row, name) for row, name in session.execute(query)]

    def pages(self, collection: str | None = None) -> list[PageSummary]:
        """The stored pages (indexed and failed frames), by path and frame."""
        line_count = (
            select(func.count(LineRow.id)).where(LineRow.page_id == PageRow.id).scalar_subquery()
        )
        query = (
            select(PageRow, CollectionRow.name, line_count)
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .order_by(CollectionRow.name, PageRow.source_path, PageRow.frame, PageRow.id)
        )
        if collection is not None:
            query = query.where(CollectionRow.name == collection)
        with self._db.read() as session:
            return [page_summary(row, name, count) for row, name, count in session.execute(query)]

    def page_summary(self, page_id: int) -> PageSummary:
        """One stored page without its lines (cheap: its size, hash and collection).

        Raises:
            LookupError: If there is no page with that id.
        """
        line_count = (
            select(func.count(LineRow.id)).where(LineRow.page_id == PageRow.id).scalar_subquery()
        )
        query = (
            select(PageRow, CollectionRow.name, line_count)
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .where(PageRow.id == page_id)
        )
        with self._db.read() as session:
            found = session.execute(query).one_or_none()
            if found is None:
                raise LookupError(f"no page with id {page_id}")
            row, name, count = found
            return page_summary(row, name, count)

    def load_page(self, page_id: int) -> Page:
        """Loads a stored page as an `htr.document.Page` (lines show their current text).

        Raises:
            LookupError: If there is no page with that id.
        """
        with self._db.read() as session:
            row = session.scalars(
                select(PageRow)
                .where(PageRow.id == page_id)
                .options(
                    selectinload(PageRow.lines).selectinload(LineRow.words),
                    selectinload(PageRow.lines).selectinload(LineRow.alternatives),
                )
            ).one_or_none()
            if row is None:
                raise LookupError(f"no page with id {page_id}")
            return page_of(row)

    def lines(self, page_id: int) -> list[StoredLine]:
        """The lines of a page in reading order, with their ids and versions."""
        with self._db.read() as session:
            rows = session.scalars(
                select(LineRow)
                .where(LineRow.page_id == page_id)
                .order_by(LineRow.position)
                .options(selectinload(LineRow.words), selectinload(LineRow.alternatives))
            )
            return [stored_line(row) for row in rows]

    def line(self, line_id: int) -> StoredLine:
        """One line with its id, version, words and alternative readings.

        Raises:
            LineNotFoundError: If the line does not exist.
        """
        with self._db.read() as session:
            row = session.scalars(
                select(LineRow)
                .where(LineRow.id == line_id)
                .options(selectinload(LineRow.words), selectinload(LineRow.alternatives))
            ).one_or_none()
            if row is None:
                raise LineNotFoundError(f"no line with id {line_id}")
            return stored_line(row)

    # -- corrections ---------------------------------------------------------------------

    def correct_line(
        self, line_id: int, new_text: str, editor: str, expected_version: int
    ) -> StoredLine:
        """Replaces a line's current text with a human correction (kept as its own row).

        In the same transaction the line's words become the corrected text's words,
        verified (confidence 1), placed as `indexer.store.verified_words.verified_words` places
        them, and its search words get probability 1. Restoring an earlier version is a
        correction to that version's text.

        Args:
            line_id: The line.
            new_text: The corrected text.
            editor: Who corrected it.
            expected_version: The line's version the editor saw (`StoredLine.version`).

        Returns:
            The line after the correction, its version one higher.

        Raises:
            LineNotFoundError: If the line does not exist.
            StaleLineError: If the line changed since `expected_version` (someone else
                corrected it): nothing is written.
        """
        return self._write_version(line_id, new_text, editor, expected_version)

    def confirm_line(self, line_id: int, editor: str, expected_version: int) -> StoredLine:
        """Records that a person checked a line and found its current text right.

        A confirmation is a correction whose new text is the old one (`Correction.confirmed`):
        it shows in the line's history, takes the line out of the review queue, makes its
        words verified and protects it from re-indexing, as a correction does.

        Args:
            line_id: The line.
            editor: Who confirmed it.
            expected_version: The line's version the editor saw.

        Returns:
            The line after the confirmation, its version one higher.

        Raises:
            LineNotFoundError: If the line does not exist.
            StaleLineError: If the line changed since `expected_version`: nothing is written.
        """
        return self._write_version(line_id, None, editor, expected_version)

    def _write_version(
        self, line_id: int, new_text: str | None, editor: str, expected_version: int
    ) -> StoredLine:
        """Stores a correction (`new_text`) or a confirmation (None) of a line."""
        with self._db.write() as session:
            return write_line_version(session, line_id, new_text, editor, expected_version)

    def reread_page(
        self,
        page_id: int,
        *,
        expected: ModelKey,
        step: ProcessingStep,
        run_id: int | None,
        lines: Mapping[int, Line],
    ) -> RereadOutcome:
        """Stores new machine readings of a page's lines, in place, in one transaction.

        See `indexer.store.rereading`: ids stay, every reading is kept with its model,
        verified lines keep their text, the page takes the new model's key.

        Args:
            page_id: The page.
            expected: The model whose reading is replaced (the page's key when it was read).
            step: The new model's recognition step.
            run_id: The ``reread`` run.
            lines: Line id -> its new reading.

        Raises:
            LookupError: If there is no page with that id.
        """
        with self._db.write() as session:
            return write_reread(
                session,
                page_id,
                expected=expected,
                model=ModelKey.of(step),
                step=step,
                run_id=run_id,
                lines=lines,
            )

    def readings(self, line_id: int) -> list[MachineReading]:
        """The machine readings of a line recorded by rereads, oldest first (none before)."""
        with self._db.read() as session:
            return read_readings(session, line_id)

    def corrections(self, line_id: int) -> list[Correction]:
        """The corrections of a line, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(CorrectionRow)
                .where(CorrectionRow.line_id == line_id)
                .order_by(CorrectionRow.version)
            )
            return [correction_record(row) for row in rows]

    def review_queue(
        self,
        collection: str,
        *,
        limit: int,
        offset: int = 0,
        exclude_reviewed: bool = True,
    ) -> list[ReviewItem]:
        """A collection's lines, the most doubtful first, ordered by the database.

        A line's doubt is the confidence of its weakest word, or its line confidence when it
        has no words; ties keep reading order (file, frame, line).

        Args:
            collection: The collection.
            limit: Most lines returned.
            offset: Lines skipped first (for paging through the queue).
            exclude_reviewed: Leave out the lines a person corrected or confirmed.

        Raises:
            UnknownCollectionError: If there is no collection of that name.
        """
        collection_id = self.collection_id(collection)
        with self._db.read() as session:
            return read_review_queue(
                session,
                collection_id,
                limit=limit,
                offset=offset,
                exclude_reviewed=exclude_reviewed,
            )

    def verified_lines(
        self, collection: str | None, *, import_model: ModelKey, import_step: str
    ) -> list[VerifiedLine]:
        """Every stored line whose text a person verified, of one collection or of all.

        A line is verified when it was corrected or confirmed (it has a correction row: its
        text is the latest correction), or when its page is an imported transcription: stored
        under `import_model` *and* with a processing step of kind `import_step` (the model key
        alone could also be a model's path). Only indexed pages count.

        Args:
            collection: Only this collection; None for every collection.
            import_model: The model key of imported pages (the importer's `IMPORT_MODEL`).
            import_step: The step kind of imported pages (the importer's `IMPORT_STEP`).

        Returns:
            The lines in collection, file, frame and reading order.

        Raises:
            UnknownCollectionError: If `collection` does not exist.
        """
        if collection is not None:
            self.collection_id(collection)
        with self._db.read() as session:
            return read_verified_lines(
                session, collection, import_model=import_model, import_step=import_step
            )

    # -- search --------------------------------------------------------------------------

    def set_collection_variants(self, name: str, enabled: bool) -> None:
        """Turns spelling-variant folding on or off for a collection's searches.

        Raises:
            UnknownCollectionError: If there is no collection of that name.
        """
        with self._db.write() as session:
            result = session.execute(
                update(CollectionRow).where(CollectionRow.name == name).values(variants=enabled)
            )
            if getattr(result, "rowcount", 1) == 0:
                raise UnknownCollectionError(f"no collection named {name!r}")

    def collection_variants(self, name: str) -> bool:
        """Whether a collection folds spelling variants.

        Raises:
            UnknownCollectionError: If there is no collection of that name.
        """
        with self._db.read() as session:
            found = session.scalar(select(CollectionRow.variants).where(CollectionRow.name == name))
        if found is None:
            raise UnknownCollectionError(f"no collection named {name!r}")
        return bool(found)

    def word_forms(self, after_id: int = 0) -> Iterator[tuple[int, str]]:
        """Every normalised word form with an id above `after_id`, by id: (id, form)."""
        yield from stream_word_forms(self._db, after_id)

    def max_form_id(self) -> int:
        """The highest word-form id (0 without forms): forms are only ever added."""
        with self._db.read() as session:
            return int(session.scalar(select(func.max(WordFormRow.id))) or 0)

    def line_texts(self, after_change: int = 0) -> Iterator[tuple[int, int, int, str]]:
        """Current texts of lines, by page and position: (line id, page id, position, text).

        Args:
            after_change: 0 for every line; otherwise only the lines stored or corrected
                after that change id (`last_change_id`) and still present.
        """
        yield from stream_line_texts(self._db, after_change)

    def page_line_texts(self, page_id: int) -> list[tuple[int, int, str]]:
        """The lines of a page in reading order: (line id, position, current text)."""
        with self._db.read() as session:
            return [
                (int(i), int(pos), str(t))
                for i, pos, t in session.execute(
                    select(LineRow.id, LineRow.position, LineRow.text)
                    .where(LineRow.page_id == page_id)
                    .order_by(LineRow.position)
                )
            ]

    def changes_since(self, change_id: int) -> list[tuple[int, int, str]]:
        """The change feed after `change_id`, oldest first: (change id, line id, kind).

        ``kind`` is ``"upsert"`` (stored or corrected) or ``"delete"``.
        """
        with self._db.read() as session:
            return read_changes(session, change_id)

    def last_change_id(self) -> int:
        """The id of the latest change-feed entry, 0 when there is none."""
        with self._db.read() as session:
            return int(session.scalar(select(func.max(SearchChangeRow.id))) or 0)

    def search_counts(self) -> dict[str, int]:
        """Rows of the search tables: ``word_forms``, ``line_words``, ``search_changes``."""
        with self._db.read() as session:
            return row_counts(session, SEARCH_TABLES)

    @contextmanager
    def search_reader(self, timeout_s: float) -> Iterator[SearchReader]:
        """A read transaction for one search, every statement bounded by its deadline.

        Args:
            timeout_s: Seconds from now until the search must be over.

        Raises:
            SearchTimeoutError: From the reader's methods, once the deadline has passed.
            DatabaseAccessError: If the database cannot be reached.
        """
        deadline = time.monotonic() + timeout_s
        with self._db.read() as session:
            reader = SearchReader(session, deadline)
            with reader.bounded():
                yield reader

    # -- statistics ----------------------------------------------------------------------

    def stats(self, collection: str | None = None) -> list[CollectionStats]:
        """Per-collection counts, sorted by collection name."""
        names = self.collections() if collection is None else [collection]
        if collection is not None:
            self.collection_id(collection)
        with self._db.read() as session:
            return collection_stats(session, names)

    def table_counts(self) -> dict[str, int]:
        """Rows per table (pages of every status), for checks and benchmarks."""
        with self._db.read() as session:
            return row_counts(session, ARCHIVE_TABLES)
