"""Index shards: build time local vs Ray, and search latency fanned out over shards vs one index.

Three parts, each printed as a table:

1. **Lexical build**, the real code path of ``legajo reindex`` after the database read
   (`plan_jobs` cuts the forms into id ranges, a runner builds and writes each shard):
   ``--forms`` synthetic word forms (syllables, like a manuscript vocabulary) as one index
   (HNSW above 100,000 forms, today's rule) and as ``--shards`` shards built here one after
   another, and on a local Ray cluster (started by the runner, so its start-up counts) with
   1 and 2 workers.
2. **Semantic build with the real model** (``--real-passages`` passages of synthetic text,
   the packaged all-MiniLM-L6-v2): local vs Ray 1 and 2 workers, each worker loading the
   model once (its load counts).
3. **Search latency**, p50 and p95 over ``--queries`` queries: lexical (one-edit misreadings
   of stored forms, `search(k=50)`) and semantic with **stand-in vectors** (``--passages``
   random unit vectors of 384 dimensions, query vectors likewise; `search_vector(k=20)`, so
   no model time), one index vs the shards searched in the thread pool and merged.

    OMP_NUM_THREADS=1 .venv/bin/python bench/index_shards.py
    .venv/bin/python bench/index_shards.py --forms 50000 --passages 20000 --no-ray

Needs Ray for the Ray rows (``pip install 'legajo[ray]'``). On the development machine (2
cores shared with a training run) the timings are upper bounds and Ray has no spare core.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.search.index_manifests import ShardEntry  # noqa: E402
from indexer.search.lexical import LexicalIndex  # noqa: E402
from indexer.search.semantic import SemanticIndex  # noqa: E402
from indexer.search.shard_files import (  # noqa: E402
    ShardRunner,
    plan_jobs,
    run_locally,
    shard_file,
)
from indexer.search.sharded import ShardedLexicalIndex, ShardedSemanticIndex  # noqa: E402
from indexer.search.shards import index_type_for, split_ranges  # noqa: E402

SYLLABLES = [
    "ca", "sa", "do", "re", "mi", "fa", "so", "la", "ti", "pe", "ro", "ma", "nu", "el", "an",
    "yo", "qu", "es", "ta", "ri", "go", "ble", "tra", "vi", "der", "con", "mos", "al", "be",
    "ci", "de", "fi", "gue", "hi", "jo", "ni", "on", "pu", "que", "ra", "se", "te", "va", "xe",
    "za", "bra", "cre", "dri", "fla", "glo", "pla", "pri",
]  # fmt: skip
DIMENSION = 384


def forms(count: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))))
    words = sorted(found)
    rng.shuffle(words)
    return list(enumerate(words, start=1))


def passages(count: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    vocabulary = [text for _, text in forms(3000, seed + 1)]
    return [(i, " ".join(rng.choices(vocabulary, k=10))) for i in range(1, count + 1)]


def misread(word: str, rng: random.Random) -> str:
    position = rng.randrange(len(word))
    return word[:position] + rng.choice("aeioumnrs") + word[position + 1 :]


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def time_calls(queries: Sequence[object], call: Callable[[object], object]) -> tuple[float, float]:
    for query in queries[:5]:
        call(query)  # warm up
    samples = []
    for query in queries:
        started = time.perf_counter()
        call(query)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def build(
    folder: Path,
    kind: str,
    entries: list[tuple[int, str]],
    count: int,
    runner: ShardRunner,
    model_id: str | None = None,
) -> tuple[float, list[ShardEntry]]:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = plan_jobs(folder, kind, entries, count, model_id)
    built = runner(jobs, None)
    return time.perf_counter() - started, built


def load_lexical(folder: Path, built: list[ShardEntry]) -> LexicalIndex | ShardedLexicalIndex:
    shards = [LexicalIndex.load(shard_file(folder, "lexical", entry)) for entry in built]
    if len(shards) == 1:
        return shards[0]
    return ShardedLexicalIndex(shards, [entry.first_id for entry in built])


def ray_runners(workers: Sequence[int]) -> list[tuple[str, ShardRunner]]:
    from indexer.search.ray_shards import RayShardRunner
    from indexer.transfer.ray_engine import RayOptions

    return [
        (f"Ray, {w} worker{'s' * (w > 1)}", RayShardRunner(RayOptions(workers=w))) for w in workers
    ]


def lexical_part(args: argparse.Namespace, root: Path) -> None:
    entries = forms(args.forms, args.seed)
    print(f"\n## Lexical: {len(entries):,} word forms\n")
    print("| build | shards | index types | seconds |")
    print("| --- | ---: | --- | ---: |")
    runs: list[tuple[str, int, ShardRunner]] = [
        ("local, one index", 1, run_locally),
        ("local", args.shards, run_locally),
    ]
    if args.ray:
        runs += [(name, args.shards, runner) for name, runner in ray_runners(args.workers)]
    indexes: dict[str, LexicalIndex | ShardedLexicalIndex] = {}
    for number, (name, count, runner) in enumerate(runs):
        folder = root / f"lexical-{number}"
        seconds, built = build(folder, "lexical", entries, count, runner)
        types = ", ".join(sorted({entry.index_type for entry in built}))
        print(f"| {name} | {len(built)} | {types} | {seconds:.1f} |", flush=True)
        if runner is run_locally:
            label = "one index" if count == 1 else f"{count} shards, fan-out"
            indexes[f"{label} ({types})"] = load_lexical(folder, built)
    started = time.perf_counter()
    indexes["one index (flat, forced)"] = LexicalIndex.build(entries, exact_limit=len(entries))
    seconds = time.perf_counter() - started
    print(f"| local, one index, flat forced | 1 | flat | {seconds:.1f} |", flush=True)
    rng = random.Random(args.seed)
    sample = rng.sample(entries, args.queries)
    words = [misread(text, rng) for _, text in sample]
    print("\n| lexical search, k=50 | p50 ms | p95 ms | true form in top 10 |")
    print("| --- | ---: | ---: | ---: |")
    for label, index in indexes.items():
        p50, p95 = time_calls(words, lambda word, i=index: i.search(str(word), k=50))
        found = sum(
            form_id in {hit.form_id for hit in index.search(word, k=10)}
            for (form_id, _), word in zip(sample, words, strict=True)
        )
        recall = found / len(words)
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {recall:.1%} |", flush=True)


def semantic_real_part(args: argparse.Namespace, root: Path) -> None:
    from indexer.search.semantic import DEFAULT_MODEL_ID

    entries = passages(args.real_passages, args.seed)
    print(f"\n## Semantic build, real model ({DEFAULT_MODEL_ID}): {len(entries):,} passages\n")
    print("| build | shards | seconds | passages/s |")
    print("| --- | ---: | ---: | ---: |")
    SemanticIndex(DEFAULT_MODEL_ID).load_model()  # the driver's own load is not counted
    runs: list[tuple[str, ShardRunner]] = [("local", run_locally)]
    if args.ray:
        runs += ray_runners(args.workers)
    for number, (name, runner) in enumerate(runs):
        folder = root / f"semantic-{number}"
        seconds, built = build(folder, "semantic", entries, args.shards, runner, DEFAULT_MODEL_ID)
        rate = len(entries) / seconds
        print(f"| {name} | {len(built)} | {seconds:.1f} | {rate:.0f} |", flush=True)


def semantic_search_part(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)

    def unit(rows: int) -> np.ndarray:
        vectors = rng.standard_normal((rows, DIMENSION)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    vectors = unit(args.passages)
    ids = np.arange(1, args.passages + 1, dtype=np.int64)
    print(f"\n## Semantic search, stand-in vectors: {args.passages:,} x {DIMENSION}\n")
    print("| semantic search, k=20 | build s | p50 ms | p95 ms |")
    print("| --- | ---: | ---: | ---: |")
    queries = list(unit(args.queries))
    for count in (1, args.shards):
        started = time.perf_counter()
        firsts = split_ranges(ids.tolist(), count)
        bounds = [*firsts[1:], args.passages + 1]
        shards = []
        for first, stop in zip(firsts, bounds, strict=True):
            part = slice(first - 1, stop - 1)
            kind = index_type_for("semantic", stop - first)
            shard = SemanticIndex(ivf_threshold=1 if kind == "ivf" else stop - first + 1)
            shard.build_from_vectors(ids[part], [vectors[part]])
            shards.append(shard)
        seconds = time.perf_counter() - started
        index: SemanticIndex | ShardedSemanticIndex = (
            shards[0] if count == 1 else ShardedSemanticIndex(shards, firsts)
        )
        p50, p95 = time_calls(
            queries, lambda q, i=index: i.search_vector(np.asarray(q)[None, :], k=20)
        )
        label = "one index" if count == 1 else f"{count} shards, fan-out"
        label += f" ({kind})"
        print(f"| {label} | {seconds:.1f} | {p50:.1f} | {p95:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=200_000)
    parser.add_argument("--passages", type=int, default=50_000)
    parser.add_argument("--real-passages", type=int, default=2_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workers", default="1,2", help="Ray workers to try (default 1,2)")
    parser.add_argument("--no-ray", dest="ray", action="store_false")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",")]
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"# index shards: {os.cpu_count()} CPUs, OMP_NUM_THREADS={threads}")
    with tempfile.TemporaryDirectory(prefix="index-shards-") as temp:
        root = Path(temp)
        lexical_part(args, root)
        semantic_search_part(args)
        semantic_real_part(args, root)


if __name__ == "__main__":
    main()
