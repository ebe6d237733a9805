"""Indexes cut into shards, searched as one: fan out over the shards, merge the results.

`ShardedLexicalIndex` and `ShardedSemanticIndex` hold one `LexicalIndex` or `SemanticIndex`
per shard (`indexer.search.shards` says how ids are cut into ranges) and offer what the
search service uses of a one-file index. A search asks every shard in a thread pool (FAISS
releases the GIL while it searches) and merges:

- semantic: the query is embedded once, every shard returns its ``k`` best passages, and
  the ``k`` best of those by cosine (ties by id) are the answer. The ``k`` best overall are
  among the ``k`` best of their own shard, so with exact (flat) shards the result is that of
  one exact index over all the passages.
- lexical: every shard proposes its ``candidate_count(k)`` nearest forms by inner product,
  the ``candidate_count(k)`` nearest overall are kept and then re-scored on their strings
  exactly as `LexicalIndex.search` does, so with flat shards the hits are those of one flat
  index (up to ties in inner product at the cut).

Changes go to the shard whose range holds the id (`indexer.search.shards.shard_of`): new
forms and lines to the last shard, corrections and removals where their line is. Each
shard that changed is remembered in `dirty`, so that saving writes only those.
"""

from __future__ import annotations

import functools
import heapq
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from indexer.search.passages import first_line_of
from indexer.search.shards import shard_of

if TYPE_CHECKING:
    from indexer.search.lexical import FormHit, LexicalIndex
    from indexer.search.semantic import SemanticIndex

logger = logging.getLogger(__name__)

FANOUT_THREADS = max(1, min(8, os.cpu_count() or 1))
"""Threads that search shards at once (one process-wide pool)."""

_Shard = TypeVar("_Shard")
_Result = TypeVar("_Result")


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=FANOUT_THREADS, thread_name_prefix="legajo-shard")


def fan_out(shards: Sequence[_Shard], search: Callable[[_Shard], _Result]) -> list[_Result]:
    """Runs `search` on every shard, in the shared thread pool; results in shard order."""
    if len(shards) == 1:
        return [search(shards[0])]
    return list(_pool().map(search, shards))


class _Shards:
    """The shards, their ranges, and which ones changed since they were loaded or saved."""

    def __init__(self, first_ids: Sequence[int]) -> None:
        if not first_ids or list(first_ids) != sorted(set(first_ids)):
            raise ValueError(f"shard ranges must start at ascending ids, not {first_ids}")
        self.first_ids = tuple(first_ids)
        self.dirty: set[int] = set()

    def route(self, keys: Iterable[int]) -> dict[int, list[int]]:
        """Positions of the keys, grouped by the number of the shard that holds them."""
        groups: dict[int, list[int]] = {}
        for position, key in enumerate(keys):
            groups.setdefault(shard_of(key, self.first_ids), []).append(position)
        return groups


class ShardedLexicalIndex:
    """The word forms of an index cut into shards (module docstring).

    Args:
        shards: One lexical index per shard, in the order of `first_ids`.
        first_ids: The first form id of each shard's range.

    Raises:
        ValueError: If there are not as many shards as ranges, or the ranges do not ascend.
    """

    def __init__(self, shards: Sequence[LexicalIndex], first_ids: Sequence[int]) -> None:
        if len(shards) != len(first_ids):
            raise ValueError(f"{len(shards)} shards for {len(first_ids)} ranges")
        self._shards = list(shards)
        self._ranges = _Shards(first_ids)

    @property
    def shards(self) -> tuple[LexicalIndex, ...]:
        """The shards, in id order."""
        return tuple(self._shards)

    @property
    def first_ids(self) -> tuple[int, ...]:
        """The first form id of each shard's range."""
        return self._ranges.first_ids

    @property
    def dirty(self) -> set[int]:
        """Numbers of the shards changed since loading (or since `dirty` was cleared)."""
        return self._ranges.dirty

    @property
    def max_id(self) -> int:
        """The highest form id held (0 when empty): `add` the forms stored after it."""
        return max(shard.max_id for shard in self._shards)

    def __len__(self) -> int:
        return sum(len(shard) for shard in self._shards)

    def form(self, form_id: int) -> str | None:
        """The form with this id, None when no shard holds it."""
        return self._shards[shard_of(form_id, self.first_ids)].form(form_id)

    def add(self, forms: Iterable[tuple[int, str]]) -> None:
        """Adds new forms, each to the shard whose range holds its id (the last, for new ids).

        Raises:
            ValueError: If an id is already held, repeated, or not positive.
        """
        pairs = list(forms)
        for number, positions in self._ranges.route(form_id for form_id, _ in pairs).items():
            self._shards[number].add(pairs[i] for i in positions)
            self.dirty.add(number)

    def search(self, word: str, *, k: int = 50, min_similarity: float = 0.6) -> list[FormHit]:
        """The stored forms most similar to a word, over every shard (`LexicalIndex.search`)."""
        from indexer.search.lexical import candidate_count, rank_candidates, vectorize

        if not word or k <= 0:
            return []
        query = vectorize([word])
        wanted = candidate_count(k)
        found = fan_out(self._shards, lambda shard: shard.nearest(query, wanted))
        scores = np.concatenate([part[0] for part in found])
        ids = np.concatenate([part[1] for part in found])
        # The nearest overall, ties by id: what one index over every form would propose.
        nearest = ids[np.lexsort((ids, -scores))[:wanted]]
        candidates = []
        for form_id in nearest.tolist():
            form = self.form(form_id)
            if form is not None:
                candidates.append((form_id, form))
        return rank_candidates(word, candidates, k=k, min_similarity=min_similarity)


