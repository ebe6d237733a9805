"""The best lines of a query of several words, without reading every line that holds them.

`indexer.search.service` scores a line for a query of single words (an AND of OR groups, with
excluded words) from the values ``w(f) * P(f, l)`` of the forms each word accepts. Scoring
every line that holds a query word costs time in proportion to the word's frequency: over a
million lines, ``que los`` reads a million rows. This module finds the same best lines with
Fagin's threshold algorithm:

1. *Sorted access.* Each accepted form has a stream: its lines best first, straight off the
   ranked index of migration 0003 (value descending, then line id), read a batch at a time
   (`SearchReader.best_lines_of` with ``after``). A round reads, for every query word, the
   streams whose bound decides the word's bound (below), all in one statement; batches grow
   as rounds go by.
2. *Random access.* Every line met for the first time is scored at once, in full: its rows
   for all the query's forms, read by primary key, through the same formula as
   `indexer.search.service` (same order of operations, so the same floating-point scores).
3. *Threshold.* A line not met yet holds each form with at most the form's last value read,
   so its score is at most the query's formula applied to those bounds. Reading stops as
   soon as the ``wanted``-th best line met scores more than that threshold, or equally and
   cannot lose a tie: within one value a stream's lines come by increasing id, so a line not
   met that ties has a larger id than where the streams stand. An exhausted stream bounds
   its form by 0; once every form of a word is exhausted, the threshold is 0 and reading
   stops (a query with a rare word costs what reading the rare word's lines costs).

Before that, `best_lines` asks the database for the lines that hold every group
(`SearchReader.lines_with_all`), when that is cheap and they are few (at most
`CANDIDATE_LINES`): two words that seldom meet are answered by scoring just those lines, with
an exact total. Otherwise the threshold algorithm runs and the lines that answer the query
are counted up to a cap (`SearchReader.count_lines_with_all`), walking the rarest group's
rows and looking the others up by primary key.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from indexer.store.search_reader import BestLinesRequest, LineWordMatch, SearchReader

FIRST_BATCH = 256
"""Rows read from a stream in the first round (at least twice the lines wanted)."""
MAX_BATCH = 4096
"""Most rows read from one stream in one round; batches double until then."""
CANDIDATE_LINES = 2000
"""Up to this many lines holding every group, all are scored instead of searched."""
EXACT_FLOOR = 1e-6
"""Lowest exact-mode value of a form that is in the text: a word read with confidence 0 is
still found."""


@dataclass(frozen=True, slots=True)
class FormWeight:
    """A form a query word accepts.

    Attributes:
        form_id: The form.
        weight: Its weight w in (0, 1].
        variant_only: Accepted only in collections that fold spelling variants.
    """

    form_id: int
    weight: float
    variant_only: bool = False


Word = tuple[FormWeight, ...]
"""The forms one query word accepts."""
Group = tuple[Word, ...]
"""Query words joined by OR."""


@dataclass(frozen=True, slots=True)
class TopQuery:
    """A query of single words, as `indexer.search.service` plans it.

    Attributes:
        groups: The OR groups that must all match, in the order their scores multiply.
        excluded: Excluded words (their forms without near misses).
        exact: Exact mode: values are text confidences, a line holding an excluded word
            is dropped.
        collection_id: Only lines of this collection.
        min_confidence: Only lines at least this confident (corrected lines always pass).
    """

    groups: tuple[Group, ...]
    excluded: tuple[Word, ...] = ()
    exact: bool = False
    collection_id: int | None = None
    min_confidence: float | None = None


@dataclass(slots=True)
class _Stream:
    """Sorted access to one form's lines, for one query word."""

    word: tuple[int, int]
    form: FormWeight
    batch: int
    last: tuple[float, int] | None = None
    exhausted: bool = False

    def bound(self, exact: bool) -> float:
        """The most a line not read yet from this stream can get from this form."""
        if self.exhausted:
            return 0.0
        if self.last is None:
            return self.form.weight
        return self.form.weight * _scale(self.last[0], exact)


def best_lines(
    reader: SearchReader, query: TopQuery, wanted: int, *, count_cap: int
) -> tuple[dict[int, float], int]:
    """The `wanted` best lines of a query, and how many lines answer it.

    When few lines hold every group (at most `CANDIDATE_LINES`, found cheaply by
    `SearchReader.lines_with_all`), they are all scored: the total is exact. Otherwise the
    threshold algorithm (`top_lines`) finds the best, and the lines are counted up to
    `count_cap`.

    Args:
        reader: The search's reader.
        query: The query.
        wanted: How many lines.
        count_cap: Counting stops there when the lines are many.

    Returns:
        (line id -> score for at most `wanted` lines, total).

    Raises:
        SearchTimeoutError: If the search runs past its deadline.
    """
    groups = [forms_of(group) for group in query.groups]
    candidates = reader.lines_with_all(groups, in_text=query.exact, limit=CANDIDATE_LINES)
    if candidates is not None:
        scores = _score_candidates(reader, query, candidates)
        return dict(ranked(scores, wanted)), len(scores)
    top = top_lines(reader, query, wanted)
    total = reader.count_lines_with_all(
        groups,
        # An excluded word rules a line out when it is in its text (exact mode), else when
        # a form of weight 1 has probability 1 (`score_lines`).
        excluded=[
            form.form_id
            for word in query.excluded
            for form in word
            if query.exact or form.weight >= 1.0
        ],
        collection_id=query.collection_id,
        min_confidence=query.min_confidence,
        in_text=query.exact,
        cap=count_cap,
    )
    return top, max(total, len(top))


