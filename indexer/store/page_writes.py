"""Storing a transcribed page, or the failure to transcribe one, inside a write transaction.

`indexer.store.repository.Repository.store_page` and `record_failure` open the transaction
and handle a page stored meanwhile by another process; the functions here do the writing.
A page is keyed by (collection, content hash, frame, model id, model revision): see
`indexer.store.orm`. One frame holds at most one machine reading, though: a page that another
model read is not stored a second time (`StoreOutcome.READ_BY_OTHER_MODEL`; `legajo reread`
reads it again in place), and ``--force`` replaces that reading in place unless people
corrected it. Imported transcriptions (`IMPORT_MODEL`) are not machine readings and live
beside it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from htr.document import Page
from indexer.store.orm import (
    PAGE_FAILED,
    PAGE_INDEXED,
    CorrectionRow,
    FileErrorRow,
    LineRow,
    PageRow,
    utc_now,
)
from indexer.store.records import IMPORT_MODEL, ModelKey, SourceFile, StoreOutcome
from indexer.store.row_mapping import line_row
from indexer.store.search_writer import lock_search_writers, machine_forms, write_search_index


def write_page(
    session: Session,
    collection_id: int,
    run_id: int | None,
    source: SourceFile,
    page: Page,
    model: ModelKey,
    *,
    replace: bool,
) -> StoreOutcome:
    """Writes a transcribed page with its lines, words, alternatives and word index.

    Args are those of `Repository.store_page`, `session` its write transaction.

    Returns:
        What was done; nothing is written for `StoreOutcome.ALREADY_PRESENT`,
        `StoreOutcome.KEPT_CORRECTED` and `StoreOutcome.READ_BY_OTHER_MODEL`.
    """
    # Two writers reading a frame with two models must not both find it absent.
    lock_search_writers(session)
    existing = session.scalars(
        _page_key_query(collection_id, source.sha256, page.frame, model).with_for_update()
    ).one_or_none()
    if model != IMPORT_MODEL and (existing is None or existing.status != PAGE_INDEXED):
        other = other_reading(session, collection_id, source.sha256, page.frame)
        if other is not None:
            if not replace:
                return StoreOutcome.READ_BY_OTHER_MODEL
            if existing is not None:  # this model's failed try gives way to the reading
                session.delete(existing)
                session.flush()
            existing = other
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
        outcome = StoreOutcome.REPLACED if existing.status == PAGE_INDEXED else StoreOutcome.STORED
    row.model_id, row.model_revision = model.model_id, model.revision
    row.run_id = run_id
    row.source_path = source.path
    row.size_bytes = source.size_bytes
    row.width, row.height = page.width, page.height
    row.status, row.error = PAGE_INDEXED, None
    row.steps = [step.to_dict() for step in page.steps]
    row.indexed_at = utc_now()
    row.lines = [line_row(i, line) for i, line in enumerate(page.lines)]
    session.add(row)
    session.flush()
    clear_failures(session, collection_id, source.path, page.frame)
    write_search_index(
        session,
        [
            (stored.id, machine_forms(line))
            for stored, line in zip(row.lines, page.lines, strict=True)
        ],
        deleted=replaced_lines,
    )
    return outcome


def write_failure(
    session: Session,
    collection_id: int,
    run_id: int | None,
    source_path: str,
    error: BaseException,
    *,
    frame: int | None,
    source: SourceFile | None,
    model: ModelKey | None,
) -> None:
    """Writes the failure of a file or frame, replacing an earlier one of the same.

    Args are those of `Repository.record_failure`, `session` its write transaction. With
    `source`, `frame` and `model` given, the frame also gets a page row with status
    ``"failed"`` unless the page is already stored (a failed copy gets the new reason).
    """
    kind, reason = type(error).__name__, str(error) or type(error).__name__
    clear_failures(session, collection_id, source_path, frame)
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
    if source is None or frame is None or model is None:
        return
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


def _page_key_query(collection_id: int, sha256: str, frame: int, model: ModelKey) -> Any:
    """A query for the page row of a frame of a file content read by a model."""
    return select(PageRow).where(
        PageRow.collection_id == collection_id,
        PageRow.sha256 == sha256,
        PageRow.frame == frame,
        PageRow.model_id == model.model_id,
        PageRow.model_revision == model.revision,
    )


def other_reading(session: Session, collection_id: int, sha256: str, frame: int) -> PageRow | None:
    """The indexed machine reading of a frame by whichever model, locked; None when there is none.

    Imported transcriptions are not machine readings. Of two copies stored before legajo kept
    one reading per frame, the oldest is returned.
    """
    return session.scalars(
        select(PageRow)
        .where(
            PageRow.collection_id == collection_id,
            PageRow.sha256 == sha256,
            PageRow.frame == frame,
            PageRow.status == PAGE_INDEXED,
            ~and_(
                PageRow.model_id == IMPORT_MODEL.model_id,
                PageRow.model_revision == IMPORT_MODEL.revision,
            ),
        )
        .order_by(PageRow.id)
        .limit(1)
        .with_for_update()
    ).first()


def _has_corrections(session: Session, page_id: int) -> bool:
    found = session.scalar(
        select(CorrectionRow.id)
        .join(LineRow, LineRow.id == CorrectionRow.line_id)
        .where(LineRow.page_id == page_id)
        .limit(1)
    )
    return found is not None


def clear_failures(
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
