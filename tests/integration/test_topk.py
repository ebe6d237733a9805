"""Top-k of queries of several words (`indexer.search.topk`) against scoring every matching line.

The collection is made for ties: a small vocabulary, word confidences from three values,
n-best readings that mostly agree (so many lines hold a word with probability exactly 1). A
query's best lines found by the threshold algorithm must be exactly the first lines of the
full ranking, scores and order included, in every word mode, with ORs, exclusions, prefixes,
filters and paging.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from htr.document import Alternative, Line, Page, Word
from indexer.search import matching, topk
from indexer.search.matching import Matcher
from indexer.search.planning import plan_of
from indexer.search.service import SearchService
from indexer.store import search_reader
from indexer.store.db import open_database
from indexer.store.repository import Repository, SourceFile
from tests.integration import test_postgres as backends
from tests.integration.test_search import MODEL

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

VOCABULARY = [
    "que",
    "de",
    "la",
    "el",
    "en",
    "dios",
    "rey",
    "carta",
    "merced",
    "senor",
    "dicho",
    "villa",
    "vezino",
    "yglesia",
    "alcalde",
    "escrivano",
    "testigos",
    "sevilla",
    "navio",
    "plata",
    "oro",
    "pesos",
    "toledo",
    "maria",
]
PAGES = 12
LINES_PER_PAGE = 30
QUERIES = 24


STRATEGIES = ["intersect", "walk", "threshold"]


def _use(strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes several-word searches take one way (`indexer.search.topk.best_lines`).

    "intersect" and "walk": the lines holding every word are found by intersecting the
    words' line sets, or by walking the rarest word's rows, and all scored. "threshold":
    the threshold algorithm, with batches far smaller than the lines per word, so that
    reading stops early; totals are then counted by walking.
    """
    monkeypatch.setattr(topk, "FIRST_BATCH", 1)
    monkeypatch.setattr(topk, "MAX_BATCH", 8)
    if strategy == "walk":
        monkeypatch.setattr(search_reader, "_INTERSECT_ROWS", 0)
    elif strategy == "threshold":
        monkeypatch.setattr(topk, "CANDIDATE_LINES", 0)


def _line(rng: random.Random, page: int, number: int) -> Line:
    truth = rng.choices(VOCABULARY, weights=range(len(VOCABULARY), 0, -1), k=rng.randint(4, 9))
    readings = [list(truth)]
    for _ in range(rng.choice((0, 1, 2))):
        other = list(truth)
        position = rng.randrange(len(other))
        other[position] = rng.choice(VOCABULARY)
        readings.append(other)
    probabilities = [0.7, 0.2, 0.1][: len(readings)]
    total = sum(probabilities)
    y = 60 * number
    words = tuple(
        Word(word, rng.choice((0.5, 0.9, 1.0)), (50 * i, y, 50 * i + 40, y + 40))
        for i, word in enumerate(readings[0])
    )
    return Line(
        id=f"p{page}l{number}",
        bbox=(0, y, 400, y + 40),
        polygon=((0, y), (400, y), (400, y + 40), (0, y + 40)),
        text=" ".join(readings[0]),
        confidence=rng.choice((0.4, 0.8)),
        words=words,
        alternatives=tuple(
            Alternative(" ".join(r), p / total)
            for r, p in zip(readings, probabilities, strict=True)
        ),
    )


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[SearchService]:
    database = open_database(database_url)
    repository = Repository(database)
    rng = random.Random(7)
    for page in range(PAGES):
        collection_id = repository.ensure_collection("a" if page % 3 else "b")
        source = SourceFile(f"/archive/f{page}.jpg", f"{page:064x}", 100)
        lines = tuple(_line(rng, page, n) for n in range(LINES_PER_PAGE))
        image = Page(image=source.path, frame=0, width=400, height=1600, lines=lines)
        repository.store_page(collection_id, None, source, image, MODEL, replace=True)
    yield SearchService(repository, tmp_path / "home")
    database.close()


