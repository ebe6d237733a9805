"""The write side of search: word index rows and the change feed, in the writer's transaction.

Whenever the repository stores, corrects, confirms or deletes lines, it calls
`write_search_index` in the same transaction: the lines' word probabilities
(`indexer.store.word_index`) replace their ``line_words`` rows, and one ``search_changes``
row per line is appended to the change feed that keeps the FAISS indexes fresh. On
PostgreSQL the writer takes a transaction-level advisory lock first, so that change and
word-form ids become visible in the order they were allocated and a reader that remembers
the highest id it has seen misses nothing. The read side is `indexer.store.search_reader`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from htr.document import Line
from indexer.store.orm import (
    CHANGE_DELETE,
    CHANGE_UPSERT,
    LineWordRow,
    SearchChangeRow,
    WordFormRow,
    utc_now,
)
from indexer.store.row_mapping import chunks
from indexer.store.word_index import FormStats, line_forms, variant_key

SEARCH_WRITE_LOCK_KEY = 0x6C65_6773  # "legs"
"""PostgreSQL advisory lock key that serialises search writers until they commit."""


def machine_forms(line: Line) -> dict[str, FormStats]:
    """The word index of a line as the recognizer read it (not verified)."""
    return line_forms(line.text, line.alternatives, line.words, line.confidence, verified=False)


def verified_forms(text: str) -> dict[str, FormStats]:
    """The word index of a line whose text a person verified: its one reading, certain."""
    return line_forms(text, (), (), 1.0, verified=True)


def write_search_index(
    session: Session,
    lines: Sequence[tuple[int, Mapping[str, FormStats]]],
    *,
    deleted: Sequence[int] = (),
) -> None:
    """Replaces the word index of lines and appends their changes to the change feed.

    Args:
        session: The write transaction of the change.
        lines: (line id, its word index) of every line stored, corrected or confirmed.
        deleted: Ids of the lines deleted.
    """
    if not lines and not deleted:
        return
    lock_search_writers(session)
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


def lock_search_writers(session: Session) -> None:
    """Serialises search writers on PostgreSQL until commit (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEARCH_WRITE_LOCK_KEY})


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