class ShardedSemanticIndex:
    """The passages of an index cut into shards (module docstring).

    Args:
        shards: One semantic index per shard, all of one model, in the order of `first_ids`.
        first_ids: The first line id of each shard's range.

    Raises:
        ValueError: If there are not as many shards as ranges, the ranges do not ascend, or
            the shards embed with different models.
    """

    def __init__(self, shards: Sequence[SemanticIndex], first_ids: Sequence[int]) -> None:
        if len(shards) != len(first_ids):
            raise ValueError(f"{len(shards)} shards for {len(first_ids)} ranges")
        models = {shard.model_id for shard in shards}
        if len(models) != 1:
            raise ValueError(f"the shards embed with different models: {sorted(models)}")
        self._shards = list(shards)
        self._ranges = _Shards(first_ids)

    @property
    def shards(self) -> tuple[SemanticIndex, ...]:
        """The shards, in line-id order."""
        return tuple(self._shards)

    @property
    def first_ids(self) -> tuple[int, ...]:
        """The first line id of each shard's range."""
        return self._ranges.first_ids

    @property
    def dirty(self) -> set[int]:
        """Numbers of the shards changed since loading (or since `dirty` was cleared)."""
        return self._ranges.dirty

    @property
    def model_id(self) -> str:
        """The id of the model every shard embeds with."""
        return self._shards[0].model_id

    def __len__(self) -> int:
        return sum(len(shard) for shard in self._shards)

    def load_model(self) -> None:
        """Loads the sentence model now (`SemanticIndex.load_model`); shards share it."""
        self._shards[0].load_model()

    def search(self, query: str, *, k: int = 20) -> list[tuple[int, float]]:
        """The passages closest in meaning to a query, over every shard (`SemanticIndex.search`).

        Raises:
            SemanticModelError: If the model cannot be loaded.
            ValueError: If `k` is below 1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not query.strip() or len(self) == 0:
            return []
        return self.search_vector(self._shards[0].embed_query(query), k=k)

    def search_vector(self, vector: np.ndarray, *, k: int = 20) -> list[tuple[int, float]]:
        """The `k` passages closest to an embedded query over every shard, best first.

        Raises:
            SemanticModelError: If the vector's dimension is not the shards'.
        """
        found = fan_out(self._shards, lambda shard: shard.search_vector(vector, k=k))
        return heapq.nsmallest(
            k, (item for part in found for item in part), key=lambda hit: (-hit[1], hit[0])
        )

    def upsert(self, passages: Iterable[tuple[int, str]]) -> None:
        """Adds or replaces passages, each in the shard of its first line (`SemanticIndex.upsert`).

        Raises:
            SemanticModelError: If the model cannot be loaded.
        """
        pairs = list(passages)
        routed = self._ranges.route(first_line_of(passage_id) for passage_id, _ in pairs)
        for number, positions in routed.items():
            self._shards[number].upsert(pairs[i] for i in positions)
            self.dirty.add(number)

    def remove(self, ids: Iterable[int]) -> None:
        """Removes passages by id from the shards of their first lines (unknown ids ignored)."""
        passage_ids = list(ids)
        for number, positions in self._ranges.route(map(first_line_of, passage_ids)).items():
            self._shards[number].remove(passage_ids[i] for i in positions)
            self.dirty.add(number)
