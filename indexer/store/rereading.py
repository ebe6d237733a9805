"""Reading a stored page again with another model, in place (`legajo reread`).

The page keeps its id and its lines theirs: only the readings change. Each line's new
reading is recorded in ``line_readings`` with the model that made it (the reading it had
before its first reread is recorded then too, with the model and time of its indexing), and
becomes the line's machine reading, alternatives and line confidence. A line nobody verified
also takes the new reading as its current text, words and search words; a verified line (one
with a correction or a confirmation) keeps its verified text, words and search words. The
page then carries the new model's key, so a rerun of the same reread skips it.

`write_reread` runs inside the write transaction `indexer.store.repository.Repository`
opens, so a page is reread entirely or not at all whatever happens to the process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from htr.document import Line, ProcessingStep
from indexer.store.orm import (
    PAGE_INDEXED,
    AlternativeRow,
    CorrectionRow,
    LineReadingRow,
    LineRow,
    PageRow,
    WordRow,
    utc_now,
)
from indexer.store.page_writes import clear_failures
from indexer.store.records import MachineReading, ModelKey, RereadOutcome
from indexer.store.row_mapping import word_values
from indexer.store.search_writer import lock_search_writers, machine_forms, write_search_index

RECOGNITION_STEP = "recognition"
"""`ProcessingStep.kind` of the step a reread replaces."""


def write_reread(
    session: Session,
    page_id: int,
    *,
    expected: ModelKey,
    model: ModelKey,
    step: ProcessingStep,
    run_id: int | None,
    lines: Mapping[int, Line],
) -> RereadOutcome:
    """Writes a page's new readings (`Repository.reread_page`).

    Args:
        session: The write transaction.
        page_id: The page.
        expected: The model whose reading the caller replaces; a page read by another
            model meanwhile is left alone (`RereadOutcome.UNCHANGED`).
        model: The model of the new readings.
        step: Its recognition step, which replaces the page's.
        run_id: The ``reread`` run.
        lines: Line id -> the new reading (text, confidence, words, alternatives); lines
            not in it keep their reading.

    Returns:
        What was done.

    Raises:
        LookupError: If there is no page with that id.
    """
    lock_search_writers(session)
    page = session.scalars(select(PageRow).where(PageRow.id == page_id).with_for_update()).first()
    if page is None:
        raise LookupError(f"no page with id {page_id}")
    if ModelKey(page.model_id, page.model_revision) != expected or page.status != PAGE_INDEXED:
        return RereadOutcome.UNCHANGED
    if not _make_room(session, page, model):
        return RereadOutcome.COLLIDES
    rows = list(
        session.scalars(
            select(LineRow).where(LineRow.page_id == page_id, LineRow.id.in_(list(lines)))
        )
    )
    ids = [row.id for row in rows]
    verified = set(
        session.scalars(select(CorrectionRow.line_id).where(CorrectionRow.line_id.in_(ids)))
    )
    recorded = set(
        session.scalars(select(LineReadingRow.line_id).where(LineReadingRow.line_id.in_(ids)))
    )
    now = utc_now()
    readings: list[dict[str, object]] = []
    for row in rows:
        if row.id not in recorded:
            readings.append(
                _reading(row.id, row.machine_text, row.confidence, expected, page.run_id)
                | {"created_at": page.indexed_at}
            )
        new = lines[row.id]
        readings.append(
            _reading(row.id, new.text, new.confidence, model, run_id) | {"created_at": now}
        )
        row.machine_text, row.confidence = new.text, new.confidence
        if row.id not in verified:
            row.text = new.text
    if readings:
        session.execute(insert(LineReadingRow), readings)
    _replace_children(session, rows, lines, verified)
    page.model_id, page.model_revision = model.model_id, model.revision
    page.run_id = run_id
    page.steps = [s.to_dict() for s in _with_step(page.steps, step)]
    page.indexed_at = now
    session.flush()
    clear_failures(session, page.collection_id, page.source_path, page.frame)
    write_search_index(
        session, [(row.id, machine_forms(lines[row.id])) for row in rows if row.id not in verified]
    )
    return RereadOutcome.REREAD


def read_readings(session: Session, line_id: int) -> list[MachineReading]:
    """The recorded machine readings of a line, oldest first (`Repository.readings`)."""
    rows = session.scalars(
        select(LineReadingRow)
        .where(LineReadingRow.line_id == line_id)
        .order_by(LineReadingRow.created_at, LineReadingRow.id)
    )
    return [
        MachineReading(
            text=row.text,
            confidence=row.confidence,
            model=ModelKey(row.model_id, row.model_revision),
            run_id=row.run_id,
            created_at=row.created_at,
        )
        for row in rows
    ]


def _make_room(session: Session, page: PageRow, model: ModelKey) -> bool:
    """Clears the page's new key: False when another indexed copy holds it.

    A failed try of the same frame by `model` (a row with status ``failed``) gives way.
    """
    holder = session.scalars(
        select(PageRow).where(
            PageRow.collection_id == page.collection_id,
            PageRow.sha256 == page.sha256,
            PageRow.frame == page.frame,
            PageRow.model_id == model.model_id,
            PageRow.model_revision == model.revision,
            PageRow.id != page.id,
        )
    ).first()
    if holder is None:
        return True
    if holder.status == PAGE_INDEXED:
        return False
    session.delete(holder)
    session.flush()
    return True


def _replace_children(
    session: Session, rows: Sequence[LineRow], lines: Mapping[int, Line], verified: set[int]
) -> None:
    """Writes the new alternatives of every line, and the new words of the unverified ones."""
    ids = [row.id for row in rows]
    session.execute(delete(AlternativeRow).where(AlternativeRow.line_id.in_(ids)))
    alternatives = [
        {"line_id": i, "rank": rank, "text": alt.text, "prob": alt.prob}
        for i in ids
        for rank, alt in enumerate(lines[i].alternatives)
    ]
    if alternatives:
        session.execute(insert(AlternativeRow), alternatives)
    unverified = [i for i in ids if i not in verified]
    session.execute(delete(WordRow).where(WordRow.line_id.in_(unverified)))
    words = [
        word_values(i, position, word)
        for i in unverified
        for position, word in enumerate(lines[i].words)
    ]
    if words:
        session.execute(insert(WordRow), words)
    for row in rows:
        session.expire(row, ["words", "alternatives"])


def _reading(
    line_id: int, text: str, confidence: float, model: ModelKey, run_id: int | None
) -> dict[str, object]:
    return {
        "line_id": line_id,
        "text": text,
        "confidence": confidence,
        "model_id": model.model_id,
        "model_revision": model.revision,
        "run_id": run_id,
    }


def _with_step(steps: Sequence[object], step: ProcessingStep) -> list[ProcessingStep]:
    """The page's processing steps with its recognition step replaced by `step`."""
    parsed = [ProcessingStep.from_dict(s) for s in steps or ()]  # type: ignore[arg-type]
    kept = [s for s in parsed if s.kind != RECOGNITION_STEP]
    return [*kept, step]
