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
from the database when there is no sound file; an index cut into shards is searched on
every shard and the results merged, `indexer.search.sharded`) and brought up to date before
each search: the lexical index with the forms added since it was built (form ids only
grow), the semantic index with the change feed after its high-water mark.

**Sentence model.** Semantic searches embed the query with the model the database's semantic
index was built with (`indexer.search.index_files.stored_semantic_model`, set by ``legajo
reindex --semantic-model``), or the packaged default when there is no index file. The stored
model is looked up before each semantic search, so a long-lived service (the workbench)
switches to a model chosen meanwhile. A `SearchSettings.semantic_model` other than the
stored one gets an index built for it in memory; the index file is left alone.

**Cost.** A one-word query (with its variants, near misses or prefix forms) reads, for each
accepted form, only the form's best ``offset + limit`` lines in index order, and counts the
matching lines up to `TOTAL_LIMIT`. A query of several single words (ORs and exclusions
included) finds its best lines with the threshold algorithm of `indexer.search.topk`: each form's
lines are read best first, only until no unread line can enter the page; the lines that
answer it are counted up to `SEVERAL_TOTAL_LIMIT`. A query made of one phrase scores the
lines holding all its words best bound first (`matching.Matcher.phrase`). The other queries (a
phrase with other terms, a word accepting more than 256 forms such as a short prefix, or
spelling variants while some collection has them off) read every matching row of their
rarest OR group first, then only the surviving lines for the other groups, phrase words
and exclusions: they cost time in proportion to their words' frequency.

