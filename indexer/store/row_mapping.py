"""Conversions between ORM rows and domain objects, shared by the repository's readers.

Nothing here opens a session: callers pass rows they loaded (with their words and
alternatives when a whole `Line` is wanted).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from htr.document import Alternative, Line, Word
from indexer.store.orm import LineRow

IN_CHUNK = 500
"""Values per ``IN (...)`` list (SQLite limits the number of bound parameters)."""


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A stored line with its database identity.

    Attributes:
        id: Database id of the line.
        page_id: Database id of its page.
        version: Optimistic-locking version, to pass back to `Repository.correct_line`.
        machine_text: What the recognizer read (``line.text`` is the current text: the
            latest correction, or the machine reading when there is none).
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


def float_or_none(value: Any) -> float | None:
    """A database number as a float, None kept."""
    return None if value is None else float(value)
