"""Fan-out over index shards: the merged results are those of one index over every entry."""

from __future__ import annotations

import random

import numpy as np

from indexer.search.lexical import LexicalIndex
from indexer.search.semantic import SemanticIndex
from indexer.search.sharded import ShardedLexicalIndex, ShardedSemanticIndex
from indexer.search.shards import shard_of, split_ranges

LETTERS = "abcdefghilmnopqrstuvyz"


def _forms(count: int) -> list[tuple[int, str]]:
    rng = random.Random(5)
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 9))))
    return list(enumerate(sorted(found), start=1))


def test_flat_lexical_shards_find_what_one_flat_index_finds() -> None:
    forms = _forms(4000)  # more than the 1,000 candidates one search re-scores
    whole = LexicalIndex.build(forms)
    firsts = split_ranges([form_id for form_id, _ in forms], 3)
    parts = [[f for f in forms if shard_of(f[0], firsts) == n] for n in range(3)]
    sharded = ShardedLexicalIndex([LexicalIndex.build(part) for part in parts], firsts)
    assert len(sharded) == len(whole) and sharded.max_id == whole.max_id
    rng = random.Random(9)
    for _, form in rng.sample(forms, 40):
        word = form[:-1] + "x"
        assert sharded.search(word, k=20, min_similarity=0.5) == whole.search(
            word, k=20, min_similarity=0.5
        )
    sharded.add([(5000, "nuevaforma")])
    assert sharded.dirty == {2} and sharded.form(5000) == "nuevaforma"
    assert sharded.search("nuevaforma", k=1)[0].form_id == 5000


def test_flat_semantic_shards_give_the_ids_and_scores_of_one_flat_index() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    line_ids = np.arange(1, 1501, dtype=np.int64)
    ids = np.concatenate([line_ids, -line_ids])  # every line and a window starting there
    whole = SemanticIndex()
    whole.build_from_vectors(ids, [vectors])
    firsts = split_ranges(sorted(np.abs(ids).tolist()), 4)
    shards = []
    for number in range(4):
        inside = np.array([shard_of(abs(int(i)), firsts) == number for i in ids])
        shard = SemanticIndex()
        shard.build_from_vectors(ids[inside], [vectors[inside]])
        shards.append(shard)
    sharded = ShardedSemanticIndex(shards, firsts)
    assert len(sharded) == len(whole)
    for query in rng.standard_normal((20, 32)).astype(np.float32):
        vector = (query / np.linalg.norm(query))[None, :]
        assert sharded.search_vector(vector, k=25) == whole.search_vector(vector, k=25)
    sharded.remove([-1, 1500])  # a window in the first shard, a line in the last
    assert sharded.dirty == {0, 3}
    assert len(sharded) == len(whole) - 2
