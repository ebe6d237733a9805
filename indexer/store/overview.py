"""Aggregates over one collection, for the workbench's charts and the correcting palette.

Per-page mean word confidence, a histogram of word confidences, the review's progress by day,
failed files by kind and the characters its texts use. Each is one query (bound parameters
only) that works on SQLite and PostgreSQL alike: bins come from a ``CASE`` over fixed bounds,
days from ``date()``, not from dialect-specific functions.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select

from indexer.store.db import Database
from indexer.store.orm import (
    PAGE_INDEXED,
    CollectionRow,
    CorrectionRow,
    FileErrorRow,
    LineRow,
    PageRow,
    WordRow,
)

DEFAULT_BINS = 10
"""Bins of the confidence histogram: 0–0.1, 0.1–0.2, … 0.9–1."""


@dataclass(frozen=True, slots=True)
class PageConfidence:
    """The mean confidence of one indexed page's words.

    Attributes:
        page_id: The page.
        source_path: Its file.
        frame: Its frame in the file, from 0.
        words: How many words it has.
        mean_confidence: The mean of their confidences; None for a page without words.
    """

    page_id: int
    source_path: str
    frame: int
    words: int
    mean_confidence: float | None


@dataclass(frozen=True, slots=True)
class ConfidenceBin:
    """Words whose confidence lies in ``[lower, upper)`` (the last bin includes 1)."""

    lower: float
    upper: float
    words: int


@dataclass(frozen=True, slots=True)
class ReviewDay:
    """What editors did on one day (UTC).

    Attributes:
        day: The day.
        corrections: Corrections and confirmations saved that day.
        lines_verified: Lines corrected or confirmed for the first time that day.
    """

    day: dt.date
    corrections: int
    lines_verified: int


@dataclass(frozen=True, slots=True)
class FailureCount:
    """How many files (or frames) failed for one kind of reason."""

    kind: str
    files: int


class Overview:
    """Reads the aggregates of a collection.

    Args:
        database: An open database.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    def page_collection(self, page_id: int) -> str:
        """The name of the collection a page belongs to.

        Raises:
            LookupError: If there is no such page.
        """
        query = (
            select(CollectionRow.name)
            .join(PageRow, PageRow.collection_id == CollectionRow.id)
            .where(PageRow.id == page_id)
        )
        with self._db.read() as session:
            name = session.scalar(query)
        if name is None:
            raise LookupError(f"no page with id {page_id}")
        return name

    def page_confidences(self, collection: str) -> list[PageConfidence]:
        """Every indexed page of a collection with its mean word confidence, by path and frame."""
        query = (
            select(
                PageRow.id,
                PageRow.source_path,
                PageRow.frame,
                func.count(WordRow.id),
                func.avg(WordRow.confidence),
            )
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .outerjoin(LineRow, LineRow.page_id == PageRow.id)
            .outerjoin(WordRow, WordRow.line_id == LineRow.id)
            .where(CollectionRow.name == collection, PageRow.status == PAGE_INDEXED)
            .group_by(PageRow.id, PageRow.source_path, PageRow.frame)
            .order_by(PageRow.source_path, PageRow.frame, PageRow.id)
        )
        with self._db.read() as session:
            return [
                PageConfidence(
                    page_id=int(page_id),
                    source_path=path,
                    frame=int(frame),
                    words=int(words),
                    mean_confidence=None if mean is None else float(mean),
                )
                for page_id, path, frame, words, mean in session.execute(query)
            ]

    def confidence_histogram(
        self, collection: str, bins: int = DEFAULT_BINS
    ) -> list[ConfidenceBin]:
        """The collection's words counted by confidence, in `bins` equal bins over [0, 1].

        Every bin is listed, empty ones too. Confidences below 0 count in the first bin,
        confidences of 1 (corrected lines) and above in the last.

        Raises:
            ValueError: If `bins` is not positive.
        """
        if bins < 1:
            raise ValueError(f"a histogram needs at least one bin, not {bins}")
        bounds = [index / bins for index in range(1, bins)]
        number = case(
            *((WordRow.confidence < bound, index) for index, bound in enumerate(bounds)),
            else_=bins - 1,
        )
        # grouped in an outer query: PostgreSQL does not see the CASE in GROUP BY as the one in
        # the select list (their bound parameters differ)
        numbered = (
            select(number.label("bin"))
            .select_from(WordRow)
            .join(LineRow, LineRow.id == WordRow.line_id)
            .join(PageRow, PageRow.id == LineRow.page_id)
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .where(CollectionRow.name == collection)
            .subquery()
        )
        query = select(numbered.c.bin, func.count()).group_by(numbered.c.bin)
        with self._db.read() as session:
            counts = {int(index): int(words) for index, words in session.execute(query)}
        return [
            ConfidenceBin(index / bins, (index + 1) / bins, counts.get(index, 0))
            for index in range(bins)
        ]

    def review_days(self, collection: str) -> list[ReviewDay]:
        """The days on which lines of the collection were corrected or confirmed, oldest first."""
        day = func.date(CorrectionRow.created_at)
        saved = _in_collection(
            select(day, func.count(CorrectionRow.id)).select_from(CorrectionRow), collection
        ).group_by(day)
        first_saves = _in_collection(
            select(func.min(CorrectionRow.created_at).label("first")).select_from(CorrectionRow),
            collection,
        ).group_by(CorrectionRow.line_id)
        first = first_saves.subquery()
        first_day = func.date(first.c.first)
        verified = select(first_day, func.count()).select_from(first).group_by(first_day)
        with self._db.read() as session:
            corrections = {_day(d): int(n) for d, n in session.execute(saved)}
            lines = {_day(d): int(n) for d, n in session.execute(verified)}
        return [
            ReviewDay(day, corrections.get(day, 0), lines.get(day, 0))
            for day in sorted(corrections.keys() | lines.keys())
        ]

    def failure_counts(self, collection: str) -> list[FailureCount]:
        """The collection's failed files counted by kind of failure, most frequent first."""
        files = func.count(FileErrorRow.id)
        query = (
            select(FileErrorRow.kind, files)
            .join(CollectionRow, CollectionRow.id == FileErrorRow.collection_id)
            .where(CollectionRow.name == collection)
            .group_by(FileErrorRow.kind)
            .order_by(files.desc(), FileErrorRow.kind)
        )
        with self._db.read() as session:
            return [FailureCount(kind, int(count)) for kind, count in session.execute(query)]

    def characters(self, collection: str) -> Counter[str]:
        """How often each character occurs in the current texts of the collection's lines.

        A character is a base code point with the combining marks that follow it (texts are
        NFD, so ``q̃`` is ``q`` + U+0303); a combining mark with no base (at the start of a
        text or after a space) counts alone.
        """
        query = (
            select(LineRow.text)
            .join(PageRow, PageRow.id == LineRow.page_id)
            .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
            .where(CollectionRow.name == collection)
        )
        counts: Counter[str] = Counter()
        with self._db.read() as session:
            for text in session.scalars(query.execution_options(yield_per=2000)):
                counts.update(clusters(text))
        return counts


def clusters(text: str) -> list[str]:
    """Splits a text into characters: each base code point with its combining marks.

    Whitespace is left out. A combining mark after whitespace or at the start stands alone.
    """
    found: list[str] = []
    for character in text:
        if unicodedata.combining(character) and found and not found[-1].isspace():
            found[-1] += character
        else:
            found.append(character)
    return [cluster for cluster in found if not cluster.isspace()]


def _in_collection(query: Select[Any], collection: str) -> Select[Any]:
    return (
        query.join(LineRow, LineRow.id == CorrectionRow.line_id)
        .join(PageRow, PageRow.id == LineRow.page_id)
        .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
        .where(CollectionRow.name == collection)
    )


def _day(value: Any) -> dt.date:
    """A day as SQLite (text) or PostgreSQL (date) returns it."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
