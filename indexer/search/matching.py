"""Word matching: the accepted forms of each query term, and the lines they score.

`Matcher` serves every mode but semantic, by four ways tried in turn (see
`indexer.search.service` for the scores and what each way costs): `Matcher.best` for one word,
`Matcher.top` for several single words (`indexer.search.topk`), `Matcher.phrase` for a lone
phrase, and `Matcher.score`, which scores every matching line, for the rest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from indexer.search import topk
from indexer.search.planning import Plan, Term
from indexer.search.topk import EXACT_FLOOR
from indexer.spelling.normalize import word_keys
from indexer.store.search_reader import BestLinesRequest, LocatedLine, SearchReader
from indexer.store.word_index import FORM_SETTINGS, line_readings, variant_key

if TYPE_CHECKING:
    from indexer.search.lexical import LexicalIndex

TOTAL_LIMIT = 10_000
"""One-word searches count their matching lines up to this (`hits.SearchResult.total`)."""
SEVERAL_TOTAL_LIMIT = 1_000
"""Searches of several words count their matching lines up to this: each line counted costs a
look-up of the other words, where a one-word count only walks an index."""


_BEST_MAX_FORMS = 64
"""Most accepted forms for which a one-word search reads each form's best lines."""
_TOP_MAX_FORMS = 256
"""Most accepted forms per word for which a several-word search uses `indexer.search.topk`."""
_PHRASE_BATCH = 500
"""Lines scored at a time when searching a phrase."""
_PHRASE_COUNT_LINES = 2000
"""Lines a phrase search scores at most for its total, once its best lines are known."""
_SIZE_CAP = 2000
"""Lines counted per word when ordering a query's words from the rarest."""
_RESTRICT_MAX = 20_000
"""Most candidate lines passed to SQL; beyond, rows are read in full and filtered here."""


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """How queries are matched and scored (see `indexer.search.service`).

    Attributes:
        variant_weight: Weight of a spelling variant of a query word (auto).
        fuzzy_weight: Weight of a near miss, times its similarity (auto).
        min_similarity: Lowest lexical similarity of a near miss, in [0, 1].
        fuzzy_candidates: Near misses asked of the lexical index per query word.
        auto_variants: Whether auto matches spelling variants.
        auto_fuzzy: Whether auto matches near misses.
        prefix_forms: Most forms a prefix (``word*``) expands to.
        semantic_model: Sentence-transformers model name or path; None for the model the
            semantic index file was built with (the packaged one without a file).
        semantic_candidates: Passages asked of the semantic index (at least 4 x limit).
    """

    variant_weight: float = 0.9
    fuzzy_weight: float = 0.8
    min_similarity: float = 0.7
    fuzzy_candidates: int = 50
    auto_variants: bool = True
    auto_fuzzy: bool = True
    prefix_forms: int = 1000
    semantic_model: str | None = None
    semantic_candidates: int = 200


@dataclass(frozen=True, slots=True)
class Accept:
    """How a form is accepted at one position of a term."""

    form_id: int
    weight: float
    variant_only: bool = False


Position = dict[str, Accept]


@dataclass
class Scoring:
    """Per-search state: what is accepted, lines loaded so far."""

    accepted: dict[str, float] = field(default_factory=dict)
    located: dict[int, LocatedLine] = field(default_factory=dict)
    windows: set[int] = field(default_factory=set)


