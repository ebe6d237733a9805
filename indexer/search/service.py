"""Searching the stored lines: `SearchService.search(query, mode=...)`.

A query (syntax in `indexer.search.query`) is words, ``"quoted phrases"``, ``OR`` between terms,
``-excluded`` terms and trailing ``*`` for prefixes. Words are normalised exactly as the index
is (`indexer.store.word_index`). Every term is turned into a set of accepted word forms, each with
a weight ``w`` in [0, 1], depending on the mode:

========  ==================================================================================
exact     the normalised form itself (w = 1), only where it is in the line's current text
          (the recognizer's best reading, or the correction)
prob      the form itself (w = 1) in any of the line's n-best readings
fuzzy     the form (w = 1) and its near misses from the lexical FAISS index, w = similarity
auto      the form (w = 1), its spelling variants (w = ``variant_weight``, only in
          collections with variants on) and its near misses (w = ``fuzzy_weight`` x
          similarity); the default
semantic  no word matching: the sentence-embedding index, score = cosine similarity
========  ==================================================================================

A prefix (``yglesi*``) accepts every stored form that starts with it (w = 1; in auto also
every form whose variant key starts with the prefix's, w = ``variant_weight``).

**Score.** With ``P(f, l)`` the probability that form ``f`` occurs in line ``l``
(`indexer.store.word_index`; in exact mode the form's confidence in the current text instead):

- a word term:  ``s(t, l) = max over accepted forms f of  w(f) * P(f, l)`` (in exact mode
  at least `EXACT_FLOOR`, so that a word read with confidence 0 is still found)
- a phrase: its words must follow each other in one reading; with readings ``r`` of
  probability ``p_r`` (exact mode: the current text only),
  ``s(t, l) = sum over r of  p_r * max over positions of  prod_i w(f_i)``
  (exact mode: the product of the phrase words' text confidences)
- ``a OR b``:  ``1 - (1 - s(a, l)) * (1 - s(b, l))``
- all the query's OR groups must match: their scores multiply (independence)
- each excluded term ``x`` multiplies by ``1 - s(x, l)`` (its exact form, variants and
  prefixes; no near misses); in exact mode a line holding ``x`` is dropped

Scores lie in [0, 1] and read as "probability that the line answers the query"; lines scoring
0 are not hits. Hits are sorted by score, best first, then by line id. A page's relevance is
the noisy-OR of its lines' scores (`indexer.store.word_index.page_relevance`).

**Freshness.** The word tables are written in the transaction that stores or corrects a
line, so exact, prob and the variant part of auto see a correction at once. The FAISS indexes
are loaded from their files under ``<home>/indexes/`` (`indexer.search.index_files`; built in memory
from the database when there is no sound file) and brought up to date before each search:
the lexical index with the forms added since it was built (form ids only grow), the
semantic index with the change feed after its high-water mark.

**Cost.** A one-word query (with its variants, near misses or prefix forms) reads, for each
accepted form, only the form's best ``offset + limit`` lines in index order, and counts the
matching lines up to `TOTAL_LIMIT`. A query of several single words (ORs and exclusions
included) finds its best lines with the threshold algorithm of `indexer.search.topk`: each form's
lines are read best first, only until no unread line can enter the page; the lines that
answer it are counted up to `SEVERAL_TOTAL_LIMIT`. A query made of one phrase scores the
lines holding all its words best bound first (`_Matcher.phrase`). The other queries (a
phrase with other terms, a word accepting more than 256 forms such as a short prefix, or
spelling variants while some collection has them off) read every matching row of their
rarest OR group first, then only the surviving lines for the other groups, phrase words
and exclusions: they cost time in proportion to their words' frequency.

**Limits.** Every search has a deadline (``timeout_s``): each SQL statement is interrupted
when it runs past it and `SearchTimeoutError` is raised. User text reaches SQL only as bound
parameters (`indexer.store.search_reader.SearchReader`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.confidence import word_spans
from htr.types import BBox
from indexer.errors import SearchTimeoutError
from indexer.search import topk
from indexer.search.index_files import catch_up_semantic, load_lexical, load_semantic
from indexer.search.passages import first_line_of, is_window, window_lines
from indexer.search.query import Operand, Phrase, QuerySyntaxError, parse_query
from indexer.search.topk import EXACT_FLOOR
from indexer.spelling.normalize import word_keys
from indexer.store.repository import Repository
from indexer.store.search_reader import LocatedLine, SearchReader
from indexer.store.word_index import FORM_SETTINGS, line_readings, variant_key

if TYPE_CHECKING:
    from indexer.search.lexical import LexicalIndex
    from indexer.search.semantic import SemanticIndex

__all__ = [
    "MODES",
    "Hit",
    "MatchedWord",
    "QuerySyntaxError",
    "SearchResult",
    "SearchService",
    "SearchSettings",
    "SearchTimeoutError",
]

logger = logging.getLogger(__name__)

MODES = ("auto", "exact", "prob", "fuzzy", "semantic")
"""The search modes; ``auto`` is the default."""

TOTAL_LIMIT = 10_000
"""One-word searches count their matching lines up to this (`SearchResult.total`)."""
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
    """How queries are matched and scored (module docstring).

    Attributes:
        variant_weight: Weight of a spelling variant of a query word (auto).
        fuzzy_weight: Weight of a near miss, times its similarity (auto).
        min_similarity: Lowest lexical similarity of a near miss, in [0, 1].
        fuzzy_candidates: Near misses asked of the lexical index per query word.
        auto_variants: Whether auto matches spelling variants.
        auto_fuzzy: Whether auto matches near misses.
        prefix_forms: Most forms a prefix (``word*``) expands to.
        semantic_model: Sentence-transformers model name or path; None for the packaged one.
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
class MatchedWord:
    """A word of a hit line that matched the query.

    Attributes:
        text: The word as it stands in the line (or in the reading that matched).
        bbox: Its box in page pixels, None when the word comes from a reading whose words
            cannot be placed.
        confidence: The word's confidence (1 for a corrected line); for a word found only in
            another reading, the probability that the line holds it.
    """

    text: str
    bbox: BBox | None
    confidence: float | None

    def to_json(self) -> dict[str, Any]:
        """The word as JSON-ready data."""
        return {
            "text": self.text,
            "bbox": None if self.bbox is None else list(self.bbox),
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """One line that answers a query.

    Attributes:
        page: The page's source file, as indexed.
        frame: The page within the file.
        page_id: Database id of the page.
        line_id: Database id of the line (the first line of a semantic window).
        text: The line's current text (a window's lines joined by spaces).
        score: In [0, 1], higher is better (module docstring).
        bbox: The line's box (x0, y0, x1, y1) in page pixels.
        words: The words that matched, in reading order.
    """

    page: str
    frame: int
    page_id: int
    line_id: int
    text: str
    score: float
    bbox: BBox
    words: tuple[MatchedWord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The hit in the ``legajo search --json`` shape."""
        return {
            "page": self.page,
            "frame": self.frame,
            "page_id": self.page_id,
            "line_id": self.line_id,
            "text": self.text,
            "score": self.score,
            "bbox": list(self.bbox),
            "words": [word.to_json() for word in self.words],
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The answer to one query.

    Attributes:
        hits: The hits from `offset` on, at most `limit`, best first.
        total: How many lines matched in all; for a one-word query counted up to
            `TOTAL_LIMIT`, for several single words up to `SEVERAL_TOTAL_LIMIT` or one
            more than ``offset + limit`` (a total equal to the cap means at least that
            many); for a lone phrase, among the lines scored (`_Matcher.phrase`); for
            semantic search, among the passages retrieved.
        elapsed_s: Wall-clock seconds the search took.
        mode: The mode used.
    """

    hits: tuple[Hit, ...]
    total: int
    elapsed_s: float
    mode: str


@dataclass(frozen=True, slots=True)
class _Term:
    """A query word (one key) or phrase (several), normalised."""

    keys: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    """A query as AND of OR groups of terms, and excluded terms."""

    groups: tuple[tuple[_Term, ...], ...]
    excluded: tuple[_Term, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class _Accept:
    """How a form is accepted at one position of a term."""

    form_id: int
    weight: float
    variant_only: bool = False


_Position = dict[str, _Accept]


@dataclass
class _Scoring:
    """Per-search state: what is accepted, lines loaded so far."""

    accepted: dict[str, float] = field(default_factory=dict)
    located: dict[int, LocatedLine] = field(default_factory=dict)
    windows: set[int] = field(default_factory=set)


class SearchService:
    """Searches a repository's lines (module docstring).

    Indexes are loaded lazily on first use and kept fresh before every search; one service
    may serve several threads.

    Args:
        repository: The database.
        home: legajo's data folder (where index files live, under ``indexes/``).
        settings: Matching and scoring settings.
    """

    def __init__(
        self, repository: Repository, home: Path, settings: SearchSettings | None = None
    ) -> None:
        self._repository = repository
        self._home = Path(home)
        self._settings = settings or SearchSettings()
        self._lock = threading.Lock()
        self._lexical: LexicalIndex | None = None
        self._semantic: SemanticIndex | None = None
        self._semantic_change = 0

    @property
    def settings(self) -> SearchSettings:
        """The matching and scoring settings."""
        return self._settings

    def search(
        self,
        query: str,
        *,
        mode: str = "auto",
        limit: int = 20,
        offset: int = 0,
        collection: str | None = None,
        min_confidence: float | None = None,
        timeout_s: float = 5.0,
    ) -> SearchResult:
        """Finds the lines that answer a query.

        Args:
            query: The query (syntax in `indexer.search.query`).
            mode: One of `MODES`.
            limit: Most hits returned.
            offset: Hits skipped first (for paging).
            collection: Only this collection.
            min_confidence: Only lines at least this confident (corrected lines always pass).
            timeout_s: Time limit of the search. Loading (or, without index files,
                building) the lexical or semantic index on first use is not counted.

        Returns:
            The hits from `offset`, at most `limit`, with the total and the time taken.

        Raises:
            QuerySyntaxError: If the query is malformed or has nothing to search for.
            ValueError: If the mode, limit or offset is invalid.
            UnknownCollectionError: If `collection` does not exist.
            SearchTimeoutError: If the search ran past `timeout_s`.
        """
        started = time.monotonic()
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        plan = _plan_of(query)
        if timeout_s <= 0:
            raise SearchTimeoutError("the search ran past its time limit")
        lexical = self._fresh_lexical() if self._uses_fuzzy(mode) else None
        semantic = self._fresh_semantic() if mode == "semantic" else None
        with self._repository.search_reader(timeout_s) as reader:
            collection_id = None if collection is None else reader.collection_id(collection)
            if semantic is not None:
                scored, state = self._semantic_scores(
                    semantic, plan, reader, collection_id, min_confidence, offset + limit
                )
                total = len(scored)
            else:
                matcher = _Matcher(reader, mode, self._settings, lexical)
                best = matcher.best(plan, collection_id, min_confidence, offset + limit)
                if best is None:
                    best = matcher.top(plan, collection_id, min_confidence, offset + limit)
                if best is None:
                    best = matcher.phrase(plan, collection_id, min_confidence, offset + limit)
                if best is None:
                    scored = matcher.score(plan, collection_id, min_confidence)
                    total = len(scored)
                else:
                    scored, total = best
                state = matcher.state
            page = topk.ranked(scored)[offset : offset + limit]
            missing = [line_id for line_id, _ in page if line_id not in state.located]
            state.located.update(reader.located_lines(missing))
            hits = tuple(
                self._hit(state, line_id, score, mode, reader)
                for line_id, score in page
                if line_id in state.located
            )
        return SearchResult(hits=hits, total=total, elapsed_s=time.monotonic() - started, mode=mode)

    def _uses_fuzzy(self, mode: str) -> bool:
        return mode == "fuzzy" or (mode == "auto" and self._settings.auto_fuzzy)

    def _hit(
        self, state: _Scoring, line_id: int, score: float, mode: str, reader: SearchReader
    ) -> Hit:
        located = state.located[line_id]
        line = located.stored.line
        if mode == "semantic":
            return self._semantic_hit(state, located, score, reader)
        return Hit(
            page=located.source_path,
            frame=located.frame,
            page_id=located.stored.page_id,
            line_id=line_id,
            text=line.text,
            score=score,
            bbox=line.bbox,
            words=_matched_words(located, state.accepted, exact=mode == "exact"),
        )

    # -- indexes ---------------------------------------------------------------------------

    def _fresh_lexical(self) -> LexicalIndex:
        """The lexical index, with every form stored so far."""
        with self._lock:
            if self._lexical is None:
                self._lexical = self._load_lexical()
            newest = self._repository.max_form_id()
            if newest > self._lexical.max_id:
                self._lexical.add(self._repository.word_forms(after_id=self._lexical.max_id))
            return self._lexical

    def _load_lexical(self) -> LexicalIndex:
        from indexer.search.lexical import LexicalIndex

        loaded = load_lexical(self._repository, self._home)
        if loaded is not None:
            return loaded
        logger.info("building the lexical index in memory (no index file yet)")
        return LexicalIndex.build(self._repository.word_forms())

    def _fresh_semantic(self) -> SemanticIndex:
        """The semantic index, with every change of the feed applied."""
        with self._lock:
            if self._semantic is None:
                self._semantic, self._semantic_change = self._load_semantic()
            self._semantic_change = catch_up_semantic(
                self._semantic, self._repository, self._semantic_change
            )
            return self._semantic

    def _load_semantic(self) -> tuple[SemanticIndex, int]:
        from indexer.search.passages import collection_passages
        from indexer.search.semantic import SemanticIndex

        loaded = load_semantic(self._repository, self._home, self._settings.semantic_model)
        if loaded is not None:
            return loaded
        logger.info("building the semantic index in memory (no index file yet)")
        watermark = self._repository.last_change_id()
        index = SemanticIndex(self._settings.semantic_model)
        index.build(collection_passages(self._repository.line_texts()))
        return index, watermark

    # -- semantic ----------------------------------------------------------------------------

    def _semantic_scores(
        self,
        index: SemanticIndex,
        plan: _Plan,
        reader: SearchReader,
        collection_id: int | None,
        min_confidence: float | None,
        wanted: int,
    ) -> tuple[dict[int, float], _Scoring]:
        reader.check()
        k = max(self._settings.semantic_candidates, 4 * wanted)
        found = index.search(plan.text, k=k)
        reader.check()
        scores: dict[int, float] = {}
        windows: dict[int, bool] = {}
        for passage_id, cosine in found:
            line_id = first_line_of(passage_id)
            score = min(1.0, max(0.0, float(cosine)))
            if score > scores.get(line_id, -1.0):
                scores[line_id] = score
                windows[line_id] = is_window(passage_id)
        # Only the lines shown are loaded whole (`search`); the filters need a few columns.
        facts = reader.line_facts(scores)
        kept: dict[int, float] = {}
        for line_id, score in scores.items():
            fact = facts.get(line_id)
            if fact is None or score <= 0:
                continue
            if collection_id is not None and fact.collection_id != collection_id:
                continue
            if min_confidence is not None and not (
                fact.verified or fact.confidence >= min_confidence
            ):
                continue
            kept[line_id] = score
        state = _Scoring(windows={i for i, window in windows.items() if window and i in kept})
        return kept, state

    def _semantic_hit(
        self, state: _Scoring, located: LocatedLine, score: float, reader: SearchReader
    ) -> Hit:
        """A semantic hit: a line, or a window shown as its lines' text and joint box."""
        lines = [located]
        if located.stored.id in state.windows:
            page = [(i, t) for i, _, t in self._repository.page_line_texts(located.stored.page_id)]
            ids = window_lines(located.stored.id, page)
            found = reader.located_lines(ids)
            lines = [found[i] for i in ids if i in found] or lines
        boxes = [item.stored.line.bbox for item in lines]
        return Hit(
            page=located.source_path,
            frame=located.frame,
            page_id=located.stored.page_id,
            line_id=located.stored.id,
            text=" ".join(item.stored.line.text for item in lines if item.stored.line.text),
            score=score,
            bbox=(
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            ),
        )


# -- query plans ---------------------------------------------------------------------------


def _plan_of(text: str) -> _Plan:
    """Parses and normalises a query.

    Raises:
        QuerySyntaxError: If the query is malformed or has no word to search for.
    """
    query = parse_query(text)
    groups = []
    for clause in query.groups:
        terms = tuple(t for t in (_term_of(op) for op in clause.alternatives) if t.keys)
        if terms:
            groups.append(terms)
    if not groups:
        raise QuerySyntaxError(text, 0, "the query has no word to search for")
    excluded = tuple(t for t in (_term_of(op) for op in query.excluded) if t.keys)
    return _Plan(tuple(groups), excluded, " ".join(op.text for op in query.operands()))


def _term_of(operand: Operand) -> _Term:
    """The normalised keys of a query word or phrase (a word may normalise to several)."""
    if isinstance(operand, Phrase):
        keys = tuple(key for word in operand.words for key in word_keys(word, FORM_SETTINGS))
        return _Term(keys)
    return _Term(tuple(word_keys(operand.text, FORM_SETTINGS)), operand.prefix)


# -- word matching -------------------------------------------------------------------------


class _Matcher:
    """Scores lines for one word-based search (every mode but semantic)."""

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
        self.state = _Scoring()
        self.exact = mode == "exact"
        self.variants = mode == "auto" and settings.auto_variants
        self.collection_id: int | None = None
        self.min_confidence: float | None = None
        self._accepted_cache: dict[tuple[str, bool, bool], _Position] = {}

    def best(
        self, plan: _Plan, collection_id: int | None, min_confidence: float | None, wanted: int
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
        off = self.reader.collections_without_variants()
        scores: dict[int, float] = {}
        for accept in position.values():
            for row in self.reader.top_matches(
                accept.form_id,
                limit=wanted,
                collection_id=collection_id,
                min_confidence=min_confidence,
                in_text=self.exact,
                skip_collections=off if accept.variant_only else (),
            ):
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
        self, plan: _Plan, collection_id: int | None, min_confidence: float | None, wanted: int
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
        self, plan: _Plan, collection_id: int | None, min_confidence: float | None, wanted: int
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

    def _remember(self, position: _Position) -> None:
        """Notes the accepted forms, to mark the matched words of the hits."""
        for form, accept in position.items():
            self.state.accepted[form] = max(accept.weight, self.state.accepted.get(form, 0.0))

    def score(
        self, plan: _Plan, collection_id: int | None, min_confidence: float | None
    ) -> dict[int, float]:
        """Line id -> score for the lines that answer the plan (module docstring)."""
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
        self, group: Sequence[_Term], *, fuzzy: bool, restrict: Mapping[int, float] | None
    ) -> dict[int, float]:
        miss: dict[int, float] = {}
        for term in group:
            self.reader.check()
            for line_id, s in self._term_scores(term, fuzzy=fuzzy, restrict=restrict).items():
                miss[line_id] = miss.get(line_id, 1.0) * (1.0 - s)
        return {i: 1.0 - m for i, m in miss.items() if m < 1.0}

    def _term_scores(
        self,
        term: _Term,
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

    def _positions(self, term: _Term, *, fuzzy: bool) -> list[_Position]:
        last = len(term.keys) - 1
        return [
            self._accepted(key, prefix=term.prefix and i == last, fuzzy=fuzzy)
            for i, key in enumerate(term.keys)
        ]

    def _group_size(self, group: Sequence[_Term]) -> int:
        """About how many lines a group matches (counted up to `_SIZE_CAP` per word)."""
        return sum(min(self._size(p) for p in self._positions(term, fuzzy=True)) for term in group)

    def _size(self, position: _Position) -> int:
        if not position:
            return 0
        return self.reader.count_lines(
            [a.form_id for a in position.values()],
            collection_id=self.collection_id,
            min_confidence=self.min_confidence,
            in_text=self.exact,
            cap=_SIZE_CAP,
        )

    def _accepted(self, key: str, *, prefix: bool, fuzzy: bool) -> _Position:
        """The forms accepted for one query word, with their weights (memoised)."""
        cache_key = (key, prefix, fuzzy)
        if cache_key not in self._accepted_cache:
            self._accepted_cache[cache_key] = self._find_accepted(key, prefix=prefix, fuzzy=fuzzy)
        return self._accepted_cache[cache_key]

    def _find_accepted(self, key: str, *, prefix: bool, fuzzy: bool) -> _Position:
        settings = self.settings
        variants = self.variants
        position: _Position = {}
        if prefix:
            folded = variant_key(key) if variants else None
            for form_id, form in self.reader.prefix_forms(
                key, variant_prefix=folded, limit=settings.prefix_forms
            ):
                if form.startswith(key):
                    position[form] = _Accept(form_id, 1.0)
                else:
                    position[form] = _Accept(form_id, settings.variant_weight, variant_only=True)
            return position
        exact_id = self.reader.form_ids([key]).get(key)
        if fuzzy and self.lexical is not None and self.mode in ("auto", "fuzzy"):
            weight = 1.0 if self.mode == "fuzzy" else settings.fuzzy_weight
            for hit in self.lexical.search(
                key, k=settings.fuzzy_candidates, min_similarity=settings.min_similarity
            ):
                position[hit.form] = _Accept(hit.form_id, weight * hit.similarity)
        if variants:
            for form_id, form, _ in self.reader.variant_forms([variant_key(key)]):
                previous = position.get(form)
                if previous is None or previous.weight < settings.variant_weight:
                    position[form] = _Accept(form_id, settings.variant_weight, variant_only=True)
        if exact_id is not None:
            position[key] = _Accept(exact_id, 1.0)
        return position

    def _position_scores(
        self, position: _Position, restrict: Collection[int] | None
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
        term: _Term,
        positions: Sequence[_Position],
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


def _word_forms(position: _Position) -> topk.Word:
    return tuple(topk.FormWeight(a.form_id, a.weight, a.variant_only) for a in position.values())


def _has_variants(position: _Position) -> bool:
    return any(accept.variant_only for accept in position.values())


def _phrase_weight(keys: Sequence[str], positions: Sequence[_Position], term: _Term) -> float:
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


# -- matched words -------------------------------------------------------------------------


def _matched_words(
    located: LocatedLine, accepted: Mapping[str, float], *, exact: bool
) -> tuple[MatchedWord, ...]:
    """The words of a hit line whose normalised form the query accepted (module docstring)."""
    line = located.stored.line
    # A verified line's stored words are its text's, confidence 1 (`Repository.correct_line`).
    matched = tuple(
        MatchedWord(word.text, word.bbox, word.confidence)
        for word in line.words
        if any(key in accepted for key in word_keys(word.text, FORM_SETTINGS))
    )
    if matched or exact or located.verified:
        return matched
    readings = sorted(
        line_readings(line.text, line.alternatives, verified=False), key=lambda r: -r[1]
    )
    for reading, _ in readings:
        spans = word_spans(reading)
        found = []
        for index, (start, end) in enumerate(spans):
            word = reading[start:end]
            keys = [k for k in word_keys(word, FORM_SETTINGS) if k in accepted]
            if not keys:
                continue
            probability = sum(
                prob for other, prob in readings if keys[0] in word_keys(other, FORM_SETTINGS)
            )
            box = line.words[index].bbox if len(spans) == len(line.words) else None
            found.append(MatchedWord(word, box, min(1.0, probability)))
        if found:
            return tuple(found)
    return ()
