"""The read side of search: one read transaction, every statement bounded by a deadline.

`Repository.search_reader` opens a `SearchReader`; `indexer.search.service` asks it for word forms,
the lines that may hold them and the lines to show. Every statement checks the deadline
first and is interrupted when it runs past it: SQLite calls a progress handler every few
thousand virtual-machine steps, PostgreSQL gets the time left as its ``statement_timeout``.
User text only ever reaches SQL as bound parameters. The reader returns the records of
`indexer.store.search_records` and assembles its queries from `indexer.store.search_sql`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    case,
    column,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
    values,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.expression import ColumnElement

from htr.document import Alternative
from indexer.errors import SearchTimeoutError, UnknownCollectionError
from indexer.store.orm import (
    AlternativeRow,
    CollectionRow,
    LineRow,
    LineWordRow,
    PageRow,
    WordFormRow,
)
from indexer.store.row_mapping import chunks, float_or_none, stored_line
from indexer.store.search_records import (
    BestLinesRequest,
    LineFacts,
    LineWordMatch,
    LocatedLine,
)
from indexer.store.search_sql import (
    LIKE_ESCAPE,
    form_in,
    form_list,
    holds,
    lateral_best_lines,
    like_prefix,
    some_form_reaches,
    walk_form_lines,
    walk_lines,
    with_line_filters,
)

__all__ = ["BestLinesRequest", "LineFacts", "LineWordMatch", "LocatedLine", "SearchReader"]

_PROGRESS_STEPS = 1000
"""SQLite virtual-machine steps between two deadline checks."""
_INTERSECT_ROWS = 100_000
"""Up to this many rows per group, `lines_with_all` intersects the groups' line sets."""
_WALK_ROWS = 20_000
"""Up to this many rows in its smallest group, `lines_with_all` walks that group's rows."""
_REQUESTS_PER_STATEMENT = 200
"""Forms whose best lines `best_lines_of` reads in one PostgreSQL statement."""