class Matcher:
    """Scores lines for one word-based search (every mode but semantic).

    The four ways (`best`, `top`, `phrase`, `score`) take the plan, the collection to keep
    (an id, or None for all) and the lowest line confidence to keep (or None), and all but
    `score` the number of best lines wanted; a way that does not serve the plan returns None.

    Args:
        reader: The search reader, open for this search (its deadline bounds every query).
        mode: A word mode: ``auto``, ``exact``, ``prob`` or ``fuzzy``.
        settings: Matching and scoring settings.
        lexical: The lexical index, for near misses; None when the mode uses none.
    """

    def __init__(
        self,
        reader: SearchReader,
        mode: str,
        settings: SearchSettings,
        lexical: LexicalIndex | None,
    ) -> None:
        self.reader = reader
        self.mode = mode
        self.settings = settings
        self.lexical = lexical
        self.state = Scoring()
        self.exact = mode == "exact"
        self.variants = mode == "auto" and settings.auto_variants
        self.collection_id: int | None = None
        self.min_confidence: float | None = None
        self._accepted_cache: dict[tuple[str, bool, bool], Position] = {}

    def best(
        self, plan: Plan, collection_id: int | None, min_confidence: float | None, wanted: int
    ) -> tuple[dict[int, float], int] | None:
        """The `wanted` best lines of a one-word query, and the total; None for other queries.

        For one word, a line's score is the best weight x probability over the accepted
        forms, so the `wanted` best lines of each form (read in index order) hold the
        `wanted` best lines overall: no line outside them can beat the lines within.
        """
        if len(plan.groups) != 1 or len(plan.groups[0]) != 1 or plan.excluded:
            return None
        term = plan.groups[0][0]
        if len(term.keys) != 1:
            return None
        position = self._accepted(term.keys[0], prefix=term.prefix, fuzzy=True)
        if len(position) > _BEST_MAX_FORMS:
            return None
        self._remember(position)
        off = tuple(sorted(self.reader.collections_without_variants()))
        accepts = list(position.values())
        # Every form's best lines in one statement (`SearchReader.best_lines_of`).
        per_form = self.reader.best_lines_of(
            [BestLinesRequest(a.form_id, wanted, off if a.variant_only else ()) for a in accepts],
            collection_id=collection_id,
            min_confidence=min_confidence,
            in_text=self.exact,
        )
        scores: dict[int, float] = {}
        for accept, rows in zip(accepts, per_form, strict=True):
            for row in rows:
                s = accept.weight * topk.row_value(row, exact=self.exact)
                if s > scores.get(row.line_id, 0.0):
                    scores[row.line_id] = s
        total = self.reader.count_lines(
            [a.form_id for a in position.values() if not a.variant_only],
            variant_form_ids=[a.form_id for a in position.values() if a.variant_only],
            collection_id=collection_id,
            min_confidence=min_confidence,
            in_text=self.exact,
            cap=TOTAL_LIMIT,
        )
        best = topk.ranked(scores, wanted)
        return dict(best), max(total, len(best))

    def top(
        self, plan: Plan, collection_id: int | None, min_confidence: float | None, wanted: int
    ) -> tuple[dict[int, float], int] | None:
        """The `wanted` best lines of a query of single words, and the total (`topk`).

        None for queries it does not serve (phrases, a word accepting more than
        `_TOP_MAX_FORMS` forms, spelling variants while some collection has them off):
        `score` serves those.
        """
        terms = [term for group in plan.groups for term in group] + list(plan.excluded)
        if any(len(term.keys) != 1 for term in terms):
            return None
        self.collection_id = collection_id
        self.min_confidence = min_confidence
        off = self.reader.collections_without_variants()
        groups: list[topk.Group] = []
        for group in sorted(plan.groups, key=self._group_size):
            words = []
            for term in group:
                position = self._accepted(term.keys[0], prefix=term.prefix, fuzzy=True)
                if len(position) > _TOP_MAX_FORMS or (off and _has_variants(position)):
                    return None
                self._remember(position)
                words.append(_word_forms(position))
            groups.append(tuple(words))
        excluded = []
        for term in plan.excluded:
            position = self._accepted(term.keys[0], prefix=term.prefix, fuzzy=False)
            if len(position) > _TOP_MAX_FORMS or (off and _has_variants(position)):
                return None
            excluded.append(_word_forms(position))
        query = topk.TopQuery(
            tuple(groups),
            tuple(excluded),
            exact=self.exact,
            collection_id=collection_id,
            min_confidence=min_confidence,
        )
        return topk.best_lines(
            self.reader, query, wanted, count_cap=max(SEVERAL_TOTAL_LIMIT, wanted + 1)
        )

    def phrase(
        self, plan: Plan, collection_id: int | None, min_confidence: float | None, wanted: int
    ) -> tuple[dict[int, float], int] | None:
        """The `wanted` best lines of a query made of one phrase, and the total.

        The lines holding every word of the phrase come from the database with a bound of
        their score (`SearchReader.phrase_bounds`), highest first; they are scored in
        batches of `_PHRASE_BATCH` until no line left can beat the `wanted`-th best. The
        total counts the lines holding the phrase among those scored, which goes on until
        it reaches `SEVERAL_TOTAL_LIMIT` or `_PHRASE_COUNT_LINES` lines were scored (then
        it is the count so far). None for other queries.
        """
        if len(plan.groups) != 1 or len(plan.groups[0]) != 1 or plan.excluded:
            return None
        term = plan.groups[0][0]
        if len(term.keys) < 2:
            return None
        self.collection_id = collection_id
        self.min_confidence = min_confidence
        positions = self._positions(term, fuzzy=True)
        if any(len(position) > _TOP_MAX_FORMS for position in positions):
            return None
        for position in positions:
            self._remember(position)
        bounds = self.reader.phrase_bounds(
            [{a.form_id: a.weight for a in position.values()} for position in positions],
            in_text=self.exact,
            floor=EXACT_FLOOR,
            collection_id=collection_id,
            min_confidence=min_confidence,
        )
        scores: dict[int, float] = {}
        for start in range(0, len(bounds), _PHRASE_BATCH):
            lines = [line_id for line_id, _ in bounds[start : start + _PHRASE_BATCH]]
            per_position = [self._position_scores(p, lines) for p in positions]
            holding = set(lines).intersection(*per_position)
            for line_id, s in self._phrase_scores(term, positions, per_position, holding).items():
                # As `score` combines a group of one term: 1 - (1 - s), the same float.
                if 1.0 - s < 1.0:
                    scores[line_id] = 1.0 - (1.0 - s)
            scanned = start + len(lines)
            if scanned >= len(bounds):
                break
            counted = len(scores) >= SEVERAL_TOTAL_LIMIT or scanned >= _PHRASE_COUNT_LINES
            if counted and len(scores) >= wanted and _beyond_bound(scores, wanted, bounds[scanned]):
                break
        return dict(topk.ranked(scores, wanted)), len(scores)

    def _remember(self, position: Position) -> None:
        """Notes the accepted forms, to mark the matched words of the hits."""
        for form, accept in position.items():
            self.state.accepted[form] = max(accept.weight, self.state.accepted.get(form, 0.0))

    def score(
        self, plan: Plan, collection_id: int | None, min_confidence: float | None
    ) -> dict[int, float]:
        """Line id -> score for the lines that answer the plan (see `indexer.search.service`)."""
        self.collection_id = collection_id
        self.min_confidence = min_confidence
        scores: dict[int, float] | None = None
        # Rarest group first: the later ones then only read the lines still in the running.
        for group in sorted(plan.groups, key=self._group_size):
            group_scores = self._group_scores(group, fuzzy=True, restrict=scores)
            if scores is None:
                scores = group_scores
            else:
                scores = {i: s * group_scores[i] for i, s in scores.items() if i in group_scores}
            if not scores:
                return {}
        assert scores is not None
        for term in plan.excluded:
            self.reader.check()
            excluded = self._term_scores(term, fuzzy=False, restrict=scores, remember=False)
            for line_id, s in excluded.items():
                if self.exact or s >= 1.0:
                    scores.pop(line_id, None)
                elif line_id in scores:
                    scores[line_id] *= 1.0 - s
        return {i: s for i, s in scores.items() if s > 0}

    def _group_scores(
        self, group: Sequence[Term], *, fuzzy: bool, restrict: Mapping[int, float] | None
    ) -> dict[int, float]:
        miss: dict[int, float] = {}
        for term in group:
            self.reader.check()
            for line_id, s in self._term_scores(term, fuzzy=fuzzy, restrict=restrict).items():
                miss[line_id] = miss.get(line_id, 1.0) * (1.0 - s)
        return {i: 1.0 - m for i, m in miss.items() if m < 1.0}

    def _term_scores(
        self,
        term: Term,
        *,
        fuzzy: bool,
        restrict: Collection[int] | None,
        remember: bool = True,
    ) -> dict[int, float]:
        positions = self._positions(term, fuzzy=fuzzy)
        if remember:
            for position in positions:
                self._remember(position)
        if len(positions) == 1:
            return self._position_scores(positions[0], restrict)
        per_position: list[dict[int, float]] = [{} for _ in positions]
        lines: Collection[int] | None = restrict
        for index in sorted(range(len(positions)), key=lambda i: self._size(positions[i])):
            per_position[index] = self._position_scores(positions[index], lines)
            lines = per_position[index].keys()
        return self._phrase_scores(term, positions, per_position, set(lines or ()))

    def _positions(self, term: Term, *, fuzzy: bool) -> list[Position]:
        last = len(term.keys) - 1
        return [
            self._accepted(key, prefix=term.prefix and i == last, fuzzy=fuzzy)
            for i, key in enumerate(term.keys)
        ]

    def _group_size(self, group: Sequence[Term]) -> int:
        """About how many lines a group matches (counted up to `_SIZE_CAP` per word)."""
        return sum(min(self._size(p) for p in self._positions(term, fuzzy=True)) for term in group)

    def _size(self, position: Position) -> int:
        if not position:
            return 0
        return self.reader.count_lines(
            [a.form_id for a in position.values()],
            collection_id=self.collection_id,
            min_confidence=self.min_confidence,
            in_text=self.exact,
            cap=_SIZE_CAP,
        )

    def _accepted(self, key: str, *, prefix: bool, fuzzy: bool) -> Position:
        """The forms accepted for one query word, with their weights (memoised)."""
        cache_key = (key, prefix, fuzzy)
        if cache_key not in self._accepted_cache:
            self._accepted_cache[cache_key] = self._find_accepted(key, prefix=prefix, fuzzy=fuzzy)
        return self._accepted_cache[cache_key]

    def _find_accepted(self, key: str, *, prefix: bool, fuzzy: bool) -> Position:
        settings = self.settings
        variants = self.variants
        position: Position = {}
        if prefix:
            folded = variant_key(key) if variants else None
            for form_id, form in self.reader.prefix_forms(
                key, variant_prefix=folded, limit=settings.prefix_forms
            ):
                if form.startswith(key):
                    position[form] = Accept(form_id, 1.0)
                else:
                    position[form] = Accept(form_id, settings.variant_weight, variant_only=True)
            return position
        exact_id = self.reader.form_ids([key]).get(key)
        if fuzzy and self.lexical is not None and self.mode in ("auto", "fuzzy"):
            weight = 1.0 if self.mode == "fuzzy" else settings.fuzzy_weight
            for hit in self.lexical.search(
                key, k=settings.fuzzy_candidates, min_similarity=settings.min_similarity
            ):
                position[hit.form] = Accept(hit.form_id, weight * hit.similarity)
        if variants:
            for form_id, form, _ in self.reader.variant_forms([variant_key(key)]):
                previous = position.get(form)
                if previous is None or previous.weight < settings.variant_weight:
                    position[form] = Accept(form_id, settings.variant_weight, variant_only=True)
        if exact_id is not None:
            position[key] = Accept(exact_id, 1.0)
        return position

    def _position_scores(
        self, position: Position, restrict: Collection[int] | None
    ) -> dict[int, float]:
        """Line id -> max over the accepted forms of weight x probability."""
        if not position:
            return {}
        by_id = {accept.form_id: accept for accept in position.values()}
        rows = self.reader.matches(
            by_id,
            collection_id=self.collection_id,
            min_confidence=self.min_confidence,
            in_text=self.exact,
            line_ids=restrict if restrict is not None and len(restrict) <= _RESTRICT_MAX else None,
        )
        scores: dict[int, float] = {}
        for row in rows:
            if restrict is not None and row.line_id not in restrict:
                continue
            accept = by_id[row.form_id]
            if accept.variant_only and not row.variants:
                continue
            s = accept.weight * topk.row_value(row, exact=self.exact)
            if s > scores.get(row.line_id, 0.0):
                scores[row.line_id] = s
        return scores

    def _phrase_scores(
        self,
        term: Term,
        positions: Sequence[Position],
        per_position: Sequence[Mapping[int, float]],
        lines: Collection[int],
    ) -> dict[int, float]:
        """Line id -> phrase score, for the lines holding every word of the phrase."""
        readings = self.reader.readings(lines)
        scores: dict[int, float] = {}
        for n, (line_id, (text, verified, alternatives)) in enumerate(sorted(readings.items())):
            if n % 500 == 0:
                self.reader.check()
            if self.exact:
                found = _phrase_weight(word_keys(text, FORM_SETTINGS), positions, term)
                if found > 0:
                    product = 1.0
                    for position_scores in per_position:
                        product *= position_scores[line_id]
                    scores[line_id] = product
                continue
            total = 0.0
            for reading, prob in line_readings(text, alternatives, verified=verified):
                total += prob * _phrase_weight(word_keys(reading, FORM_SETTINGS), positions, term)
            if total > 0:
                scores[line_id] = min(1.0, total)
        return scores


def _beyond_bound(scores: Mapping[int, float], wanted: int, next_line: tuple[int, float]) -> bool:
    """Whether no line from `next_line` on (by bound, then id) can beat the `wanted`-th best.

    Lines left have a score at most their bound, which is at most the next line's; a line
    whose bound equals it and ties the `wanted`-th best has a larger id, and loses.
    """
    if not wanted:
        return True
    kth_id, kth = topk.ranked(scores, wanted)[-1]
    next_id, bound = next_line
    return kth > bound or (kth == bound and kth_id < next_id)


def _word_forms(position: Position) -> topk.Word:
    return tuple(topk.FormWeight(a.form_id, a.weight, a.variant_only) for a in position.values())


def _has_variants(position: Position) -> bool:
    return any(accept.variant_only for accept in position.values())


def _phrase_weight(keys: Sequence[str], positions: Sequence[Position], term: Term) -> float:
    """The best product of weights of the phrase's words standing in a row in `keys`."""
    best = 0.0
    size = len(positions)
    for start in range(len(keys) - size + 1):
        product = 1.0
        for offset, position in enumerate(positions):
            accept = position.get(keys[start + offset])
            if accept is None:
                product = 0.0
                break
            product *= accept.weight
        best = max(best, product)
    return best
