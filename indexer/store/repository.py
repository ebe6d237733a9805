"""The only module that reads and writes legajo's tables (with `indexer.store.db` for the engine).

Everything it returns is a domain object (`htr.document.Page`, `Line`...) or one of the small
frozen dataclasses below, never an ORM row. Every value reaches SQL as a bound parameter.

Writes are one transaction each. `store_page` writes a page with all its lines, words and
alternatives in one transaction, so a page is either entirely stored or not at all, whatever
happens to the process. The unique constraint on (collection, content hash, frame, model id,
model revision) makes storing idempotent: a second copy of a page, from a rerun or from a
second process indexing the same folder, is refused by the database and reported as
`StoreOutcome.ALREADY_PRESENT`.

Search (issue 5): `store_page`, `correct_line` and `confirm_line` also write, in the same
transaction, the line's word probabilities (`indexer.store.word_index`) and one `search_changes`
row per line stored, corrected, confirmed or deleted: the change feed that keeps the FAISS
indexes fresh. On PostgreSQL those writers take a transaction-level advisory lock first, so
that change and word-form ids become visible in the order they were allocated and a reader
that remembers the highest id it has seen misses nothing. The read side of search is
`indexer.store.search_reader.SearchReader`, opened by `Repository.search_reader`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.expression import ColumnElement

from htr.document import Line, Page, ProcessingStep, Word
from indexer.errors import (
    LineNotFoundError,
    StaleLineError,
    UnknownCollectionError,
)
from indexer.store.db import Database
from indexer.store.orm import (
    CHANGE_DELETE,
    CHANGE_UPSERT,
    PAGE_FAILED,
    PAGE_INDEXED,
    RUN_RUNNING,
    AlternativeRow,
    CollectionRow,
    CorrectionRow,
    FileErrorRow,
    LineRow,
    LineWordRow,
    PageRow,
    ProcessingRunRow,
    SearchChangeRow,
    WordFormRow,
    WordRow,
    utc_now,
)
from indexer.store.row_mapping import (
    StoredLine,
    chunks,
    geometry_line,
    line_of,
    stored_line,
    words_of,
)
from indexer.store.search_reader import SearchReader
from indexer.store.word_index import FormStats, line_forms, variant_key
from indexer.transfer.formats.words import verified_words

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
"""The collection pages go to when none is named."""

_SEARCH_WRITE_LOCK_KEY = 0x6C65_6773  # "legs": PostgreSQL advisory lock of search writers
_STREAM_BATCH = 5000
"""Rows per read transaction when streaming forms or line texts."""


@dataclass(frozen=True, slots=True)
class ModelKey:
    """Which model read a page: its id (name or path) and revision (empty when unknown)."""

    model_id: str
    revision: str = ""

    @classmethod
    def of(cls, step: ProcessingStep) -> ModelKey:
        """The model of a recognition step."""
        return cls(step.model_id or "", step.model_revision or "")


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
    """A processing run (one `legajo index` invocation)."""

    id: int
    collection: str
    kind: str
    model: ModelKey
    software: str
    settings: Mapping[str, Any]
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None


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


class Repository:
    """Reads and writes legajo's tables.

    Args:
        database: An open database (see `indexer.store.db.open_database`).
    """

    def __init__(self, database: Database) -> None:
        self._db = database

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

        Args:
            collection_id: The collection it works on.
            kind: What it does, e.g. ``"index"``.
            step: The recognizer's provenance record (model id, revision, its settings).
            settings: Further settings of the run (layout, on-error...), JSON-compatible.
        """
        model = ModelKey.of(step)
        with self._db.write() as session:
            row = ProcessingRunRow(
                collection_id=collection_id,
                kind=kind,
                model_id=model.model_id,
                model_revision=model.revision,
                software=step.software,
                settings={"recognizer": dict(step.settings), **dict(settings)},
                status=RUN_RUNNING,
            )
            session.add(row)
            session.flush()
            return row.id

    def finish_run(self, run_id: int, status: str) -> None:
        """Records the end of a run (``"finished"`` or ``"aborted"``)."""
        with self._db.write() as session:
            session.execute(
                update(ProcessingRunRow)
                .where(ProcessingRunRow.id == run_id)
                .values(status=status, finished_at=utc_now())
            )

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
            return [
                RunRecord(
                    id=row.id,
                    collection=name,
                    kind=row.kind,
                    model=ModelKey(row.model_id, row.model_revision),
                    software=row.software,
                    settings=dict(row.settings),
                    status=row.status,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                )
                for row, name in session.execute(query)
            ]

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
                existing = session.scalars(
                    _page_key_query(
                        collection_id, source.sha256, page.frame, model
                    ).with_for_update()
                ).one_or_none()
                replaced_lines: list[int] = []
                if existing is None:
                    row = PageRow(
                        collection_id=collection_id,
                        sha256=source.sha256,
                        frame=page.frame,
                        model_id=model.model_id,
                        model_revision=model.revision,
                    )
                    outcome = StoreOutcome.STORED
                elif existing.status == PAGE_INDEXED and not replace:
                    return StoreOutcome.ALREADY_PRESENT
                elif _has_corrections(session, existing.id):
                    return StoreOutcome.KEPT_CORRECTED
                else:
                    replaced_lines = list(
                        session.scalars(select(LineRow.id).where(LineRow.page_id == existing.id))
                    )
                    session.execute(delete(LineRow).where(LineRow.page_id == existing.id))
                    session.expire(existing, ["lines"])
                    row = existing
                    outcome = (
                        StoreOutcome.REPLACED
                        if existing.status == PAGE_INDEXED
                        else StoreOutcome.STORED
                    )
                row.run_id = run_id
                row.source_path = source.path
                row.size_bytes = source.size_bytes
                row.width, row.height = page.width, page.height
                row.status, row.error = PAGE_INDEXED, None
                row.steps = [step.to_dict() for step in page.steps]
                row.indexed_at = utc_now()
                row.lines = [_line_row(i, line) for i, line in enumerate(page.lines)]
                session.add(row)
                session.flush()
                _clear_failures(session, collection_id, source.path, page.frame)
                _write_search_index(
                    session,
                    [
                        (line_row.id, _machine_forms(line))
                        for line_row, line in zip(row.lines, page.lines, strict=True)
                    ],
                    deleted=replaced_lines,
                )
                return outcome
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
        kind, reason = type(error).__name__, str(error) or type(error).__name__
        try:
            with self._db.write() as session:
                _clear_failures(session, collection_id, source_path, frame)
                session.add(
                    FileErrorRow(
                        collection_id=collection_id,
                        run_id=run_id,
                        source_path=source_path,
                        frame=frame,
                        sha256=source.sha256 if source else None,
                        kind=kind,
                        reason=reason,
                    )
                )
                if source is not None and frame is not None and model is not None:
                    existing = session.scalars(
                        _page_key_query(collection_id, source.sha256, frame, model)
                    ).one_or_none()
                    if existing is None:
                        session.add(
                            PageRow(
                                collection_id=collection_id,
                                run_id=run_id,
                                source_path=source_path,
                                frame=frame,
                                sha256=source.sha256,
                                size_bytes=source.size_bytes,
                                model_id=model.model_id,
                                model_revision=model.revision,
                                status=PAGE_FAILED,
                                error=reason,
                                steps=[],
                            )
                        )
                    elif existing.status == PAGE_FAILED:
                        existing.error, existing.run_id = reason, run_id
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
            return [
                FileFailure(
                    collection=name,
                    source_path=row.source_path,
                    frame=row.frame,
                    kind=row.kind,
                    reason=row.reason,
                    run_id=row.run_id,
                    created_at=row.created_at,
                )
                for row, name in session.execute(query)
            ]

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
            return [
                PageSummary(
                    id=row.id,
                    collection=name,
                    source_path=row.source_path,
                    frame=row.frame,
                    sha256=row.sha256,
                    status=row.status,
                    error=row.error,
                    model=ModelKey(row.model_id, row.model_revision),
                    line_count=count,
                )
                for row, name, count in session.execute(query)
            ]

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
            return Page(
                image=row.source_path,
                frame=row.frame,
                width=row.width,
                height=row.height,
                lines=tuple(line_of(line) for line in row.lines),
                steps=tuple(ProcessingStep.from_dict(step) for step in row.steps),
            )

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

    # -- corrections ---------------------------------------------------------------------

    def correct_line(
        self, line_id: int, new_text: str, editor: str, expected_version: int
    ) -> StoredLine:
        """Replaces a line's current text with a human correction (kept as its own row).

        In the same transaction the line's words become the corrected text's words,
        verified (confidence 1), placed as `indexer.transfer.formats.words.verified_words` places
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
            row = session.scalars(
                select(LineRow).where(LineRow.id == line_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise LineNotFoundError(f"no line with id {line_id}")
            if row.version != expected_version:
                raise StaleLineError(line_id, expected_version, row.version)
            old_text = row.text
            text_now = old_text if new_text is None else new_text
            words = verified_words(text_now, words_of(row), (row.x0, row.y0, row.x1, row.y1))
            result = session.execute(
                update(LineRow)
                .where(LineRow.id == line_id, LineRow.version == expected_version)
                .values(text=text_now, version=expected_version + 1)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 1) != 1:  # changed between the read and the write
                raise StaleLineError(line_id, expected_version, expected_version + 1)
            session.execute(delete(WordRow).where(WordRow.line_id == line_id))
            if words:
                session.execute(
                    insert(WordRow),
                    [_word_values(line_id, i, word) for i, word in enumerate(words)],
                )
            session.add(
                CorrectionRow(
                    line_id=line_id,
                    old_text=old_text,
                    new_text=text_now,
                    editor=editor,
                    version=expected_version + 1,
                )
            )
            session.flush()
            session.refresh(row)
            session.expire(row, ["words"])
            verified = line_forms(text_now, (), (), 1.0, verified=True)
            _write_search_index(session, [(line_id, verified)])
            return stored_line(row)

    def corrections(self, line_id: int) -> list[Correction]:
        """The corrections of a line, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(CorrectionRow)
                .where(CorrectionRow.line_id == line_id)
                .order_by(CorrectionRow.version)
            )
            return [
                Correction(
                    id=row.id,
                    line_id=row.line_id,
                    old_text=row.old_text,
                    new_text=row.new_text,
                    editor=row.editor,
                    version=row.version,
                    created_at=row.created_at,
                )
                for row in rows
            ]

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
        weakest_word = (
            select(func.min(WordRow.confidence))
            .where(WordRow.line_id == LineRow.id)
            .correlate(LineRow)
            .scalar_subquery()
        )
        weakest = func.coalesce(weakest_word, LineRow.confidence)
        query = (
            select(PageRow.id, LineRow.id, weakest, PageRow.source_path, PageRow.frame)
            .join(PageRow, PageRow.id == LineRow.page_id)
            .where(PageRow.collection_id == collection_id, PageRow.status == PAGE_INDEXED)
        )
        if exclude_reviewed:
            query = query.where(LineRow.version == 1)
        query = (
            query.order_by(
                weakest, PageRow.source_path, PageRow.frame, PageRow.id, LineRow.position
            )
            .limit(limit)
            .offset(offset)
        )
        with self._db.read() as session:
            return [
                ReviewItem(int(page_id), int(line_id), float(low), str(path), int(frame))
                for page_id, line_id, low, path, frame in session.execute(query)
            ]

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
        latest = (
            select(CorrectionRow.new_text)
            .where(CorrectionRow.line_id == LineRow.id)
            .order_by(CorrectionRow.version.desc(), CorrectionRow.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        is_import_model = and_(
            PageRow.model_id == import_model.model_id,
            PageRow.model_revision == import_model.revision,
        )
        query = (
            select(
                LineRow, PageRow.source_path, PageRow.frame, PageRow.sha256, PageRow.steps, latest
            )
            .join(PageRow, PageRow.id == LineRow.page_id)
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .where(PageRow.status == PAGE_INDEXED)
            .where(or_(exists().where(CorrectionRow.line_id == LineRow.id), is_import_model))
            .order_by(
                CollectionRow.name, PageRow.source_path, PageRow.frame, PageRow.id, LineRow.position
            )
        )
        if collection is not None:
            query = query.where(CollectionRow.name == collection)
        found: list[VerifiedLine] = []
        page_steps: dict[int, tuple[ProcessingStep, ...]] = {}
        with self._db.read() as session:
            for row, source_path, frame, sha256, steps, correction in session.execute(query):
                if row.page_id not in page_steps:
                    page_steps[row.page_id] = tuple(
                        ProcessingStep.from_dict(step) for step in steps or ()
                    )
                steps_of_page = page_steps[row.page_id]
                if correction is None and not any(s.kind == import_step for s in steps_of_page):
                    continue  # a model called like the import key, not an imported page
                found.append(
                    VerifiedLine(
                        source_path=str(source_path),
                        frame=int(frame),
                        sha256=str(sha256),
                        steps=steps_of_page,
                        line=geometry_line(row, row.text if correction is None else correction),
                        corrected=correction is not None,
                    )
                )
        return found

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
        while True:
            with self._db.read() as session:
                batch = session.execute(
                    select(WordFormRow.id, WordFormRow.form)
                    .where(WordFormRow.id > after_id)
                    .order_by(WordFormRow.id)
                    .limit(_STREAM_BATCH)
                ).all()
            yield from ((int(i), str(form)) for i, form in batch)
            if len(batch) < _STREAM_BATCH:
                return
            after_id = batch[-1][0]

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
        if after_change > 0:
            changed = [
                line_id
                for _, line_id, kind in self.changes_since(after_change)
                if kind == CHANGE_UPSERT
            ]
            found: list[tuple[int, int, int, str]] = []
            with self._db.read() as session:
                for chunk in chunks(sorted(set(changed))):
                    found.extend(
                        (int(i), int(p), int(pos), str(t))
                        for i, p, pos, t in session.execute(
                            select(
                                LineRow.id, LineRow.page_id, LineRow.position, LineRow.text
                            ).where(LineRow.id.in_(chunk))
                        )
                    )
            yield from sorted(found, key=lambda row: (row[1], row[2]))
            return
        page_id, position = 0, -1
        while True:
            with self._db.read() as session:
                batch = session.execute(
                    select(LineRow.id, LineRow.page_id, LineRow.position, LineRow.text)
                    .where(
                        or_(
                            LineRow.page_id > page_id,
                            (LineRow.page_id == page_id) & (LineRow.position > position),
                        )
                    )
                    .order_by(LineRow.page_id, LineRow.position)
                    .limit(_STREAM_BATCH)
                ).all()
            yield from ((int(i), int(p), int(pos), str(t)) for i, p, pos, t in batch)
            if len(batch) < _STREAM_BATCH:
                return
            page_id, position = batch[-1][1], batch[-1][2]

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
            return [
                (int(i), int(line_id), str(kind))
                for i, line_id, kind in session.execute(
                    select(SearchChangeRow.id, SearchChangeRow.line_id, SearchChangeRow.kind)
                    .where(SearchChangeRow.id > change_id)
                    .order_by(SearchChangeRow.id)
                )
            ]

    def last_change_id(self) -> int:
        """The id of the latest change-feed entry, 0 when there is none."""
        with self._db.read() as session:
            return int(session.scalar(select(func.max(SearchChangeRow.id))) or 0)

    def search_counts(self) -> dict[str, int]:
        """Rows of the search tables: ``word_forms``, ``line_words``, ``search_changes``."""
        with self._db.read() as session:
            return {
                row.__tablename__: int(session.scalar(select(func.count()).select_from(row)) or 0)
                for row in (WordFormRow, LineWordRow, SearchChangeRow)
            }

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
            pages = _grouped(
                session,
                select(PageRow.collection_id, func.count(PageRow.id))
                .where(PageRow.status == PAGE_INDEXED)
                .group_by(PageRow.collection_id),
            )
            lines = _grouped(
                session,
                select(PageRow.collection_id, func.count(LineRow.id))
                .join(LineRow, LineRow.page_id == PageRow.id)
                .group_by(PageRow.collection_id),
            )
            word_query = (
                select(PageRow.collection_id, func.count(WordRow.id), func.avg(WordRow.confidence))
                .join(LineRow, LineRow.page_id == PageRow.id)
                .join(WordRow, WordRow.line_id == LineRow.id)
                .group_by(PageRow.collection_id)
            )
            words = {row[0]: (int(row[1]), row[2]) for row in session.execute(word_query)}
            errors = _grouped(
                session,
                select(FileErrorRow.collection_id, func.count(FileErrorRow.id)).group_by(
                    FileErrorRow.collection_id
                ),
            )
            id_query = select(CollectionRow.name, CollectionRow.id).where(
                CollectionRow.name.in_(names)
            )
            ids = {name: cid for name, cid in session.execute(id_query)}
        result = []
        for name in names:
            cid = ids[name]
            word_count, mean = words.get(cid, (0, None))
            result.append(
                CollectionStats(
                    collection=name,
                    pages=pages.get(cid, 0),
                    lines=lines.get(cid, 0),
                    words=word_count,
                    mean_confidence=None if mean is None else float(mean),
                    errors=errors.get(cid, 0),
                )
            )
        return result

    def table_counts(self) -> dict[str, int]:
        """Rows per table (pages of every status), for checks and benchmarks."""
        rows: Sequence[type[Any]] = (
            CollectionRow,
            ProcessingRunRow,
            PageRow,
            LineRow,
            WordRow,
            AlternativeRow,
            CorrectionRow,
            FileErrorRow,
        )
        with self._db.read() as session:
            return {
                row.__tablename__: int(session.scalar(select(func.count()).select_from(row)) or 0)
                for row in rows
            }


def _machine_forms(line: Line) -> dict[str, FormStats]:
    return line_forms(line.text, line.alternatives, line.words, line.confidence, verified=False)


def _lock_search_writers(session: Session) -> None:
    """Serialises search writers on PostgreSQL until commit (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEARCH_WRITE_LOCK_KEY})


def _form_ids(session: Session, forms: Collection[str]) -> dict[str, int]:
    """The ids of word forms, inserting the new ones."""
    wanted = sorted(forms)
    ids: dict[str, int] = {}
    for chunk in chunks(wanted):
        query = select(WordFormRow.form, WordFormRow.id).where(WordFormRow.form.in_(chunk))
        ids.update({form: form_id for form, form_id in session.execute(query)})
    missing = [form for form in wanted if form not in ids]
    for chunk in chunks(missing):
        inserted = session.execute(
            insert(WordFormRow)
            .values([{"form": form, "variant_key": variant_key(form)} for form in chunk])
            .returning(WordFormRow.form, WordFormRow.id)
        )
        ids.update({form: form_id for form, form_id in inserted})
    return ids


def _write_search_index(
    session: Session,
    lines: Sequence[tuple[int, Mapping[str, FormStats]]],
    *,
    deleted: Sequence[int] = (),
) -> None:
    """Replaces the word index of `lines` and appends their changes to the change feed."""
    if not lines and not deleted:
        return
    _lock_search_writers(session)
    ids = _form_ids(session, {form for _, forms in lines for form in forms})
    line_ids = [line_id for line_id, _ in lines]
    for chunk in chunks(line_ids):
        session.execute(delete(LineWordRow).where(LineWordRow.line_id.in_(chunk)))
    rows = [
        {
            "line_id": line_id,
            "form_id": ids[form],
            "probability": stats.probability,
            "text_confidence": stats.text_confidence,
        }
        for line_id, forms in lines
        for form, stats in forms.items()
    ]
    if rows:
        session.execute(insert(LineWordRow), rows)
    changes = [{"line_id": i, "kind": CHANGE_DELETE, "at": utc_now()} for i in deleted]
    changes += [{"line_id": i, "kind": CHANGE_UPSERT, "at": utc_now()} for i in line_ids]
    session.execute(insert(SearchChangeRow), changes)


def _page_key_query(collection_id: int, sha256: str, frame: int, model: ModelKey) -> Any:
    return select(PageRow).where(
        PageRow.collection_id == collection_id,
        PageRow.sha256 == sha256,
        PageRow.frame == frame,
        PageRow.model_id == model.model_id,
        PageRow.model_revision == model.revision,
    )


def _has_corrections(session: Session, page_id: int) -> bool:
    found = session.scalar(
        select(CorrectionRow.id)
        .join(LineRow, LineRow.id == CorrectionRow.line_id)
        .where(LineRow.page_id == page_id)
        .limit(1)
    )
    return found is not None


def _clear_failures(
    session: Session, collection_id: int, source_path: str, frame: int | None
) -> None:
    """Deletes the recorded failures of a file's frame and of the whole file."""
    frames: list[ColumnElement[bool]] = [FileErrorRow.frame.is_(None)]
    if frame is not None:
        frames.append(FileErrorRow.frame == frame)
    session.execute(
        delete(FileErrorRow).where(
            FileErrorRow.collection_id == collection_id,
            FileErrorRow.source_path == source_path,
            or_(*frames),
        )
    )


def _grouped(session: Session, query: Any) -> dict[int, int]:
    return {int(key): int(count) for key, count in session.execute(query)}


def _line_row(position: int, line: Line) -> LineRow:
    x0, y0, x1, y1 = line.bbox
    return LineRow(
        position=position,
        line_key=line.id,
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
        polygon=[list(p) for p in line.polygon],
        baseline=[list(p) for p in line.baseline],
        zone=line.zone,
        text=line.text,
        machine_text=line.text,
        confidence=line.confidence,
        version=1,
        words=[_word_row(i, word) for i, word in enumerate(line.words)],
        alternatives=[
            AlternativeRow(rank=rank, text=alt.text, prob=alt.prob)
            for rank, alt in enumerate(line.alternatives)
        ],
    )


def _word_row(position: int, word: Word) -> WordRow:
    x0, y0, x1, y1 = word.bbox
    return WordRow(
        position=position, text=word.text, confidence=word.confidence, x0=x0, y0=y0, x1=x1, y1=y1
    )


def _word_values(line_id: int, position: int, word: Word) -> dict[str, Any]:
    x0, y0, x1, y1 = word.bbox
    return {
        "line_id": line_id,
        "position": position,
        "text": word.text,
        "confidence": word.confidence,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
    }