class SearchReader:
    """The read side of one search, inside one read transaction (`Repository.search_reader`).

    Every statement checks the deadline first and is interrupted when it runs past it:
    SQLite calls a progress handler every few thousand virtual-machine steps, PostgreSQL gets
    the time left as its ``statement_timeout``. Either way `SearchTimeoutError` is raised.
    """

    def __init__(self, session: Session, deadline: float) -> None:
        self._session = session
        self._deadline = deadline
        self._dialect = session.get_bind().dialect.name
        self._without_variants: set[int] | None = None
        self._row_counts: dict[tuple[tuple[int, ...], bool], int] = {}

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """Installs (and afterwards removes) SQLite's deadline check on the connection."""
        if self._dialect != "sqlite":
            yield
            return
        raw = self._session.connection().connection.dbapi_connection
        if raw is None:  # pragma: no cover - a checked-out connection always has one
            yield
            return
        raw.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def check(self) -> None:
        """Raises `SearchTimeoutError` when the deadline has passed."""
        if time.monotonic() > self._deadline:
            raise SearchTimeoutError("the search ran past its time limit")

    def _rows(self, query: Any) -> Sequence[Any]:
        self.check()
        if self._dialect == "postgresql":
            left_ms = max(1, int((self._deadline - time.monotonic()) * 1000))
            self._session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(left_ms)}
            )
        try:
            return self._session.execute(query).all()
        except OperationalError as error:
            if time.monotonic() > self._deadline or "interrupt" in str(error).lower():
                raise SearchTimeoutError("the search ran past its time limit") from error
            raise

    def collection_id(self, name: str) -> int:
        """The id of a collection.

        Raises:
            UnknownCollectionError: If there is no collection of that name.
        """
        rows = self._rows(select(CollectionRow.id).where(CollectionRow.name == name))
        if not rows:
            raise UnknownCollectionError(f"no collection named {name!r}")
        return int(rows[0][0])

    def form_ids(self, forms: Collection[str]) -> dict[str, int]:
        """The ids of those of `forms` that occur in some reading."""
        found: dict[str, int] = {}
        for chunk in chunks(sorted(forms)):
            query = select(WordFormRow.form, WordFormRow.id).where(WordFormRow.form.in_(chunk))
            found.update({str(form): int(i) for form, i in self._rows(query)})
        return found

    def variant_forms(self, keys: Collection[str]) -> list[tuple[int, str, str]]:
        """The forms whose variant key is one of `keys`: (id, form, variant key)."""
        found: list[tuple[int, str, str]] = []
        for chunk in chunks(sorted(keys)):
            query = select(WordFormRow.id, WordFormRow.form, WordFormRow.variant_key).where(
                WordFormRow.variant_key.in_(chunk)
            )
            found.extend((int(i), str(f), str(k)) for i, f, k in self._rows(query))
        return found

    def prefix_forms(
        self, prefix: str, *, variant_prefix: str | None = None, limit: int = 1000
    ) -> list[tuple[int, str]]:
        """The forms starting with `prefix` (or whose variant key starts with `variant_prefix`).

        ``%``, ``_`` and the escape character in the prefixes match only themselves.
        """
        condition: ColumnElement[bool] = WordFormRow.form.like(
            like_prefix(prefix), escape=LIKE_ESCAPE
        )
        if variant_prefix is not None:
            condition = or_(
                condition,
                WordFormRow.variant_key.like(like_prefix(variant_prefix), escape=LIKE_ESCAPE),
            )
        query = (
            select(WordFormRow.id, WordFormRow.form)
            .where(condition)
            .order_by(WordFormRow.form)
            .limit(limit)
        )
        return [(int(i), str(f)) for i, f in self._rows(query)]

    def completions(
        self, prefix: str, *, collection_id: int | None = None, limit: int = 10
    ) -> list[tuple[str, int]]:
        """The forms starting with `prefix` in the lines' current texts, most frequent first.

        For autocompletion: only forms that some line's current text holds (not those of
        other n-best readings only) count, by the number of such lines.

        Args:
            prefix: A normalised prefix (`indexer.spelling.normalize.word_keys`); ``%``,
                ``_`` and the escape character match only themselves.
            collection_id: Only lines of this collection.
            limit: Most forms returned.

        Returns:
            (form, number of lines), by that number (highest first), then by form.
        """
        lines = func.count(LineWordRow.line_id).label("lines")
        query = with_line_filters(
            select(WordFormRow.form, lines)
            .select_from(LineWordRow)
            .join(WordFormRow, WordFormRow.id == LineWordRow.form_id)
            .where(
                WordFormRow.form.like(like_prefix(prefix), escape=LIKE_ESCAPE),
                LineWordRow.text_confidence.is_not(None),
            ),
            collection_id=collection_id,
            min_confidence=None,
        )
        query = query.group_by(WordFormRow.form).order_by(lines.desc(), WordFormRow.form)
        return [(str(form), int(count)) for form, count in self._rows(query.limit(limit))]

    def matches(
        self,
        form_ids: Collection[int],
        *,
        collection_id: int | None = None,
        min_confidence: float | None = None,
        in_text: bool = False,
        line_ids: Collection[int] | None = None,
    ) -> list[LineWordMatch]:
        """The lines that may hold any of `form_ids`, one match per (line, form).

        Args:
            form_ids: Word forms.
            collection_id: Only lines of this collection.
            min_confidence: Only lines whose confidence is at least this (corrected lines
                always pass).
            in_text: Only where the form is in the line's current text.
            line_ids: Only these lines (read through the primary key: fast for few lines).
        """
        off = self._collections_without_variants()
        found: list[LineWordMatch] = []
        line_chunks: list[Sequence[int] | None] = (
            [None] if line_ids is None else list(chunks(sorted(line_ids)))
        )
        for chunk, lines in ((f, i) for f in chunks(sorted(form_ids)) for i in line_chunks):
            # With lines given, their rows are read by primary key and the forms tested:
            # the form index would walk every line of a frequent form.
            form_test = form_in(LineWordRow.form_id, chunk, indexed=lines is None)
            query = with_line_filters(
                select(
                    LineWordRow.line_id,
                    LineWordRow.form_id,
                    LineWordRow.probability,
                    LineWordRow.text_confidence,
                    PageRow.collection_id if off else literal(None),
                ).where(form_test),
                collection_id=collection_id,
                min_confidence=min_confidence,
                join_pages=bool(off),
            )
            if in_text:
                query = query.where(LineWordRow.text_confidence.is_not(None))
            if lines is not None:
                query = query.where(LineWordRow.line_id.in_(lines))
            found.extend(
                LineWordMatch(
                    line_id=int(line_id),
                    form_id=int(form_id),
                    probability=float(prob),
                    text_confidence=float_or_none(conf),
                    variants=cid not in off,
                )
                for line_id, form_id, prob, conf, cid in self._rows(query)
            )
        return found

    def _collections_without_variants(self) -> set[int]:
        # Read once per search: it is asked for every look-up of a multi-word search.
        if self._without_variants is None:
            rows = self._rows(select(CollectionRow.id).where(CollectionRow.variants.is_(False)))
            self._without_variants = {int(row[0]) for row in rows}
        return self._without_variants

    def collections_without_variants(self) -> set[int]:
        """The ids of the collections whose searches do not fold spelling variants."""
        return self._collections_without_variants()

    def phrase_bounds(
        self,
        positions: Sequence[Mapping[int, float]],
        *,
        in_text: bool = False,
        floor: float = 0.0,
        collection_id: int | None = None,
        min_confidence: float | None = None,
    ) -> list[tuple[int, float]]:
        """Lines holding a form of every position, each with a bound of its phrase score.

        With `in_text` (exact mode) the bound is the product over the positions of the
        best ``w(f) * max(text confidence, floor)`` of the position's forms: the phrase's
        score when the text holds it. Otherwise it is the smallest over the positions of
        ``min(1, sum of w(f) * P(f, l))``: the readings that hold the phrase hold one of
        each position's forms. The per-position values come from the database in one pass
        over the forms' rows.

        Args:
            positions: Per position of the phrase, its forms' weights by form id.
            in_text: As in `matches`.
            floor: Lowest value of a form in the text (`in_text` only).
            collection_id: As in `matches`.
            min_confidence: As in `matches`.

        Returns:
            (line id, bound), highest bound first, then by line id.
        """
        rows = [
            (position, form_id, weight)
            for position, forms in enumerate(positions)
            for form_id, weight in forms.items()
        ]
        if not rows or any(not forms for forms in positions):
            return []
        # A CTE: SQLite takes no column list after the alias of a FROM (VALUES ...).
        accepted = (
            values(
                column("position", Integer),
                column("form_id", Integer),
                column("weight", Float),
                name="accepted",
            )
            .data(rows)
            .cte("accepted")
        )
        value: ColumnElement[float]
        if in_text:
            confidence = LineWordRow.text_confidence
            value = func.max(
                accepted.c.weight * case((confidence < floor, floor), else_=confidence)
            )
        else:
            total = func.sum(accepted.c.weight * LineWordRow.probability)
            value = case((total > 1.0, 1.0), else_=total)
        per_position = with_line_filters(
            select(
                LineWordRow.line_id.label("line_id"),
                accepted.c.position.label("position"),
                value.label("value"),
            )
            .select_from(accepted)
            .join(LineWordRow, LineWordRow.form_id == accepted.c.form_id)
            .where(holds(LineWordRow, in_text))
            .group_by(LineWordRow.line_id, accepted.c.position),
            collection_id=collection_id,
            min_confidence=min_confidence,
        ).cte("per_position")
        # Only the lines holding every position leave the database.
        complete = (
            select(per_position.c.line_id)
            .group_by(per_position.c.line_id)
            .having(func.count() == len(positions))
        )
        query = select(per_position.c.line_id, per_position.c.position, per_position.c.value).where(
            per_position.c.line_id.in_(complete)
        )
        per_line: dict[int, list[float]] = {}
        for line_id, position, v in self._rows(query):
            per_line.setdefault(int(line_id), [0.0] * len(positions))[int(position)] = float(v)
        bounds = []
        for line_id, found in per_line.items():
            if all(found):
                bounds.append((line_id, math.prod(found) if in_text else min(found)))
        bounds.sort(key=lambda item: (-item[1], item[0]))
        return bounds

    def best_lines_of(
        self,
        requests: Sequence[BestLinesRequest],
        *,
        collection_id: int | None = None,
        min_confidence: float | None = None,
        in_text: bool = False,
    ) -> list[list[LineWordMatch]]:
        """The lines most likely to hold each of several forms, most likely first.

        A form's lines are ordered by probability, or with `in_text` by text confidence (only
        lines whose current text holds the form), then by line id; each form's read walks a
        ranked index (migration 0003), so it is fast for any form and any position in its
        lines.

        A fuzzy word accepts dozens of forms. On PostgreSQL, where each statement is a round
        trip (two, with the statement timeout), the forms are read `_REQUESTS_PER_STATEMENT`
        to a statement: the requests as arrays, joined LATERAL to their reads
        (`indexer.store.search_sql.lateral_best_lines`), planned once however many forms.
        SQLite runs in process: one statement per form costs no round trip and compiles
        once, where a UNION ALL of 50 reads took SQLAlchemy longer to build than SQLite to
        run.

        Args:
            requests: The forms, each with its limit, collections to leave out and where
                the previous batch of its lines ended.
            collection_id: Only lines of this collection.
            min_confidence: As in `matches`.
            in_text: As in `matches`.

        Returns:
            Per request, in order, its lines (at most its limit), most likely first.
        """
        if self._dialect != "postgresql":
            return [
                self._form_best_lines(request, collection_id, min_confidence, in_text)
                for request in requests
            ]
        value = LineWordRow.text_confidence if in_text else LineWordRow.probability
        found: list[list[LineWordMatch]] = [[] for _ in requests]
        for start in range(0, len(requests), _REQUESTS_PER_STATEMENT):
            batch = range(start, min(start + _REQUESTS_PER_STATEMENT, len(requests)))
            members = lateral_best_lines(
                [(index, requests[index]) for index in batch],
                value,
                collection_id=collection_id,
                min_confidence=min_confidence,
                in_text=in_text,
            )
            if not members:
                continue
            rows = self._rows(members[0] if len(members) == 1 else union_all(*members))
            by_part: dict[tuple[int, int], list[Any]] = {}
            for row in rows:
                by_part.setdefault((int(row[0]), int(row[1])), []).append(row)
            for index in batch:
                # Each part comes back in no set order: sorted here as the SQL sorted it
                # (line ids are unique within a form, so the order is total).
                same_value = sorted(by_part.get((index, 0), ()), key=_line_of_row)
                lower = sorted(by_part.get((index, 1), ()), key=_ranked_row(in_text))
                request = requests[index]
                found[index] = [
                    LineWordMatch(
                        int(line_id), request.form_id, float(prob), float_or_none(conf), True
                    )
                    for _, _, line_id, prob, conf in (same_value + lower)[: request.limit]
                ]
        return found

    def _form_best_lines(
        self,
        request: BestLinesRequest,
        collection_id: int | None,
        min_confidence: float | None,
        in_text: bool,
    ) -> list[LineWordMatch]:
        """One request of `best_lines_of`, in its own statements (SQLite)."""
        if request.limit < 1:
            return []
        value = LineWordRow.text_confidence if in_text else LineWordRow.probability
        query = with_line_filters(
            select(
                LineWordRow.line_id,
                LineWordRow.probability,
                LineWordRow.text_confidence,
            ).where(LineWordRow.form_id == request.form_id),
            collection_id=collection_id,
            min_confidence=min_confidence,
            skip_collections=request.skip_collections,
        )
        if in_text:
            query = query.where(LineWordRow.text_confidence.is_not(None))
        found: list[Any] = []
        if request.after is not None:
            # Two range reads of the index: the rest of the last value's lines, then lower
            # values (an OR of both would not let the database seek).
            last_value, last_line = request.after
            found.extend(
                self._rows(
                    query.where(value == last_value, LineWordRow.line_id > last_line)
                    .order_by(LineWordRow.line_id)
                    .limit(request.limit)
                )
            )
            query = query.where(value < last_value)
        if len(found) < request.limit:
            found.extend(
                self._rows(
                    query.order_by(value.desc(), LineWordRow.line_id).limit(
                        request.limit - len(found)
                    )
                )
            )
        return [
            LineWordMatch(int(line_id), request.form_id, float(prob), float_or_none(conf), True)
            for line_id, prob, conf in found
        ]

    def lines_with_all(
        self, groups: Sequence[Collection[int]], *, in_text: bool = False, limit: int
    ) -> list[int] | None:
        """The lines holding a form of every group, when there are at most `limit` of them.

        Only when that is cheap to know: every group has at most `_INTERSECT_ROWS` rows (the
        groups' line sets are intersected), or the smallest has at most `_WALK_ROWS` (its
        rows are walked and the other groups looked up line by line); and not when, were
        the groups independent, they would meet in more than twice `limit` lines. A line
        holds a form when its probability is above 0, or with `in_text` when its current
        text holds it.

        Args:
            groups: Form ids per group.
            in_text: As in `matches`.
            limit: Most lines wanted.

        Returns:
            The line ids, or None when there are more than `limit` lines or finding them
            would cost too much.
        """
        if not groups or any(not group for group in groups):
            return []
        sizes, ordered = self._rarest_first(groups, in_text)
        # Were the words independent, this many lines would hold them all: when that is far
        # above `limit`, finding out costs more than it can save.
        lines = max(1, int(self._rows(select(func.max(LineRow.id)))[0][0] or 0))
        if math.prod(size / lines for size in sizes) * lines > limit:
            return None
        query: Any
        if max(sizes) <= _INTERSECT_ROWS:
            query = intersect(
                *(
                    select(LineWordRow.line_id).where(
                        LineWordRow.form_id.in_(sorted(group)), holds(LineWordRow, in_text)
                    )
                    for group in ordered
                )
            )
        elif min(sizes) <= _WALK_ROWS:
            query = walk_lines(ordered, (), in_text)
        else:
            return None
        rows = self._rows(query.limit(limit + 1))
        return None if len(rows) > limit else [int(row[0]) for row in rows]

    def count_lines_with_all(
        self,
        groups: Sequence[Collection[int]],
        *,
        excluded: Collection[int] = (),
        collection_id: int | None = None,
        min_confidence: float | None = None,
        in_text: bool = False,
        cap: int,
    ) -> int:
        """How many lines hold a form of every group and no excluded form, up to `cap`.

        A line holds a form as in `lines_with_all`. An excluded form rules a line out when
        it is in the current text (`in_text`), else when its probability is 1. The smallest
        group's rows are walked and the other groups looked up line by line, until `cap`
        lines are counted: quick when the groups often meet, as when `lines_with_all`
        found too many lines. On PostgreSQL a first group of several forms is first walked
        one form at a time (`indexer.store.search_sql.some_form_reaches`): its DISTINCT
        would hash every row of the group before counting one line.

        Args:
            groups: Form ids per group; a line must hold one of every group's.
            excluded: Form ids that rule a line out.
            collection_id: As in `matches`.
            min_confidence: As in `matches`.
            in_text: As in `matches`.
            cap: Counting stops there.
        """
        if not groups or any(not group for group in groups):
            return 0
        _, ordered = self._rarest_first(groups, in_text)
        walk = with_line_filters(
            walk_lines(ordered, excluded, in_text),
            collection_id=collection_id,
            min_confidence=min_confidence,
        )
        count = select(func.count()).select_from(walk.limit(cap).subquery())
        if len(ordered[0]) > 1 and self._dialect == "postgresql":
            # As in `count_lines`: the walk of one form of the first group needs no
            # DISTINCT and stops at the cap; the one of them all hashes every row first.
            forms = form_list(sorted(ordered[0]))
            rows_of_form = with_line_filters(
                walk_form_lines(
                    LineWordRow.form_id == forms.c.form_id, ordered[1:], excluded, in_text
                ),
                collection_id=collection_id,
                min_confidence=min_confidence,
            )
            reached = some_form_reaches(forms, rows_of_form, cap)
            count = select(case((reached, cap), else_=count.scalar_subquery()))
        rows = self._rows(count)
        return int(rows[0][0])

    def _rarest_first(
        self, groups: Sequence[Collection[int]], in_text: bool
    ) -> tuple[list[int], list[Collection[int]]]:
        """The groups' row counts (up to `_INTERSECT_ROWS` + 1), and the groups, fewest first.

        Counts are kept for the rest of the search: `count_lines_with_all` follows
        `lines_with_all` on the same groups.
        """
        sizes = []
        for group in groups:
            key = (tuple(sorted(group)), in_text)
            if key not in self._row_counts:
                inner = (
                    select(LineWordRow.line_id)
                    .where(LineWordRow.form_id.in_(key[0]), holds(LineWordRow, in_text))
                    .limit(_INTERSECT_ROWS + 1)
                )
                rows = self._rows(select(func.count()).select_from(inner.subquery()))
                self._row_counts[key] = int(rows[0][0])
            sizes.append(self._row_counts[key])
        ordered = [group for _, group in sorted(zip(sizes, groups, strict=True), key=_first)]
        return sizes, ordered

    def count_lines(
        self,
        form_ids: Collection[int],
        *,
        variant_form_ids: Collection[int] = (),
        collection_id: int | None = None,
        min_confidence: float | None = None,
        in_text: bool = False,
        cap: int,
    ) -> int:
        """How many lines may hold any of the forms, counted up to `cap`.

        One statement. Over several forms the lines are counted DISTINCT; on PostgreSQL,
        which hashes every row of a DISTINCT before its LIMIT can stop it, the forms are
        first counted one at a time up to `cap` (`indexer.store.search_sql.some_form_reaches`)
        and the DISTINCT runs only when none of them gets there.

        Args:
            form_ids: Forms that count in every collection.
            variant_form_ids: Forms that count only in collections that fold variants.
            collection_id: As in `matches`.
            min_confidence: As in `matches`.
            in_text: As in `matches`.
            cap: Counting stops there.
        """
        off = self._collections_without_variants() if variant_form_ids else set()
        condition: ColumnElement[bool] = LineWordRow.form_id.in_(sorted(form_ids))
        if variant_form_ids and off:
            variant_condition = LineWordRow.form_id.in_(sorted(variant_form_ids)) & (
                PageRow.collection_id.not_in(sorted(off))
            )
            condition = or_(condition, variant_condition)
        elif variant_form_ids:
            condition = LineWordRow.form_id.in_(sorted({*form_ids, *variant_form_ids}))
        # A line has one row per form (the primary key), so one form's rows need no DISTINCT.
        # Without it the count stops after `cap` rows; with it PostgreSQL hashes every row of
        # the form first (20 ms for the 73,000 lines of "que" among 200,000).
        several = len({*form_ids, *variant_form_ids}) > 1
        lines = select(LineWordRow.line_id).where(condition)
        if several:
            lines = lines.distinct()
        inner = with_line_filters(
            lines,
            collection_id=collection_id,
            min_confidence=min_confidence,
            join_pages=bool(variant_form_ids and off),
        )
        if in_text:
            inner = inner.where(LineWordRow.text_confidence.is_not(None))
        count = select(func.count()).select_from(inner.limit(cap).subquery())
        # Forms that count in every collection: one of them with `cap` lines settles it.
        everywhere = sorted(set(form_ids) if off else {*form_ids, *variant_form_ids})
        if several and everywhere and self._dialect == "postgresql":
            # The DISTINCT hashes every row of every form before the LIMIT can stop it
            # (80 ms for the 79,000 rows of fuzzy "que" among 200,000 lines); when one form
            # alone has `cap` lines, `cap` of its rows tell (`some_form_reaches`).
            forms = form_list(everywhere)
            rows_of_form = with_line_filters(
                select(literal_column("1"))
                .select_from(LineWordRow)
                .where(LineWordRow.form_id == forms.c.form_id),
                collection_id=collection_id,
                min_confidence=min_confidence,
            )
            if in_text:
                rows_of_form = rows_of_form.where(LineWordRow.text_confidence.is_not(None))
            reached = some_form_reaches(forms, rows_of_form, cap)
            count = select(case((reached, cap), else_=count.scalar_subquery()))
        rows = self._rows(count)
        return int(rows[0][0])

    def readings(self, line_ids: Collection[int]) -> dict[int, tuple[str, bool, list[Alternative]]]:
        """Current text, whether verified, and n-best readings of lines, by id (no words)."""
        found: dict[int, tuple[str, bool, list[Alternative]]] = {}
        for chunk in chunks(sorted(line_ids)):
            for line_id, line_text, version in self._rows(
                select(LineRow.id, LineRow.text, LineRow.version).where(LineRow.id.in_(chunk))
            ):
                found[int(line_id)] = (str(line_text), version > 1, [])
            for line_id, alt_text, prob in self._rows(
                select(AlternativeRow.line_id, AlternativeRow.text, AlternativeRow.prob)
                .where(AlternativeRow.line_id.in_(chunk))
                .order_by(AlternativeRow.line_id, AlternativeRow.rank)
            ):
                if int(line_id) in found:
                    found[int(line_id)][2].append(Alternative(str(alt_text), float(prob)))
        return found

    def line_facts(self, line_ids: Collection[int]) -> dict[int, LineFacts]:
        """Collection, confidence and verification of lines, by id (one cheap query per chunk)."""
        found: dict[int, LineFacts] = {}
        for chunk in chunks(sorted(line_ids)):
            query = (
                select(LineRow.id, PageRow.collection_id, LineRow.confidence, LineRow.version)
                .join(PageRow, PageRow.id == LineRow.page_id)
                .where(LineRow.id.in_(chunk))
            )
            for line_id, collection_id, confidence, version in self._rows(query):
                found[int(line_id)] = LineFacts(
                    int(collection_id), float(confidence), int(version) > 1
                )
        return found

    def located_lines(self, line_ids: Collection[int]) -> dict[int, LocatedLine]:
        """The lines with their words, readings, page file and frame, by id."""
        found: dict[int, LocatedLine] = {}
        for chunk in chunks(sorted(line_ids)):
            self.check()
            query = (
                select(LineRow, PageRow.source_path, PageRow.frame, PageRow.collection_id)
                .join(PageRow, PageRow.id == LineRow.page_id)
                .where(LineRow.id.in_(chunk))
                .options(selectinload(LineRow.words), selectinload(LineRow.alternatives))
            )
            for row, source_path, frame, collection_id in self._rows(query):
                found[row.id] = LocatedLine(
                    stored=stored_line(row),
                    source_path=str(source_path),
                    frame=int(frame),
                    position=int(row.position),
                    collection_id=int(collection_id),
                )
        return found


def _first(pair: tuple[int, Any]) -> int:
    return pair[0]


def _line_of_row(row: Any) -> int:
    """The line id of a PostgreSQL row of `SearchReader.best_lines_of`.

    Rows are (request, part, line id, probability, text confidence).
    """
    return int(row[2])


def _ranked_row(in_text: bool) -> Any:
    """The search-order key of a PostgreSQL row of `SearchReader.best_lines_of`."""
    column = 4 if in_text else 3

    def key(row: Any) -> tuple[float, int]:
        return -float(row[column]), int(row[2])

    return key
