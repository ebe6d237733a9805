"""Search quality on the validation manuscripts: page-level mAP and recall@10 per search mode.

The pages of the validation manuscripts (``../shared/data/htromance-spain/data/bnf-esp-229``
and ``bnf-esp-368``) are indexed with a model (the default one unless ``--model``) using
their ground-truth line polygons (``--layout xml``), so that what is measured is recognition
and search, not segmentation. Query words are taken from the ground truth: every distinct
word key (`indexer.spelling.normalize.word_keys` without variants) of at least ``--min-length``
characters, up to ``--queries`` of them (a seeded sample when there are more). A page is
relevant for a query when its ground truth holds the word, compared with the spelling
variants folded (``--relevance variants``, the default: a reader looking for ``iglesia``
wants the pages that write ``yglesia``) or without (``--relevance plain``).

For each configuration every query retrieves all its hits; pages are ranked by the noisy-OR
of their hit lines' scores (`indexer.store.word_index.page_relevance`). Average precision counts
the relevant pages never retrieved as missed; recall@10 is the share of a query's relevant
pages among its first ten. Configurations:

- ``exact``: exact search on the 1-best text
- ``prob``: every n-best reading, by probability
- ``prob+variants``: auto without near misses
- ``auto``: prob + variants + near misses (fuzzy), the default mode

    .venv/bin/python bench/search_quality.py                       # both manuscripts
    .venv/bin/python bench/search_quality.py --pages 2 --queries 50  # a smoke run

Without ``../shared`` the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.search.service import SearchService, SearchSettings  # noqa: E402
from indexer.spelling.normalize import DEFAULT_SETTINGS, word_keys  # noqa: E402
from indexer.store.db import open_database  # noqa: E402
from indexer.store.repository import Repository  # noqa: E402
from indexer.store.word_index import FORM_SETTINGS, page_relevance, variant_key  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "htromance-spain" / "data"
MANUSCRIPTS = ("bnf-esp-229", "bnf-esp-368")
DEFAULT_MODEL = REPO / "data" / "models" / "legajo-default"


@dataclass(frozen=True)
class Configuration:
    """One column of the table: a mode and the service settings it runs with."""

    name: str
    mode: str
    variants: bool = True
    fuzzy: bool = True


CONFIGURATIONS = (
    Configuration("exact 1-best", "exact"),
    Configuration("prob", "prob"),
    Configuration("prob+variants", "auto", fuzzy=False),
    Configuration("auto (prob+variants+fuzzy)", "auto"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the manuscripts")
    parser.add_argument("--manuscripts", nargs="+", default=list(MANUSCRIPTS))
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint path or name")
    parser.add_argument("--pages", type=int, default=0, help="at most N pages (0: all)")
    parser.add_argument("--queries", type=int, default=300, help="at most N query words")
    parser.add_argument("--min-length", type=int, default=4, help="shortest query word")
    parser.add_argument("--relevance", choices=["variants", "plain"], default="variants")
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--n-best", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", help="reuse this database URL (indexing skips stored pages)")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="store the ground truth itself instead of recognising (checks the benchmark: "
        "every configuration should then reach a mAP near 1)",
    )
    args = parser.parse_args(argv)

    folders = [args.data / name for name in args.manuscripts]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"search_quality: skipped, no data at {', '.join(missing)}")
        return 0
    images = sorted(p for f in folders for p in f.glob("*.jpg") if p.with_suffix(".xml").is_file())
    if args.pages:
        images = images[: args.pages]
    if not images:
        print("search_quality: skipped, no page images with ground truth")
        return 0

    with tempfile.TemporaryDirectory(prefix="legajo-search-quality-") as work:
        url = args.db or f"sqlite:///{Path(work) / 'legajo.db'}"
        repository = Repository(open_database(url))
        try:
            started = time.perf_counter()
            if args.oracle:
                store_ground_truth(repository, images)
            else:
                index_pages(repository, images, args.model, args.beams, args.n_best)
            indexing_s = time.perf_counter() - started
            truth = ground_truth(images, variants=args.relevance == "variants")
            queries = pick_queries(images, args.queries, args.min_length, args.seed)
            print(
                f"{len(images)} pages ({', '.join(args.manuscripts)}), model {args.model}, "
                f"beams {args.beams}, n-best {args.n_best}, indexed in {indexing_s:.0f} s; "
                f"{len(queries)} query words of >= {args.min_length} characters; "
                f"relevance: ground truth holds the word ({args.relevance})"
            )
            variants = args.relevance == "variants"
            rows = [
                evaluate(repository, Path(work), c, queries, truth, variants=variants)
                for c in CONFIGURATIONS
            ]
        finally:
            repository.database.close()
    print_table(rows)
    return 0


def index_pages(
    repository: Repository, images: Sequence[Path], model: str, beams: int, n_best: int
) -> None:
    """Transcribes and stores the pages with their ground-truth line polygons."""
    from htr.pipeline import LayoutMode, PipelineSettings
    from htr.recognizer import RecognizerSettings, load_recognizer
    from indexer.transfer.ingest import IndexSettings, index_paths

    recognizer = load_recognizer(model, RecognizerSettings(beams=beams, n_best=n_best))
    settings = IndexSettings(collection="bench", pipeline=PipelineSettings(layout=LayoutMode.XML))
    report = index_paths(list(images), repository, recognizer, settings)
    if report.failures:
        for failure in report.failures:
            print(f"failed: {failure.path}: {failure.reason}", file=sys.stderr)


def store_ground_truth(repository: Repository, images: Sequence[Path]) -> None:
    """Stores each page's ground-truth lines as its only reading (``--oracle``)."""
    from htr.document import Page
    from htr.layout.files import read_layout_file
    from indexer.store.repository import ModelKey
    from indexer.transfer.ingest import hash_file

    collection = repository.ensure_collection("bench")
    for image in images:
        layout = read_layout_file(image.with_suffix(".xml"))
        source = hash_file(image.resolve())
        page = Page(source.path, 0, layout.width or 0, layout.height or 0, layout.lines)
        repository.store_page(collection, None, source, page, ModelKey("ground-truth"))


