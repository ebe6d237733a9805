"""Pieces of the search reader's SQL: line filters, walks over ``line_words``, LIKE prefixes.

Pure query building for `indexer.store.search_reader.SearchReader`: nothing here runs a
statement. User text only ever reaches SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.expression import ColumnElement

from indexer.store.orm import LineRow, LineWordRow, PageRow

SEEK_FORMS = 4
"""Up to this many forms, a count seeks a line's rows for them one form at a time."""
LIKE_ESCAPE = "\\"
"""The escape character of the LIKE patterns of `like_prefix`."""


def with_line_filters(
    query: Any,
    *,
    collection_id: int | None,
    min_confidence: float | None,
    skip_collections: Collection[int] = (),
    join_pages: bool = False,
) -> Any:
    """Adds the joins and conditions of the line filters to a query on `line_words`.

    Args:
        query: A select from ``line_words``.
        collection_id: Only lines of this collection.
        min_confidence: Only lines whose confidence is at least this (corrected lines
            always pass).
        skip_collections: Leave out the lines of these collections.
        join_pages: Join the lines' pages even without a collection filter (for a query
            that reads ``pages`` columns).
    """
    pages = join_pages or collection_id is not None or bool(skip_collections)
    if pages or min_confidence is not None:
        query = query.join(LineRow, LineRow.id == LineWordRow.line_id)
    if pages:
        query = query.join(PageRow, PageRow.id == LineRow.page_id)
    if collection_id is not None:
        query = query.where(PageRow.collection_id == collection_id)
    if skip_collections:
        query = query.where(PageRow.collection_id.not_in(sorted(skip_collections)))
    if min_confidence is not None:
        query = query.where(or_(LineRow.confidence >= min_confidence, LineRow.version > 1))
    return query


def walk_lines(groups: Sequence[Collection[int]], excluded: Collection[int], in_text: bool) -> Any:
    """The lines of the first group's rows that hold the other groups and no excluded form.

    The first group's rows are walked, the others looked up line by line.

    Args:
        groups: Form ids per group, the one to walk first.
        excluded: Form ids that rule a line out (`rules_out`).
        in_text: Whether a line holds a form only when its current text does (`holds`).
    """
    walk = select(LineWordRow.line_id).where(
        LineWordRow.form_id.in_(sorted(groups[0])), holds(LineWordRow, in_text)
    )
    checks = [(group, False) for group in groups[1:]]
    if excluded:
        checks.append((excluded, True))
    for forms, ruling_out in checks:
        other = aliased(LineWordRow)
        condition = rules_out(other, in_text) if ruling_out else holds(other, in_text)
        found = exists().where(
            other.line_id == LineWordRow.line_id,
            form_in(other.form_id, sorted(forms), indexed=len(forms) <= SEEK_FORMS),
            condition,
        )
        walk = walk.where(~found if ruling_out else found)
    return walk.distinct()


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching the strings that start with `prefix`, taken literally."""
    escaped = (
        prefix.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return escaped + "%"


def form_in(
    column: InstrumentedAttribute[int], forms: Sequence[int], *, indexed: bool
) -> ColumnElement[bool]:
    """``column IN forms``; unless `indexed`, written so that no index serves it.

    Rows reached by line id are better read whole (a line has a few dozen) and tested
    against the list than sought once per form or found through the form index: SQLite uses
    no index for ``column + 0``.
    """
    return column.in_(forms) if indexed else (column + 0).in_(forms)


def holds(row: Any, in_text: bool) -> ColumnElement[bool]:
    """Whether a `line_words` row says its line holds its form (`lines_with_all`)."""
    return row.text_confidence.is_not(None) if in_text else row.probability > 0


def rules_out(row: Any, in_text: bool) -> ColumnElement[bool]:
    """Whether a `line_words` row of an excluded form rules its line out."""
    return row.text_confidence.is_not(None) if in_text else row.probability >= 1.0
