"""How ids are cut into shard ranges, which index a shard gets, and sharded manifests."""

from __future__ import annotations

import json

import pytest

from indexer.errors import IndexFileError
from indexer.search.index_manifests import Manifest, ShardEntry
from indexer.search.lexical import EXACT_LIMIT
from indexer.search.semantic import IVF_THRESHOLD
from indexer.search.shards import (
    ENTRIES_PER_SHARD,
    index_type_for,
    last_ids,
    shard_count,
    shard_of,
    split_ranges,
)


def test_index_type_follows_the_one_file_rules() -> None:
    assert index_type_for("lexical", EXACT_LIMIT) == "flat"
    assert index_type_for("lexical", EXACT_LIMIT + 1) == "hnsw"
    assert index_type_for("semantic", IVF_THRESHOLD - 1) == "flat"
    assert index_type_for("semantic", IVF_THRESHOLD) == "ivf"
    with pytest.raises(ValueError, match="unknown index kind"):
        index_type_for("other", 1)


def test_shard_count_auto_keeps_small_indexes_in_one_file() -> None:
    assert shard_count(0) == 1
    assert shard_count(ENTRIES_PER_SHARD) == 1
    assert shard_count(ENTRIES_PER_SHARD + 1) == 2
    assert shard_count(10, 3) == 3
    assert shard_count(2, 5) == 2  # never more shards than entries
    for bad in (0, -1, "three", True):
        with pytest.raises(ValueError):
            shard_count(10, bad)


def test_ranges_are_contiguous_balanced_and_keep_equal_keys_together() -> None:
    keys = sorted([*range(1, 31), 5, 5, 5, 6])  # line 5 starts a window too, three times over
    firsts = split_ranges(keys, 3)
    assert firsts[0] == 1 and len(firsts) == 3
    sizes = [sum(1 for k in keys if shard_of(k, firsts) == n) for n in range(3)]
    assert sum(sizes) == len(keys) and min(sizes) >= 9
    assert len({shard_of(k, firsts) for k in keys if k == 5}) == 1
    assert last_ids(firsts) == [firsts[1] - 1, firsts[2] - 1, None]
    assert shard_of(10**9, firsts) == 2  # new ids go to the last shard
    assert split_ranges([7, 7, 7], 3) == [1]  # one key cannot be cut
    assert split_ranges([], 4) == [1]


def _entry(number: int, last_id: int | None) -> ShardEntry:
    return ShardEntry(
        number=number,
        file=f"lexical-abcd-{number:03d}.npz",
        first_id=1 + 100 * number,
        last_id=last_id,
        index_type="flat",
        entries=100,
        max_id=100 * (number + 1),
        size_bytes=1000,
        sha256="0" * 64,
        build_seconds=0.5,
    )


def _manifest(shards: tuple[ShardEntry, ...]) -> Manifest:
    return Manifest(
        kind="lexical",
        format=2 if shards else 1,
        file="lexical.shards" if shards else "lexical.npz",
        size_bytes=2000,
        sha256="1" * 64,
        entries=200,
        database="sqlite:///x.db",
        schema_revision="0005",
        rows=200,
        max_row_id=200,
        change_id=3,
        built_at="2026-01-01T00:00:00+00:00",
        build_seconds=1.0,
        model_id=None,
        shards=shards,
    )


def test_a_one_file_manifest_is_written_as_before_and_a_sharded_one_round_trips() -> None:
    one_file = _manifest(())
    assert "shards" not in json.loads(one_file.to_json())
    assert Manifest.from_json(one_file.to_json()) == one_file
    sharded = _manifest((_entry(0, 100), _entry(1, None)))
    assert Manifest.from_json(sharded.to_json()) == sharded
    values = json.loads(sharded.to_json())
    values["shards"][1]["file"] = "../../etc/passwd"
    with pytest.raises(IndexFileError, match="not a plain name"):
        Manifest.from_json(json.dumps(values))
    values = json.loads(sharded.to_json())
    values["shards"].reverse()
    with pytest.raises(IndexFileError, match="numbered"):
        Manifest.from_json(json.dumps(values))
    values = json.loads(one_file.to_json())
    values["shards"] = []
    with pytest.raises(IndexFileError, match="unexpected or missing"):
        Manifest.from_json(json.dumps(values))
