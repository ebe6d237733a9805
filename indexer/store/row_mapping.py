"""Conversions between ORM rows and domain objects, shared by the repository's readers and writers.

Nothing here opens a session: readers pass rows they loaded (with their words and
alternatives when a whole `Line` is wanted); writers get new rows (or row values) to add.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from indexer.store.orm import (
    AlternativeRow,
    CorrectionRow,
    FileErrorRow,
    LineRow,
    PageRow,
    ProcessingRunRow,
    WordRow,
)
from indexer.store.records import Correction, FileFailure, ModelKey, PageSummary, RunRecord

IN_CHUNK = 500
"""Values per ``IN (...)`` list (SQLite limits the number of bound parameters)."""


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A stored line with its database identity.

    Attributes:
        id: Database id of the line.
        page_id: Database id of its page.
        version: Optimistic-locking version, to pass back to `Repository.correct_line`.
        machine_text: What the latest model to read the line read (`legajo reread` keeps
            the earlier readings: `Repository.readings`); ``line.text`` is the current text:
            the latest correction, or the machine reading when there is none.
        line: The line.
    """

    id: int
    page_id: int
    version: int
    machine_text: str
    line: Line


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """`values` in slices of at most `size`, for ``IN (...)`` lists."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def points(values: Iterable[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """A stored JSON point list as (x, y) integer pairs."""
    return tuple((int(p[0]), int(p[1])) for p in values)


def line_of(row: LineRow) -> Line:
    """A line row, with its loaded words and alternatives, as a `Line`."""
    return Line(
        id=row.line_key,
        bbox=(row.x0, row.y0, row.x1, row.y1),
        polygon=points(row.polygon),
        baseline=points(row.baseline),
        text=row.text,
        confidence=row.confidence,
        words=words_of(row),
        alternatives=tuple(Alternative(a.text, a.prob) for a in row.alternatives),
        zone=row.zone,
    )


def geometry_line(row: LineRow, text: str) -> Line:
    """A line's geometry and zone with `text`, without its words and readings."""
    return Line(
        id=row.line_key,
        bbox=(row.x0, row.y0, row.x1, row.y1),
        polygon=points(row.polygon),
        baseline=points(row.baseline),
        text=text,
        zone=row.zone,
    )


def words_of(row: LineRow) -> tuple[Word, ...]:
    """A line row's loaded words, in reading order."""
    return tuple(Word(w.text, w.confidence, (w.x0, w.y0, w.x1, w.y1)) for w in row.words)


def stored_line(row: LineRow) -> StoredLine:
    """A line row, with its loaded words and alternatives, as a `StoredLine`."""
    return StoredLine(
        id=row.id,
        page_id=row.page_id,
        version=row.version,
        machine_text=row.machine_text,
        line=line_of(row),
    )


def page_of(row: PageRow) -> Page:
    """A page row, with its loaded lines and their words and alternatives, as a `Page`."""
    return Page(
        image=row.source_path,
        frame=row.frame,
        width=row.width,
        height=row.height,
        lines=tuple(line_of(line) for line in row.lines),
        steps=tuple(ProcessingStep.from_dict(step) for step in row.steps),
    )


def page_summary(row: PageRow, collection: str, line_count: int) -> PageSummary:
    """A page row as a `PageSummary`, given its collection's name and its number of lines."""
    return PageSummary(
        id=row.id,
        collection=collection,
        source_path=row.source_path,
        frame=row.frame,
        sha256=row.sha256,
        status=row.status,
        error=row.error,
        model=ModelKey(row.model_id, row.model_revision),
        line_count=line_count,
        steps=tuple(ProcessingStep.from_dict(step) for step in row.steps or ()),
        width=row.width,
        height=row.height,
    )


def correction_record(row: CorrectionRow) -> Correction:
    """A correction row as a `Correction`."""
    return Correction(
        id=row.id,
        line_id=row.line_id,
        old_text=row.old_text,
        new_text=row.new_text,
        editor=row.editor,
        version=row.version,
        created_at=row.created_at,
    )


def file_failure(row: FileErrorRow, collection: str) -> FileFailure:
    """A file error row as a `FileFailure`, given its collection's name."""
    return FileFailure(
        collection=collection,
        source_path=row.source_path,
        frame=row.frame,
        kind=row.kind,
        reason=row.reason,
        run_id=row.run_id,
        created_at=row.created_at,
    )


def run_record(row: ProcessingRunRow, collection: str) -> RunRecord:
    """A processing run row as a `RunRecord`, given its collection's name."""
    return RunRecord(
        id=row.id,
        collection=collection,
        kind=row.kind,
        model=ModelKey(row.model_id, row.model_revision),
        software=row.software,
        settings=dict(row.settings),
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        host=row.host,
        pid=row.pid,
        heartbeat_at=row.heartbeat_at,
    )


def float_or_none(value: Any) -> float | None:
    """A database number as a float, None kept."""
    return None if value is None else float(value)


def line_row(position: int, line: Line) -> LineRow:
    """A new line row for `line` at `position` in its page, with its words and alternatives.

    Its current text is the machine reading, at version 1.
    """
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
        words=[word_row(i, word) for i, word in enumerate(line.words)],
        alternatives=[
            AlternativeRow(rank=rank, text=alt.text, prob=alt.prob)
            for rank, alt in enumerate(line.alternatives)
        ],
    )


def word_row(position: int, word: Word) -> WordRow:
    """A new word row for `word` at `position` in its line."""
    x0, y0, x1, y1 = word.bbox
    return WordRow(
        position=position, text=word.text, confidence=word.confidence, x0=x0, y0=y0, x1=x1, y1=y1
    )


def word_values(line_id: int, position: int, word: Word) -> dict[str, Any]:
    """The column values of a ``words`` row, for a bulk insert."""
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