**Limits.** Every search has a deadline (``timeout_s``): each SQL statement is interrupted
when it runs past it and `SearchTimeoutError` is raised. The deadline starts once the indexes
are loaded and fresh and the sentence model is loaded (seconds, on a process's first query),
so it bounds the search itself. User text reaches SQL only as bound parameters
(`indexer.store.search_reader.SearchReader`).

**Modules.** A query is planned in `indexer.search.planning`, its words are matched and its
lines scored in `indexer.search.matching` (`SearchSettings`, the total limits), and the hits
are assembled in `indexer.search.hits` (`Hit`, `SearchResult`); this module keeps the indexes
fresh, searches by meaning, and re-exports those names.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from indexer.errors import DatabaseAccessError, SearchTimeoutError, SemanticModelError
from indexer.search import topk
from indexer.search.hits import Hit, MatchedWord, SearchResult, matched_words
from indexer.search.index_files import (
    catch_up_semantic,
    load_lexical,
    load_semantic,
    stored_semantic_model,
)
from indexer.search.matching import (
    SEVERAL_TOTAL_LIMIT,
    TOTAL_LIMIT,
    Matcher,
    Scoring,
    SearchSettings,
)
from indexer.search.passages import first_line_of, is_window, window_lines
from indexer.search.planning import Plan, plan_of
from indexer.search.query import QuerySyntaxError
from indexer.store.repository import Repository
from indexer.store.search_reader import LocatedLine, SearchReader

if TYPE_CHECKING:
    from indexer.search.index_files import AnyLexicalIndex, AnySemanticIndex
    from indexer.search.lexical import LexicalIndex

__all__ = [
    "MODES",
    "SEVERAL_TOTAL_LIMIT",
    "TOTAL_LIMIT",
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
        self._lexical: AnyLexicalIndex | None = None
        self._semantic: AnySemanticIndex | None = None
        self._semantic_change = 0
        self._statistics_checked = False

    @property
    def settings(self) -> SearchSettings:
        """The matching and scoring settings."""
        return self._settings

    @property
    def semantic_model(self) -> str:
        """The id of the sentence model semantic searches use now (module docstring).

        Raises:
            SemanticModelError: If `SearchSettings.semantic_model` names no model directory.
        """
        requested = self._settings.semantic_model
        if requested is None:
            stored = stored_semantic_model(self._home, self._repository.database.url)
            if stored is not None:
                return stored
        from indexer.search.semantic import resolve_model

        return resolve_model(requested).model_id

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
                building) the lexical or semantic index and loading the sentence model on
                first use, and bringing the indexes up to date, are not counted; embedding
                the query is.

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
        if not self._statistics_checked:
            self._statistics_checked = True
            self._ensure_statistics()
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        plan = plan_of(query)
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
                # Matcher only calls `search`, which an index cut into shards has too.
                matcher = Matcher(reader, mode, self._settings, cast("LexicalIndex", lexical))
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

    def prepare(self, mode: str = "auto") -> None:
        """Loads (or builds) what a search in `mode` needs, so that the first one is quick.

        A workbench calls this while the reader types the first query.

        Raises:
            ValueError: If the mode is unknown.
            SemanticModelError: If the sentence model of a semantic search cannot be loaded.
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
        if not self._statistics_checked:
            self._statistics_checked = True
            self._ensure_statistics()
        if self._uses_fuzzy(mode):
            self._fresh_lexical()
        if mode == "semantic":
            self._fresh_semantic()

    def _ensure_statistics(self) -> None:
        """Gives an older SQLite database the planner statistics indexing now leaves behind."""
        database = self._repository.database
        try:
            if not database.has_statistics():
                logger.info("computing the query planner's statistics of %s", database.url)
                database.refresh_statistics()
        except DatabaseAccessError as error:  # a read-only file: searches work, only slower
            logger.warning("could not compute the planner's statistics: %s", error)

    def _uses_fuzzy(self, mode: str) -> bool:
        return mode == "fuzzy" or (mode == "auto" and self._settings.auto_fuzzy)

    def _hit(
        self, state: Scoring, line_id: int, score: float, mode: str, reader: SearchReader
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
            words=matched_words(located, state.accepted, exact=mode == "exact"),
        )

    # -- indexes ---------------------------------------------------------------------------

    def _fresh_lexical(self) -> AnyLexicalIndex:
        """The lexical index, with every form stored so far."""
        with self._lock:
            if self._lexical is None:
                self._lexical = self._load_lexical()
            newest = self._repository.max_form_id()
            if newest > self._lexical.max_id:
                self._lexical.add(self._repository.word_forms(after_id=self._lexical.max_id))
            return self._lexical

    def _load_lexical(self) -> AnyLexicalIndex:
        from indexer.search.lexical import LexicalIndex

        loaded = load_lexical(self._repository, self._home)
        if loaded is not None:
            return loaded
        logger.info("building the lexical index in memory (no index file yet)")
        return LexicalIndex.build(self._repository.word_forms())

    def _fresh_semantic(self) -> AnySemanticIndex:
        """The semantic index of the model in use, with every change of the feed applied.

        Raises:
            SemanticModelError: If the model cannot be loaded; for the stored model, the
                message says how to choose another.
        """
        with self._lock:
            model_id = self.semantic_model
            if self._semantic is not None and self._semantic.model_id != model_id:
                logger.info(
                    "semantic searches now use the sentence model %s instead of %s",
                    model_id,
                    self._semantic.model_id,
                )
                self._semantic = None
            try:
                if self._semantic is None:
                    self._semantic, self._semantic_change = self._load_semantic(model_id)
                self._semantic_change = catch_up_semantic(
                    self._semantic, self._repository, self._semantic_change
                )
                if len(self._semantic):
                    # An index loaded from its file has no model yet; the query's embedding
                    # would load it inside the search's time limit.
                    self._semantic.load_model()
            except SemanticModelError as error:
                stored = stored_semantic_model(self._home, self._repository.database.url)
                if self._settings.semantic_model is not None or stored is None:
                    raise
                raise SemanticModelError(
                    f"{error}. The semantic index of this database was built with this "
                    "model: make it available again, or rebuild the index with another one "
                    "(legajo reindex --only semantic --semantic-model NAME_OR_PATH)"
                ) from error
            return self._semantic

    def _load_semantic(self, model_id: str) -> tuple[AnySemanticIndex, int]:
        from indexer.search.passages import collection_passages
        from indexer.search.semantic import SemanticIndex, resolve_model

        resolve_model(model_id)  # a model directory that is gone is named as such, not as a file
        loaded = load_semantic(self._repository, self._home, model_id)
        if loaded is not None:
            return loaded
        stored = stored_semantic_model(self._home, self._repository.database.url)
        if stored is not None and stored != model_id:
            logger.info(
                "the semantic index file was built with the sentence model %s; building an "
                "index for %s in memory (legajo reindex --only semantic --semantic-model "
                "saves one)",
                stored,
                model_id,
            )
        else:
            logger.info("building the semantic index in memory (no usable index file)")
        watermark = self._repository.last_change_id()
        index = SemanticIndex(model_id)
        index.build(collection_passages(self._repository.line_texts()))
        return index, watermark

    # -- semantic ----------------------------------------------------------------------------

    def _semantic_scores(
        self,
        index: AnySemanticIndex,
        plan: Plan,
        reader: SearchReader,
        collection_id: int | None,
        min_confidence: float | None,
        wanted: int,
    ) -> tuple[dict[int, float], Scoring]:
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
        state = Scoring(windows={i for i, window in windows.items() if window and i in kept})
        return kept, state

    def _semantic_hit(
        self, state: Scoring, located: LocatedLine, score: float, reader: SearchReader
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
