"""What the search indexes read to build and refresh themselves: forms, line texts, changes.

The lexical and semantic indexes are caches derived from the database. They are built from
every word form and every line's current text, streamed here in batches of
`STREAM_BATCH` rows, one short read transaction per batch so that a long build never holds
a transaction open, and kept fresh by reading the change feed
(`indexer.store.search_writer`) after the last change they saw.
`indexer.store.repository.Repository` answers with these.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from indexer.store.db import Database
from indexer.store.orm import CHANGE_UPSERT, LineRow, SearchChangeRow, WordFormRow
from indexer.store.row_mapping import chunks

STREAM_BATCH = 5000
"""Rows per read transaction when streaming forms or line texts."""


def stream_word_forms(database: Database, after_id: int) -> Iterator[tuple[int, str]]:
    """Every word form with an id above `after_id`, by id: (id, form) (`Repository.word_forms`)."""
    while True:
        with database.read() as session:
            batch = session.execute(
                select(WordFormRow.id, WordFormRow.form)
                .where(WordFormRow.id > after_id)
                .order_by(WordFormRow.id)
                .limit(STREAM_BATCH)
            ).all()
        yield from ((int(i), str(form)) for i, form in batch)
        if len(batch) < STREAM_BATCH:
            return
        after_id = batch[-1][0]


def stream_line_texts(database: Database, after_change: int) -> Iterator[tuple[int, int, int, str]]:
    """Current texts of lines, by page and position (`Repository.line_texts`)."""
    if after_change > 0:
        with database.read() as session:
            changes = read_changes(session, after_change)
        changed = [line_id for _, line_id, kind in changes if kind == CHANGE_UPSERT]
        found: list[tuple[int, int, int, str]] = []
        with database.read() as session:
            for chunk in chunks(sorted(set(changed))):
                found.extend(
                    (int(i), int(p), int(pos), str(t))
                    for i, p, pos, t in session.execute(
                        select(LineRow.id, LineRow.page_id, LineRow.position, LineRow.text).where(
                            LineRow.id.in_(chunk)
                        )
                    )
                )
        yield from sorted(found, key=lambda row: (row[1], row[2]))
        return
    page_id, position = 0, -1
    while True:
        with database.read() as session:
            batch = session.execute(
                select(LineRow.id, LineRow.page_id, LineRow.position, LineRow.text)
                .where(
                    or_(
                        LineRow.page_id > page_id,
                        (LineRow.page_id == page_id) & (LineRow.position > position),
                    )
                )
                .order_by(LineRow.page_id, LineRow.position)
                .limit(STREAM_BATCH)
            ).all()
        yield from ((int(i), int(p), int(pos), str(t)) for i, p, pos, t in batch)
        if len(batch) < STREAM_BATCH:
            return
        page_id, position = batch[-1][1], batch[-1][2]


def read_changes(session: Session, change_id: int) -> list[tuple[int, int, str]]:
    """The change feed after `change_id`, oldest first: (change id, line id, kind)."""
    return [
        (int(i), int(line_id), str(kind))
        for i, line_id, kind in session.execute(
            select(SearchChangeRow.id, SearchChangeRow.line_id, SearchChangeRow.kind)
            .where(SearchChangeRow.id > change_id)
            .order_by(SearchChangeRow.id)
        )
    ]
