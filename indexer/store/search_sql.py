"""Pieces of the search reader's SQL: line filters, walks over ``line_words``, LIKE prefixes.

Pure query building for `indexer.store.search_reader.SearchReader`: nothing here runs a
statement. User text only ever reaches SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Float,
    Integer,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.expression import ColumnElement

from indexer.store.orm import LineRow, LineWordRow, PageRow
from indexer.store.search_records import BestLinesRequest

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

    The first group's rows are walked, the others looked up line by line. A line has one
    row per form, so a first group of one form needs no DISTINCT, which lets a LIMIT stop
    the walk early (PostgreSQL hashes every row before a DISTINCT's first line).

    Args:
        groups: Form ids per group, the one to walk first.
        excluded: Form ids that rule a line out (`rules_out`).
        in_text: Whether a line holds a form only when its current text does (`holds`).
    """
    walk = walk_form_lines(
        LineWordRow.form_id.in_(sorted(groups[0])), groups[1:], excluded, in_text
    )
    return walk.distinct() if len(groups[0]) > 1 else walk


def walk_form_lines(
    first: ColumnElement[bool],
    others: Sequence[Collection[int]],
    excluded: Collection[int],
    in_text: bool,
) -> Any:
    """As `walk_lines`, the first group's rows those meeting `first`, without DISTINCT."""
    walk = (
        select(LineWordRow.line_id)
        .select_from(LineWordRow)
        .where(first, holds(LineWordRow, in_text))
    )
    checks = [(group, False) for group in others]
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
    return walk


def form_list(form_ids: Sequence[int]) -> Any:
    """A PostgreSQL table of form ids, one row each (column ``form_id``), from one array."""
    return (
        func.unnest(literal(list(form_ids), ARRAY(Integer)))
        .table_valued("form_id")
        .render_derived(name="forms")
    )


def some_form_reaches(forms: Any, rows_of_form: Any, cap: int) -> Any:
    """Whether one of the forms has `cap` rows (PostgreSQL), trying them in the array's order.

    A count of distinct lines over several forms reaches `cap` when one form alone does.
    The forms are tried one at a time and the first to get there ends the search, so a
    frequent word costs `cap` rows of its commonest form, not a hash of all its forms' rows.

    Args:
        forms: `form_list` of the forms (smaller ids first: forms met early in a collection
            are mostly the frequent ones).
        rows_of_form: A select of the rows to count, correlated to ``forms.c.form_id``.
        cap: The count wanted.
    """
    limited = rows_of_form.limit(cap).correlate(forms).subquery()
    counted = select(func.count().label("rows")).select_from(limited).lateral()
    return exists(
        select(literal_column("1"))
        .select_from(forms)
        .join(counted, true())
        .where(counted.c.rows >= cap)
    )


def lateral_best_lines(
    requests: Sequence[tuple[int, BestLinesRequest]],
    value: Any,
    *,
    collection_id: int | None,
    min_confidence: float | None,
    in_text: bool,
) -> list[Any]:
    """PostgreSQL reads of `SearchReader.best_lines_of`: requests joined LATERAL to their rows.

    The requests come in as arrays (a table of them, ``unnest``); each request's rows are
    one limited walk of the ranked index, planned once however many requests. Rows are
    (request index, part, line id, probability, text confidence); part 0, after a previous
    batch, holds the rest of its last value's lines, part 1 the lines of lower values (an
    OR of both would not let the database seek). One select per set of collections left
    out, to be joined by UNION ALL.

    Args:
        requests: (index, request) pairs; requests with a limit below 1 are left out.
        value: The column the lines are ranked by.
        collection_id: As in `with_line_filters`.
        min_confidence: As in `with_line_filters`.
        in_text: Only rows whose form is in the current text.
    """
    by_skip: dict[tuple[int, ...], list[tuple[int, BestLinesRequest]]] = {}
    for index, request in requests:
        if request.limit >= 1:
            by_skip.setdefault(request.skip_collections, []).append((index, request))
    members = []
    for skip, chosen in by_skip.items():
        table = (
            func.unnest(
                literal([index for index, _ in chosen], ARRAY(Integer)),
                literal([r.form_id for _, r in chosen], ARRAY(Integer)),
                literal([r.limit for _, r in chosen], ARRAY(Integer)),
                literal([r.after[0] if r.after else None for _, r in chosen], ARRAY(Float)),
                literal([r.after[1] if r.after else None for _, r in chosen], ARRAY(Integer)),
            )
            .table_valued("request", "form_id", "lines", "after_value", "after_line")
            .render_derived(name="requests")
        )
        rows = with_line_filters(
            select(LineWordRow.line_id, LineWordRow.probability, LineWordRow.text_confidence)
            .select_from(LineWordRow)
            .where(LineWordRow.form_id == table.c.form_id),
            collection_id=collection_id,
            min_confidence=min_confidence,
            skip_collections=skip,
        )
        if in_text:
            rows = rows.where(LineWordRow.text_confidence.is_not(None))
        parts = [
            (
                1,
                rows.where(value < func.coalesce(table.c.after_value, float("inf"))).order_by(
                    value.desc(), LineWordRow.line_id
                ),
            )
        ]
        if any(r.after is not None for _, r in chosen):
            # No rows where there is no last value: ``value = NULL`` holds nowhere.
            same_value = rows.where(
                value == table.c.after_value, LineWordRow.line_id > table.c.after_line
            ).order_by(LineWordRow.line_id)
            parts.insert(0, (0, same_value))
        for part, query in parts:
            read = query.limit(table.c.lines).lateral()
            members.append(
                select(
                    table.c.request,
                    literal_column(str(part)).label("part"),
                    read.c.line_id,
                    read.c.probability,
                    read.c.text_confidence,
                )
                .select_from(table)
                .join(read, true())
            )
    return members


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
