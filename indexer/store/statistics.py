"""Counts over the stored archive, read inside a transaction the repository opens.

`indexer.store.repository.Repository.stats`, `table_counts` and `search_counts` answer with
these: per-collection counts for ``legajo stats``, and rows per table for checks and
benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indexer.store.orm import (
    PAGE_INDEXED,
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
)
from indexer.store.records import CollectionStats

ARCHIVE_TABLES: Sequence[type[Any]] = (
    CollectionRow,
    ProcessingRunRow,
    PageRow,
    LineRow,
    WordRow,
    AlternativeRow,
    CorrectionRow,
    FileErrorRow,
)
"""The tables of the archive itself, as `Repository.table_counts` reports them."""
SEARCH_TABLES: Sequence[type[Any]] = (WordFormRow, LineWordRow, SearchChangeRow)
"""The tables search derives from the lines, as `Repository.search_counts` reports them."""


def collection_stats(session: Session, names: Sequence[str]) -> list[CollectionStats]:
    """Counts of the named collections, in the order given (every name must exist)."""
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
    id_query = select(CollectionRow.name, CollectionRow.id).where(CollectionRow.name.in_(names))
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


def row_counts(session: Session, tables: Sequence[type[Any]]) -> dict[str, int]:
    """Rows per table, by table name."""
    return {
        row.__tablename__: int(session.scalar(select(func.count()).select_from(row)) or 0)
        for row in tables
    }


def _grouped(session: Session, query: Any) -> dict[int, int]:
    return {int(key): int(count) for key, count in session.execute(query)}
