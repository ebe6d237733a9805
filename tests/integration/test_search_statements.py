"""How many SQL statements a search sends, on SQLite and PostgreSQL.

A fuzzy or auto word accepts dozens of forms (near misses, spelling variants). The matcher
asks for all of them at once (`SearchReader.best_lines_of`, one count per word), so on
PostgreSQL a search costs a few statements however many forms its words accept: there each
statement is a round trip (two, with the statement timeout), and one per form made frequent
fuzzy words slower than the reads themselves. The same searches are
checked against `Matcher.score`, which reads every matching row, with spelling variants
switched off in one collection (the forms then read their lines in two sets).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from htr.document import Alternative, Line, Page, Word
from indexer.search.matching import Matcher
from indexer.search.planning import plan_of
from indexer.search.service import SearchService
from indexer.store.db import open_database
from indexer.store.repository import Repository, SourceFile
from tests.integration import test_postgres as backends
from tests.integration.test_search import MODEL

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

COMMON = ["de", "la", "el", "en", "que", "carta", "villa", "senor"]
WORDS = ["escrivano", "testigos"]
MISREADS = 30
"""Near misses of each of `WORDS` written into the collection."""
PAGES = 6
LINES_PER_PAGE = 20
ONE_WORD_STATEMENTS = 10
"""Most statements of a one-word search: forms, variants, collections, the forms' best lines,
the count, the hits' lines, words and readings, and the lexical index's freshness check."""
TWO_WORD_STATEMENTS = 20
"""Most statements of a search for two such words (the threshold algorithm's rounds, each
one read of every stream and one of the lines met, stop after one or two here)."""


def _misreads(word: str, rng: random.Random) -> list[str]:
    forms: set[str] = set()
    while len(forms) < MISREADS:
        at = rng.randrange(len(word))
        forms.add(word[:at] + rng.choice("abcdefilmnorstuv") + word[at + 1 :])
    forms.discard(word)
    return sorted(forms)


def _line(rng: random.Random, page: int, number: int, misread: dict[str, list[str]]) -> Line:
    words = rng.choices(COMMON, k=rng.randint(3, 6))
    for word in WORDS:
        if rng.random() < 0.6:
            words.insert(rng.randrange(len(words) + 1), word)
    # Each word's near misses, and a spelling variant ("v" for "u"), in other readings.
    readings = [list(words)]
    for word in WORDS:
        other = list(words)
        other.insert(rng.randrange(len(other) + 1), rng.choice(misread[word]))
        readings.append(other)
    readings.append([w.replace("v", "u") for w in words])
    probabilities = [0.6, 0.2, 0.1, 0.1]
    y = 60 * number
    return Line(
        id=f"p{page}l{number}",
        bbox=(0, y, 400, y + 40),
        polygon=((0, y), (400, y), (400, y + 40), (0, y + 40)),
        text=" ".join(words),
        confidence=rng.choice((0.4, 0.8)),
        words=tuple(
            Word(w, rng.choice((0.5, 0.9, 1.0)), (50 * i, y, 50 * i + 40, y + 40))
            for i, w in enumerate(words)
        ),
        alternatives=tuple(
            Alternative(" ".join(r), p) for r, p in zip(readings, probabilities, strict=True)
        ),
    )


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[SearchService]:
    database = open_database(database_url)
    repository = Repository(database)
    rng = random.Random(11)
    misread = {word: _misreads(word, rng) for word in WORDS}
    for page in range(PAGES):
        collection_id = repository.ensure_collection("a" if page % 2 else "b")
        source = SourceFile(f"/archive/s{page}.jpg", f"{page:064x}", 100)
        lines = tuple(_line(rng, page, n, misread) for n in range(LINES_PER_PAGE))
        image = Page(image=source.path, frame=0, width=400, height=1600, lines=lines)
        repository.store_page(collection_id, None, source, image, MODEL, replace=True)
    yield SearchService(repository, tmp_path / "home")
    database.close()


def _statements(service: SearchService, query: str, mode: str) -> list[str]:
    """The queries one search sends (not the reader's statement timeouts, not BEGIN)."""
    engine = service._repository.database.engine
    sent: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and (
            "set_config" not in statement
        ):
            sent.append(statement)

    service.search(query, mode=mode)  # builds the lexical index first
    event.listen(engine, "before_cursor_execute", note)
    try:
        service.search(query, mode=mode)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return sent


def _forms(service: SearchService, word: str, mode: str) -> int:
    lexical = service._fresh_lexical()
    with service._repository.search_reader(10.0) as reader:
        matcher = Matcher(reader, mode, service.settings, lexical)
        return len(matcher._accepted(word, prefix=False, fuzzy=True))


@pytest.mark.parametrize("mode", ["fuzzy", "auto"])
def test_a_word_of_many_forms_takes_a_few_statements(service: SearchService, mode: str) -> None:
    """On PostgreSQL a few statements, however many forms; SQLite, in process, reads each
    form's best lines in a statement of its own (`SearchReader.best_lines_of`), and nothing
    else per form."""
    per_form = 0 if service._repository.database.url.startswith("postgresql") else 1
    forms = {word: _forms(service, word, mode) for word in WORDS}
    for word in WORDS:
        assert forms[word] >= 20, word  # else this test proves nothing
        sent = _statements(service, word, mode)
        assert len(sent) <= ONE_WORD_STATEMENTS + per_form * forms[word], (word, len(sent), sent)
    pair = " ".join(WORDS)
    sent = _statements(service, pair, mode)
    bound = TWO_WORD_STATEMENTS + per_form * 2 * sum(forms.values())  # a round or two
    assert len(sent) <= bound, (pair, len(sent), sent)


@pytest.mark.parametrize("variants_off", [False, True], ids=["variants", "variants-off"])
@pytest.mark.parametrize("mode", ["exact", "prob", "fuzzy", "auto"])
def test_bounded_searches_equal_full_scoring(
    service: SearchService, mode: str, variants_off: bool
) -> None:
    """`Matcher.best` / `top` against `Matcher.score`, with and without a collection's
    variants switched off (auto then reads variant forms without that collection)."""
    repository = service._repository
    if variants_off:
        repository.set_collection_variants("b", False)
    lexical = service._fresh_lexical()
    queries = [*WORDS, " ".join(WORDS), f"{WORDS[0]} -{WORDS[1]}", f"{WORDS[1]} OR carta"]
    for query in queries:
        for collection in (None, "a"):
            plan = plan_of(query)
            with repository.search_reader(10.0) as reader:
                cid = None if collection is None else reader.collection_id(collection)
                matcher = Matcher(reader, mode, service.settings, lexical)
                bounded = matcher.best(plan, cid, None, 7) or matcher.top(plan, cid, None, 7)
                every = Matcher(reader, mode, service.settings, lexical).score(plan, cid, None)
            if bounded is None:  # variants off: `score` serves several words
                continue
            scores, total = bounded
            ranked = sorted(every.items(), key=lambda item: (-item[1], item[0]))
            found = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
            assert found == ranked[:7], (query, collection)
            assert total == len(every), (query, collection)
