"""How an index is cut into shards, and which FAISS index each shard gets.

A search index (`indexer.search.index_files`) may be split into shards, each a file of its
own over a **contiguous range of ids**: word-form ids for the lexical index, line ids for
the semantic index (a window goes with its first line, `indexer.search.passages`). Shard
``i`` holds the ids from its ``first_id`` up to the next shard's ``first_id`` minus one; the
first shard starts at 1 and the last one is open-ended. Contiguous ranges make keeping the
shards fresh simple: a new id (forms and lines only get higher ids) goes to the last shard,
a correction or a removal to the shard whose range holds the id (`shard_of`), and a range is
rebuilt from the database on its own (``legajo check --repair``).

**How many shards.** ``--shards auto`` gives one shard per `ENTRIES_PER_SHARD` entries,
rounded up, so every index below that size keeps today's one-file layout. The number is a
balance measured in ``bench/index_shards.py`` (figures in `docs/scaling.md`): a shard is the
unit of work of one builder (one Ray task) and of one repair, so it should build in minutes
and fit a worker's memory (a million passages are 1.5 GB of float32 vectors of 384
dimensions and embed in minutes on a GPU; a million forms as HNSW are about 400 MB and build
in a few minutes on one core), while every shard adds a FAISS search per query, so fewer,
larger shards search faster.

**Which index.** `index_type_for` picks each shard's FAISS index from its entry count alone,
with the rules the one-file indexes have always used, so a shard behaves like an index of
its size:

- lexical: ``flat`` (exact inner product) up to `indexer.search.lexical.EXACT_LIMIT` forms,
  ``hnsw`` (HNSW over 8-bit scalar-quantised vectors) above. Near misses of a word are
  scattered in vector space, so an inverted file misses them; HNSW finds them in a
  millisecond or two, and forms are never removed, which HNSW cannot do.
- semantic: ``flat`` below `indexer.search.semantic.IVF_THRESHOLD` passages, ``ivf``
  (``IndexIVFFlat``, probing about as many vectors as a flat query at the threshold) from
  there on. Corrections replace vectors, which HNSW cannot do; IVF can. IVF-PQ was not
  adopted: it was not measured to pay off at the shard sizes used here (see the module
  docstring of `indexer.search.semantic` and `docs/scaling.md`).

The type is written into each shard's manifest entry. This module is pure: no FAISS.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Literal

from indexer.search.index_manifests import LEXICAL, SEMANTIC

ENTRIES_PER_SHARD = 1_000_000
"""Entries (word forms, or passages) per shard with ``--shards auto`` (module docstring)."""

IndexType = Literal["flat", "hnsw", "ivf"]
FLAT: IndexType = "flat"
HNSW: IndexType = "hnsw"
IVF: IndexType = "ivf"
INDEX_TYPES: tuple[IndexType, ...] = (FLAT, HNSW, IVF)

AUTO = "auto"
"""``--shards auto``: `shard_count` chooses."""


def index_type_for(kind: str, entries: int) -> IndexType:
    """The FAISS index a shard (or a one-file index) of `entries` entries gets.

    Args:
        kind: ``lexical`` or ``semantic``.
        entries: Word forms, or passages, in the shard.

    Returns:
        ``"flat"``, ``"hnsw"`` (lexical only) or ``"ivf"`` (semantic only); see the module
        docstring for why.

    Raises:
        ValueError: If `kind` is unknown.
    """
    from indexer.search.lexical import EXACT_LIMIT
    from indexer.search.semantic import IVF_THRESHOLD

    if kind == LEXICAL:
        return FLAT if entries <= EXACT_LIMIT else HNSW
    if kind == SEMANTIC:
        return FLAT if entries < IVF_THRESHOLD else IVF
    raise ValueError(f"unknown index kind {kind!r}")


def shard_count(entries: int, requested: int | str = AUTO) -> int:
    """How many shards an index of `entries` entries is cut into.

    Args:
        entries: Word forms, or passages.
        requested: A number of shards, or `AUTO` (one per `ENTRIES_PER_SHARD`).

    Returns:
        At least 1, and never more than there are entries.

    Raises:
        ValueError: If `requested` is neither a positive number nor `AUTO`.
    """
    if requested == AUTO:
        wanted = math.ceil(entries / ENTRIES_PER_SHARD)
    elif isinstance(requested, int) and not isinstance(requested, bool) and requested >= 1:
        wanted = requested
    else:
        raise ValueError(f"shards must be a positive number or {AUTO!r}, not {requested!r}")
    return max(1, min(wanted, entries))


def split_ranges(keys: Sequence[int], count: int) -> list[int]:
    """Cuts sorted keys into at most `count` contiguous ranges of about equal size.

    A range never splits the entries of one key (a line and the window it starts).

    Args:
        keys: The shard key of every entry (form id, or a passage's first line id),
            sorted ascending, repeats allowed; all positive.
        count: Ranges wanted.

    Returns:
        The first id of each range, ascending; the first is always 1. Fewer than `count`
        when there are fewer distinct keys.
    """
    firsts = [1]
    if not keys:
        return firsts
    for number in range(1, count):
        position = number * len(keys) // count
        # Move forward to where the key changes, so that equal keys stay together.
        position = bisect.bisect_right(keys, keys[position - 1]) if position > 0 else 0
        if position >= len(keys):
            break
        key = keys[position]
        if key > firsts[-1]:
            firsts.append(key)
    return firsts


def shard_of(key: int, first_ids: Sequence[int]) -> int:
    """The number of the shard whose range holds `key` (ranges as `split_ranges` gives).

    Keys below the first range go to shard 0; keys above the last go to the last shard.
    """
    return max(0, bisect.bisect_right(first_ids, key) - 1)


def last_ids(first_ids: Sequence[int]) -> list[int | None]:
    """The last id of each range: the next range's first id minus one, None for the last."""
    return [*(first - 1 for first in first_ids[1:]), None]