def _queries(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(QUERIES):
        words = rng.sample(VOCABULARY[:12], rng.choice((2, 2, 3)))
        shape = rng.randrange(5)
        if shape == 1:
            words[1] = f"{words[0]} OR {words[1]}"
        elif shape == 2:
            words[-1] = "-" + words[-1]
        elif shape == 3:
            words[0] = words[0][:3] + "*"
        elif shape == 4:
            words[0] = words[0][:-1] + "x"  # a near miss, for fuzzy and auto
        yield " ".join(words)


def _seed(mode: str) -> int:
    return sum(map(ord, mode))


def _ranking(service: SearchService, query: str, mode: str, **options: object) -> list:
    result = service.search(query, mode=mode, **options)  # type: ignore[arg-type]
    return [(hit.line_id, hit.score) for hit in result.hits]


@pytest.mark.parametrize("mode", ["exact", "prob", "fuzzy", "auto"])
def test_the_best_lines_are_the_head_of_the_full_ranking(
    service: SearchService, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use("threshold", monkeypatch)
    compared = 0
    for query in _queries(_seed(mode)):
        full = _ranking(service, query, mode, limit=PAGES * LINES_PER_PAGE)
        for limit in (1, 5, 20):
            assert _ranking(service, query, mode, limit=limit) == full[:limit], (query, limit)
        assert _ranking(service, query, mode, limit=5, offset=5) == full[5:10], query
        compared += len(full) > 20
    assert compared >= QUERIES // 4  # enough queries with more lines than shown


@pytest.mark.parametrize("strategy", ["intersect", "threshold"])
@pytest.mark.parametrize("mode", ["exact", "prob", "auto"])
def test_filters_keep_the_head_of_the_filtered_ranking(
    service: SearchService, mode: str, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(strategy, monkeypatch)
    for query in ("que de", "dios -rey", "carta OR merced senor"):
        for options in ({"collection": "b"}, {"min_confidence": 0.6}):
            result = service.search(query, mode=mode, limit=PAGES * LINES_PER_PAGE, **options)
            full = [(hit.line_id, hit.score) for hit in result.hits]
            assert result.total == len(full), (query, options)
            assert _ranking(service, query, mode, limit=3, **options) == full[:3], (query, options)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("mode", ["exact", "prob", "fuzzy", "auto"])
def test_top_lines_equal_the_scores_of_every_matching_line(
    service: SearchService, mode: str, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each way against `Matcher.score`, which reads every matching row."""
    _use(strategy, monkeypatch)
    repository = service._repository
    lexical = service._fresh_lexical()
    for query in _queries(_seed(mode) + 1):
        plan = plan_of(query)
        with repository.search_reader(10.0) as reader:
            top = Matcher(reader, mode, service.settings, lexical).top(plan, None, None, 10)
            every = Matcher(reader, mode, service.settings, lexical).score(plan, None, None)
        assert top is not None, query
        scores, total = top
        ranked = sorted(every.items(), key=lambda item: (-item[1], item[0]))
        assert sorted(scores.items(), key=lambda item: (-item[1], item[0])) == ranked[:10], query
        assert total == len(every), query


def _phrases(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(QUERIES):
        words = rng.sample(VOCABULARY[:10], rng.choice((2, 2, 3)))
        if rng.random() < 0.3:
            words[0] = words[0][:-1] + "x"  # a near miss, for fuzzy and auto
        yield '"' + " ".join(words) + '"'


@pytest.mark.parametrize("early", [False, True], ids=["all", "early"])
@pytest.mark.parametrize("mode", ["exact", "prob", "fuzzy", "auto"])
def test_a_phrase_scores_its_best_lines_first(
    service: SearchService, mode: str, early: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone phrase, scored best bound first, against `Matcher.score` (every line).

    "early": small batches and no counting beyond the best lines, so that scoring stops
    as soon as no line left can beat them (the total is then a count so far).
    """
    if early:
        monkeypatch.setattr(matching, "_PHRASE_BATCH", 3)
        monkeypatch.setattr(matching, "_PHRASE_COUNT_LINES", 0)
    repository = service._repository
    lexical = service._fresh_lexical()
    stopped_early = 0
    for query in _phrases(_seed(mode) + 2):
        plan = plan_of(query)
        with repository.search_reader(10.0) as reader:
            found = Matcher(reader, mode, service.settings, lexical).phrase(plan, None, None, 5)
            every = Matcher(reader, mode, service.settings, lexical).score(plan, None, None)
        assert found is not None, query
        scores, total = found
        ranked = sorted(every.items(), key=lambda item: (-item[1], item[0]))
        assert sorted(scores.items(), key=lambda item: (-item[1], item[0])) == ranked[:5], query
        if early:
            assert len(scores) <= total <= len(every), query
            stopped_early += total < len(every)
        else:
            assert total == len(every), query
    assert stopped_early or not early