def top_lines(reader: SearchReader, query: TopQuery, wanted: int) -> dict[int, float]:
    """The `wanted` best lines of a query (module docstring), with their scores.

    Args:
        reader: The search's reader (its deadline bounds every statement).
        query: The query.
        wanted: How many lines (ties broken by smaller line id).

    Returns:
        Line id -> score, for at most `wanted` lines scoring above 0.

    Raises:
        SearchTimeoutError: If the search runs past its deadline.
    """
    if wanted < 1 or not query.groups:
        return {}
    first = max(FIRST_BATCH, 2 * wanted)
    streams = [
        _Stream((g, t), form, first)
        for g, group in enumerate(query.groups)
        for t, word in enumerate(group)
        for form in word
    ]
    all_forms = _query_forms(query)
    seen: set[int] = set()
    scores: dict[int, float] = {}
    while True:
        met = _advance(reader, _deciding_streams(streams, query.exact), query) - seen
        if met:
            seen |= met
            scores.update(_score_candidates(reader, query, met, all_forms))
        threshold = _threshold(query, streams)
        if threshold <= 0:
            break
        if len(scores) >= wanted:
            kth_id, kth_score = _kth(scores, wanted)
            if kth_score > threshold or (
                kth_score == threshold and _tie_settled(query, streams, kth_id)
            ):
                break
    return dict(ranked(scores, wanted))


def _query_forms(query: TopQuery) -> set[int]:
    return {form.form_id for words in (*query.groups, query.excluded) for w in words for form in w}


def _score_candidates(
    reader: SearchReader,
    query: TopQuery,
    line_ids: Collection[int],
    forms: Collection[int] | None = None,
) -> dict[int, float]:
    """Scores lines in full from their rows for every form of the query (random access)."""
    if not line_ids:
        return {}
    rows = reader.matches(
        _query_forms(query) if forms is None else forms,
        collection_id=query.collection_id,
        min_confidence=query.min_confidence,
        in_text=query.exact,
        line_ids=line_ids,
    )
    return score_lines(query, rows)


def score_lines(query: TopQuery, rows: Sequence[LineWordMatch]) -> dict[int, float]:
    """The query's score of every line that has rows, for those scoring above 0.

    Args:
        query: The query.
        rows: All the lines' rows for the query's forms (in exact mode, only rows of forms
            in the current text).
    """
    by_line: dict[int, dict[int, LineWordMatch]] = {}
    for row in rows:
        by_line.setdefault(row.line_id, {})[row.form_id] = row
    scores: dict[int, float] = {}
    for line_id, found in by_line.items():
        score = 1.0
        first = True
        for group in query.groups:
            miss = 1.0
            matched = False
            for word in group:
                s = _word_value(word, found, query.exact)
                if s > 0:
                    miss *= 1.0 - s
                    matched = True
            if not matched or miss >= 1.0:
                score = 0.0
                break
            # The first group's score is taken as is, later ones multiply (as in the service).
            score = 1.0 - miss if first else score * (1.0 - miss)
            first = False
        for word in query.excluded:
            if score <= 0:
                break
            s = _word_value(word, found, query.exact)
            if s > 0:
                score = 0.0 if query.exact or s >= 1.0 else score * (1.0 - s)
        if score > 0:
            scores[line_id] = score
    return scores


def row_value(row: LineWordMatch, *, exact: bool) -> float:
    """What a `line_words` row gives its form in a line's score.

    The probability; in exact mode the text confidence, at least `EXACT_FLOOR` (0 when
    the current text does not hold the form).
    """
    if not exact:
        return row.probability
    if row.text_confidence is None:
        return 0.0
    return _scale(row.text_confidence, exact)


def ranked(scores: Mapping[int, float], wanted: int | None = None) -> list[tuple[int, float]]:
    """(line id, score) best first, ties broken by smaller id; the first `wanted` only."""
    if wanted is None:
        return sorted(scores.items(), key=_rank)
    return heapq.nsmallest(wanted, scores.items(), key=_rank)


def _rank(item: tuple[int, float]) -> tuple[float, int]:
    return -item[1], item[0]


def _word_value(word: Word, found: Mapping[int, LineWordMatch], exact: bool) -> float:
    """The best weight x value of the word's forms in the line (0 when none is there)."""
    best = 0.0
    for form in word:
        row = found.get(form.form_id)
        if row is None or (form.variant_only and not row.variants):
            continue
        best = max(best, form.weight * row_value(row, exact=exact))
    return best


