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
from collections.abc import Callable, Iterable, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from indexer.search.passages import first_line_of
from indexer.search.shards import shard_of

if TYPE_CHECKING:
    from indexer.search.lexical import FormHit, LexicalIndex  # noqa: F401 (a base class argument)
    from indexer.search.semantic import SemanticIndex

logger = logging.getLogger(__name__)

FANOUT_THREADS = max(1, min(8, os.cpu_count() or 1))
"""Threads that search shards at once (one process-wide pool)."""

_Shard = TypeVar("_Shard")
_Result = TypeVar("_Result")
_Item = TypeVar("_Item")
_Index = TypeVar("_Index", bound=Sized)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=FANOUT_THREADS, thread_name_prefix="legajo-shard")


def fan_out(shards: Sequence[_Shard], search: Callable[[_Shard], _Result]) -> list[_Result]:
    """Runs `search` on every shard, in the shared thread pool; results in shard order."""
    if len(shards) == 1:
        return [search(shards[0])]
    return list(_pool().map(search, shards))


class _ShardedIndex(Generic[_Index]):
    """What both sharded indexes share: the shards, their ranges, which ones changed.

    Args:
        shards: One index per shard, in the order of `first_ids`.
        first_ids: The first id of each shard's range.

    Raises:
        ValueError: If there are not as many shards as ranges, or the ranges do not ascend.
    """

    def __init__(self, shards: Sequence[_Index], first_ids: Sequence[int]) -> None:
        if len(shards) != len(first_ids):
            raise ValueError(f"{len(shards)} shards for {len(first_ids)} ranges")
        if not first_ids or list(first_ids) != sorted(set(first_ids)):
            raise ValueError(f"shard ranges must start at ascending ids, not {first_ids}")
        self._shards = list(shards)
        self._first_ids = tuple(first_ids)
        self._dirty: set[int] = set()

    @property
    def shards(self) -> tuple[_Index, ...]:
        """The shards, in id order."""
        return tuple(self._shards)

    @property
    def first_ids(self) -> tuple[int, ...]:
        """The first id of each shard's range."""
        return self._first_ids

    @property
    def dirty(self) -> set[int]:
        """Numbers of the shards changed since loading (or since `dirty` was cleared)."""
        return self._dirty

    def __len__(self) -> int:
        return sum(len(shard) for shard in self._shards)

    def _route(
        self,
        items: Sequence[_Item],
        key: Callable[[_Item], int],
        change: Callable[[_Index, list[_Item]], None],
    ) -> None:
        """Hands each item to the shard whose range holds its key, and marks those dirty.

        Args:
            items: What changes (ids, or (id, text) pairs).
            key: The id that places an item (a form id, or a passage's first line).
            change: Called with a shard and an iterable of its items.
        """
        groups: dict[int, list[_Item]] = {}
        for item in items:
            groups.setdefault(shard_of(key(item), self._first_ids), []).append(item)
        for number, group in groups.items():
            change(self._shards[number], group)
            self._dirty.add(number)


class ShardedLexicalIndex(_ShardedIndex["LexicalIndex"]):
    """The word forms of an index cut into shards (module docstring).

    Args:
        shards: One lexical index per shard, in the order of `first_ids`.
        first_ids: The first form id of each shard's range.

    Raises:
        ValueError: If there are not as many shards as ranges, or the ranges do not ascend.
    """

    @property
    def max_id(self) -> int:
        """The highest form id held (0 when empty): `add` the forms stored after it."""
        return max(shard.max_id for shard in self._shards)

    def form(self, form_id: int) -> str | None:
        """The form with this id, None when no shard holds it."""
        return self._shards[shard_of(form_id, self.first_ids)].form(form_id)

    def add(self, forms: Iterable[tuple[int, str]]) -> None:
        """Adds new forms, each to the shard whose range holds its id (the last, for new ids).

        Raises:
            ValueError: If an id is already held, repeated, or not positive.
        """
        self._route(list(forms), lambda pair: pair[0], lambda shard, pairs: shard.add(pairs))

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


class ShardedSemanticIndex(_ShardedIndex["SemanticIndex"]):
    """The passages of an index cut into shards (module docstring).

    Args:
        shards: One semantic index per shard, all of one model, in the order of `first_ids`.
        first_ids: The first line id of each shard's range.

    Raises:
        ValueError: If there are not as many shards as ranges, the ranges do not ascend, or
            the shards embed with different models.
    """

    def __init__(self, shards: Sequence[SemanticIndex], first_ids: Sequence[int]) -> None:
        super().__init__(shards, first_ids)
        models = {shard.model_id for shard in shards}
        if len(models) != 1:
            raise ValueError(f"the shards embed with different models: {sorted(models)}")

    @property
    def model_id(self) -> str:
        """The id of the model every shard embeds with."""
        return self._shards[0].model_id

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
        self._route(
            list(passages),
            lambda pair: first_line_of(pair[0]),
            lambda shard, pairs: shard.upsert(pairs),
        )

    def remove(self, ids: Iterable[int]) -> None:
        """Removes passages by id from the shards of their first lines (unknown ids ignored)."""
        self._route(list(ids), first_line_of, lambda shard, group: shard.remove(group))
