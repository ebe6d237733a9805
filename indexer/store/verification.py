"""People verifying lines: new line versions, the review queue and the verified lines.

Each function works inside a transaction that `indexer.store.repository.Repository` opens.
Corrections never overwrite: a correction or a confirmation is a ``corrections`` row (old
text, new text, who, when) and raises the line's version by one; the line's current text is
the latest. A verified line's words become its text's words (`indexer.store.verified_words`)
and its word index the verified text's (`indexer.store.search_writer`), in the same
transaction.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from htr.document import ProcessingStep
from indexer.errors import LineNotFoundError, StaleLineError
from indexer.store.orm import PAGE_INDEXED, CollectionRow, CorrectionRow, LineRow, PageRow, WordRow
from indexer.store.records import ModelKey, ReviewItem, VerifiedLine
from indexer.store.row_mapping import StoredLine, geometry_line, stored_line, word_values, words_of
from indexer.store.search_writer import verified_forms, write_search_index
from indexer.store.verified_words import verified_words


def write_line_version(
    session: Session, line_id: int, new_text: str | None, editor: str, expected_version: int
) -> StoredLine:
    """Stores a correction (`new_text`) or a confirmation (None) of a line.

    Args are those of `Repository.correct_line`, `session` its write transaction.

    Returns:
        The line after the change, its version one higher.

    Raises:
        LineNotFoundError: If the line does not exist.
        StaleLineError: If the line's version is not `expected_version`.
    """
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
            [word_values(line_id, i, word) for i, word in enumerate(words)],
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
    write_search_index(session, [(line_id, verified_forms(text_now))])
    return stored_line(row)


def read_review_queue(
    session: Session,
    collection_id: int,
    *,
    limit: int,
    offset: int,
    exclude_reviewed: bool,
) -> list[ReviewItem]:
    """A collection's lines, the most doubtful first (`Repository.review_queue`)."""
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
        query.order_by(weakest, PageRow.source_path, PageRow.frame, PageRow.id, LineRow.position)
        .limit(limit)
        .offset(offset)
    )
    return [
        ReviewItem(int(page_id), int(line_id), float(low), str(path), int(frame))
        for page_id, line_id, low, path, frame in session.execute(query)
    ]


def read_verified_lines(
    session: Session, collection: str | None, *, import_model: ModelKey, import_step: str
) -> list[VerifiedLine]:
    """Every stored line whose text a person verified (`Repository.verified_lines`).

    The collection, when given, must exist: this does not check it.
    """
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
        select(LineRow, PageRow.source_path, PageRow.frame, PageRow.sha256, PageRow.steps, latest)
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
    for row, source_path, frame, sha256, steps, correction in session.execute(query):
        if row.page_id not in page_steps:
            page_steps[row.page_id] = tuple(ProcessingStep.from_dict(step) for step in steps or ())
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