def _scale(raw: float, exact: bool) -> float:
    # A word in the text is a hit however unsure the recognizer was (indexer.search.service).
    return max(raw, EXACT_FLOOR) if exact else raw


def _advance(reader: SearchReader, streams: Sequence[_Stream], query: TopQuery) -> set[int]:
    """Reads the next batch of every stream (in one statement); returns the lines in them."""
    batches = reader.best_lines_of(
        [BestLinesRequest(s.form.form_id, s.batch, after=s.last) for s in streams],
        collection_id=query.collection_id,
        min_confidence=query.min_confidence,
        in_text=query.exact,
    )
    lines: set[int] = set()
    for stream, rows in zip(streams, batches, strict=True):
        if len(rows) < stream.batch:
            stream.exhausted = True
        if rows:
            last = rows[-1]
            raw = last.text_confidence if query.exact else last.probability
            stream.last = (float(raw if raw is not None else 0.0), last.line_id)
        stream.batch = min(2 * stream.batch, MAX_BATCH)
        lines.update(row.line_id for row in rows)
    return lines


def _deciding_streams(streams: Sequence[_Stream], exact: bool) -> list[_Stream]:
    """For every word, the live streams whose bound is the word's bound."""
    best: dict[tuple[int, int], float] = {}
    for stream in streams:
        if not stream.exhausted:
            best[stream.word] = max(best.get(stream.word, 0.0), stream.bound(exact))
    return [
        s for s in streams if not s.exhausted and s.bound(exact) == best[s.word] and best[s.word]
    ]


def _word_bounds(query: TopQuery, streams: Sequence[_Stream]) -> dict[tuple[int, int], float]:
    bounds = {(g, t): 0.0 for g, group in enumerate(query.groups) for t in range(len(group))}
    for stream in streams:
        bounds[stream.word] = max(bounds[stream.word], stream.bound(query.exact))
    return bounds


def _threshold(query: TopQuery, streams: Sequence[_Stream]) -> float:
    """The most a line not met yet can score: the formula over the forms' bounds."""
    bounds = _word_bounds(query, streams)
    score = 1.0
    for g, group in enumerate(query.groups):
        miss = 1.0
        for t in range(len(group)):
            if bounds[(g, t)] > 0:
                miss *= 1.0 - bounds[(g, t)]
        if miss >= 1.0:
            return 0.0
        score = 1.0 - miss if g == 0 else score * (1.0 - miss)
    return score


def _tie_settled(query: TopQuery, streams: Sequence[_Stream], kth_id: int) -> bool:
    """Whether no line not met yet can tie the `wanted`-th best and have a smaller id.

    Called when the threshold is above 0, so every group's bound is. A line not met that
    ties the threshold has every group at its bound (the groups' scores multiply). In a
    group below 1 every word must be at its bound (the OR formula grows strictly with each
    word); in a group at 1, some word at bound 1 must be at it. A word at its bound sits in
    one of its deciding streams at their last value, after their last line. So the line's
    id is above, for every group, the smallest (bound 1) or largest (below 1) of the
    words' last lines, and above the largest of those over the groups.
    """
    bounds = _word_bounds(query, streams)
    beyond = 0
    for g, group in enumerate(query.groups):
        # A word whose streams are all read holds no unread line: it constrains nothing.
        words = [(g, t) for t in range(len(group)) if bounds[(g, t)] > 0]
        full = [word for word in words if bounds[word] >= 1.0]
        lasts = []
        for word in full or words:
            last = _last_line(query, streams, word, bounds[word])
            if last is None:
                return False
            lasts.append(last)
        beyond = max(beyond, min(lasts) if full else max(lasts))
    return kth_id <= beyond


def _last_line(
    query: TopQuery, streams: Sequence[_Stream], word: tuple[int, int], bound: float
) -> int | None:
    """The id above which an unread line holding `word` at `bound` (above 0) must lie.

    Such a line holds the word through a form whose stream's bound is `bound`, at the
    stream's last value, so after the stream's last line: the smallest of those last lines.
    None when one of those streams has not been read yet, or its values cannot be told
    apart (exact mode, below `EXACT_FLOOR`).
    """
    lines = []
    for stream in streams:
        if stream.word != word or stream.exhausted or stream.bound(query.exact) != bound:
            continue
        if stream.last is None or (query.exact and stream.last[0] < EXACT_FLOOR):
            return None
        lines.append(stream.last[1])
    return min(lines) if lines else None


def _kth(scores: Mapping[int, float], wanted: int) -> tuple[int, float]:
    """The `wanted`-th best (line id, score), ties broken by smaller id."""
    return ranked(scores, wanted)[-1]


def forms_of(words: Collection[Word]) -> list[int]:
    """The form ids of some words, without repeats, sorted."""
    return sorted({form.form_id for word in words for form in word})