def _gt_lines(image: Path) -> list[str]:
    from htr.layout.files import read_layout_file

    return [line.text for line in read_layout_file(image.with_suffix(".xml")).lines]


def ground_truth(images: Sequence[Path], *, variants: bool) -> dict[str, set[str]]:
    """Page path -> the keys of its ground-truth words (variants folded or not)."""
    settings = DEFAULT_SETTINGS if variants else FORM_SETTINGS
    return {
        str(image.resolve()): {
            key for text in _gt_lines(image) for key in word_keys(text, settings)
        }
        for image in images
    }


def pick_queries(images: Sequence[Path], count: int, min_length: int, seed: int) -> list[str]:
    """Distinct ground-truth word keys (no variants) of at least `min_length` characters."""
    words = sorted(
        {
            key
            for image in images
            for text in _gt_lines(image)
            for key in word_keys(text, FORM_SETTINGS)
            if len(key) >= min_length
        }
    )
    if len(words) > count:
        words = sorted(random.Random(seed).sample(words, count))
    return words


@dataclass(frozen=True)
class Row:
    """The scores of one configuration."""

    name: str
    mean_ap: float
    recall_at_10: float
    mean_ms: float


def evaluate(
    repository: Repository,
    home: Path,
    configuration: Configuration,
    queries: Sequence[str],
    truth: dict[str, set[str]],
    *,
    variants: bool,
) -> Row:
    """Mean average precision and recall@10 of one configuration over the queries."""
    settings = SearchSettings(auto_variants=configuration.variants, auto_fuzzy=configuration.fuzzy)
    service = SearchService(repository, home, settings)
    precisions, recalls, elapsed = [], [], []
    for query in queries:
        key = variant_key(query) if variants else query
        relevant = {page for page, keys in truth.items() if key in keys}
        if not relevant:
            continue
        result = service.search(query, mode=configuration.mode, limit=100_000, timeout_s=60)
        elapsed.append(result.elapsed_s)
        lines: dict[str, list[float]] = {}
        for hit in result.hits:
            lines.setdefault(str(Path(hit.page).resolve()), []).append(hit.score)
        ranking = sorted(lines, key=lambda page: (-page_relevance(lines[page]), page))
        precisions.append(average_precision(ranking, relevant))
        recalls.append(len(set(ranking[:10]) & relevant) / len(relevant))
    count = max(1, len(precisions))
    return Row(
        configuration.name,
        sum(precisions) / count,
        sum(recalls) / count,
        1000 * sum(elapsed) / max(1, len(elapsed)),
    )


def average_precision(ranking: Sequence[str], relevant: set[str]) -> float:
    """Average precision of a ranking; relevant items never retrieved count as misses."""
    found, total = 0, 0.0
    for rank, item in enumerate(ranking, start=1):
        if item in relevant:
            found += 1
            total += found / rank
    return total / len(relevant) if relevant else 0.0


def print_table(rows: Sequence[Row]) -> None:
    """Prints the configurations as a plain-text table."""
    width = max(len(row.name) for row in rows)
    print(f"{'configuration'.ljust(width)}  {'mAP':>6}  {'R@10':>6}  {'ms/query':>8}")
    for row in rows:
        print(
            f"{row.name.ljust(width)}  {row.mean_ap:6.3f}  {row.recall_at_10:6.3f}  "
            f"{row.mean_ms:8.1f}"
        )
    base = rows[0].mean_ap
    print(f"auto - exact 1-best: {rows[-1].mean_ap - base:+.3f} mAP (target: >= +0.10)")


if __name__ == "__main__":
    sys.exit(main())
