"""`SearchService` and `legajo search` on real databases (SQLite and PostgreSQL).

Pages are stored with hand-made n-best readings, so every score can be worked out by hand
from `indexer.store.word_index` and the formula in `indexer.search.service`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import text

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from indexer.errors import SearchTimeoutError, UnknownCollectionError
from indexer.search.service import Hit, QuerySyntaxError, SearchService, SearchSettings
from indexer.store.db import open_database
from indexer.store.repository import ModelKey, Repository, SourceFile, StoreOutcome
from legajo.cli.main import build_parser, run_command_line
from tests.integration import test_postgres as backends

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

STEP = ProcessingStep("recognition", "legajo 0.1.0", model_id="m", model_revision="r1")
MODEL = ModelKey.of(STEP)


def make_line(number: int, readings: Sequence[tuple[str, float]], confidence: float = 0.8) -> Line:
    """A line whose best reading is the first one, one word box per word, 50 px apart."""
    best = readings[0][0]
    y = 60 * number
    words = tuple(
        Word(word, confidence, (50 * i, y, 50 * i + 40, y + 40))
        for i, word in enumerate(best.split())
    )
    return Line(
        id=f"l{number}",
        bbox=(0, y, 50 * max(1, len(words)), y + 40),
        polygon=((0, y), (400, y), (400, y + 40), (0, y + 40)),
        text=best,
        confidence=confidence,
        words=words,
        alternatives=tuple(Alternative(t, p) for t, p in readings),
    )


PAGE_A = (
    make_line(0, [("en el nonbre de dios", 0.6), ("en el nombre de dios", 0.4)]),
    make_line(1, [("sepan quantos esta carta vieren", 0.9), ("sepan quantos esta carta", 0.1)]),
    make_line(2, [("yglesia de santa maria", 1.0)], confidence=0.3),
)
PAGE_B = (
    make_line(0, [("qve dios nos guarde", 0.7), ("que dios nos guarde", 0.3)]),
    make_line(1, [("vn omne bueno", 1.0)]),
    make_line(2, [("en el lugar de toledo", 1.0)]),
)


def store(repository: Repository, name: str, lines: Sequence[Line], collection: str = "c") -> int:
    collection_id = repository.ensure_collection(collection)
    source = SourceFile(f"/archive/{name}.jpg", name.ljust(64, "0"), 100)
    page = Page(image=source.path, frame=0, width=400, height=400, lines=tuple(lines))
    outcome = repository.store_page(collection_id, None, source, page, MODEL, replace=True)
    assert outcome in (StoreOutcome.STORED, StoreOutcome.REPLACED)
    return next(p.id for p in repository.pages() if p.source_path == source.path)


@pytest.fixture
def repository(database_url: str) -> Iterator[Repository]:
    database = open_database(database_url)
    yield Repository(database)
    database.close()


@pytest.fixture
def service(repository: Repository, tmp_path: Path) -> SearchService:
    store(repository, "a", PAGE_A)
    store(repository, "b", PAGE_B)
    return SearchService(repository, tmp_path / "home")


def found(service: SearchService, query: str, mode: str = "auto", **options: object) -> dict:
    """(page name, line position) -> score."""
    result = service.search(query, mode=mode, limit=100, **options)  # type: ignore[arg-type]
    return {_where(service, hit): round(hit.score, 6) for hit in result.hits}


def _where(service: SearchService, hit: Hit) -> tuple[str, int]:
    lines = service._repository.lines(hit.page_id)
    position = next(i for i, line in enumerate(lines) if line.id == hit.line_id)
    return Path(hit.page).stem, position


def test_exact_searches_the_best_reading_and_prob_every_reading(service: SearchService) -> None:
    assert found(service, "nombre", "exact") == {}
    assert found(service, "nombre", "prob") == {("a", 0): 0.4}
    assert found(service, "nonbre", "exact") == {("a", 0): 0.8}
    assert found(service, "nonbre", "prob") == {("a", 0): 0.6}
    assert found(service, "dios", "prob") == {("a", 0): 1.0, ("b", 0): 1.0}
    assert found(service, "Dios", "exact") == {("a", 0): 0.8, ("b", 0): 0.8}


def test_auto_finds_spelling_variants_and_near_misses(service: SearchService) -> None:
    assert found(service, "un", "prob") == {}
    assert found(service, "un", "auto") == {("b", 1): 0.9}
    assert ("a", 2) in found(service, "iglesia", "auto")
    assert found(service, "iglesia", "exact") == {}
    fuzzy = found(service, "guarda", "fuzzy")
    assert set(fuzzy) == {("b", 0)}
    assert fuzzy[("b", 0)] == pytest.approx(1 - 1 / 6, abs=1e-6)
    assert found(service, "guarda", "auto")[("b", 0)] == pytest.approx(0.8 * (1 - 1 / 6), abs=1e-6)
    assert found(service, "guarda", "prob") == {}


def test_variants_can_be_switched_off_per_collection(
    service: SearchService, repository: Repository
) -> None:
    assert repository.collection_variants("c") is True
    repository.set_collection_variants("c", False)
    assert found(service, "un", "auto") == {}
    with pytest.raises(UnknownCollectionError):
        repository.set_collection_variants("nowhere", True)


def test_phrases_need_consecutive_words(service: SearchService) -> None:
    assert found(service, '"nombre de dios"', "prob") == {("a", 0): 0.4}
    assert found(service, '"nombre de dios"', "exact") == {}
    assert found(service, '"de dios"', "exact") == {("a", 0): pytest.approx(0.64)}
    assert found(service, '"nonbre dios"', "prob") == {}
    assert found(service, '"carta vieren"', "prob") == {("a", 1): 0.9}


def test_or_exclusion_and_prefix(service: SearchService) -> None:
    assert set(found(service, "carta OR toledo", "prob")) == {("a", 1), ("b", 2)}
    assert found(service, "dios -guarde", "prob") == {("a", 0): 1.0}
    assert found(service, "dios -guarde", "exact") == {("a", 0): 0.8}
    assert found(service, "nonbre -nombre", "prob") == {("a", 0): pytest.approx(0.36)}
    assert set(found(service, "quant*", "prob")) == {("a", 1)}
    assert set(found(service, "en el", "prob")) == {("a", 0), ("b", 2)}
    assert found(service, "vier*", "exact") == {("a", 1): 0.8}


def test_correction_is_found_by_the_next_query(
    service: SearchService, repository: Repository
) -> None:
    assert found(service, "mucho", "exact") == {}
    assert found(service, "muchos", "fuzzy") == {}  # the lexical index is built now
    page_b = next(p.id for p in repository.pages() if p.source_path.endswith("b.jpg"))
    line = repository.lines(page_b)[0]
    repository.correct_line(line.id, "que Dios nos guarde mucho", "archivist", line.version)
    assert found(service, "mucho", "exact") == {("b", 0): 1.0}
    assert found(service, "muchos", "fuzzy") == {("b", 0): pytest.approx(1 - 1 / 6, abs=1e-6)}
    assert found(service, "qve", "prob") == {}
    assert found(service, "que", "exact") == {("b", 0): 1.0}
    hit = service.search("mucho", mode="exact").hits[0]
    assert [w.text for w in hit.words] == ["mucho"]
    assert hit.words[0].confidence == 1.0 and hit.words[0].bbox is not None


def test_hits_carry_the_json_shape_and_matched_words(service: SearchService) -> None:
    result = service.search("nombre", mode="prob")
    assert result.total == 1 and result.mode == "prob" and result.elapsed_s >= 0
    data = result.hits[0].to_json()
    assert set(data) == {"page", "frame", "page_id", "line_id", "text", "score", "bbox", "words"}
    assert data["page"] == "/archive/a.jpg" and data["frame"] == 0
    assert data["text"] == "en el nonbre de dios"
    assert data["bbox"] == [0, 0, 250, 40]
    # "nombre" is only in the second reading, which has as many words as the first: box of word 3
    assert data["words"] == [{"text": "nombre", "bbox": [100, 0, 140, 40], "confidence": 0.4}]
    exact = service.search("dios", mode="exact").hits[0].to_json()["words"]
    assert exact == [{"text": "dios", "bbox": [200, 0, 240, 40], "confidence": 0.8}]


def test_limit_offset_collection_and_min_confidence(
    service: SearchService, repository: Repository
) -> None:
    store(repository, "other", [make_line(0, [("dios", 1.0)])], collection="otra")
    everything = service.search("de", mode="prob", limit=100)
    assert everything.total == 3
    page = service.search("de", mode="prob", limit=2, offset=1)
    assert [h.line_id for h in page.hits] == [h.line_id for h in everything.hits[1:3]]
    assert {Path(h.page).stem for h in service.search("dios", collection="otra").hits} == {"other"}
    assert len(service.search("dios", mode="prob").hits) == 3
    with pytest.raises(UnknownCollectionError):
        service.search("dios", collection="nowhere")
    assert ("a", 2) not in found(service, "de", "prob", min_confidence=0.5)
    assert ("a", 2) in found(service, "de", "prob", min_confidence=0.3)
    page_a = next(p.id for p in repository.pages() if p.source_path.endswith("a.jpg"))
    line = repository.lines(page_a)[2]
    repository.correct_line(line.id, "yglesia de santa maria", "archivist", line.version)
    assert ("a", 2) in found(service, "de", "prob", min_confidence=0.5)


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE lines; --",
        '" OR 1=1 --',
        "dios'); DELETE FROM line_words; --",
        "%",
        "_*",
        "%*",
        "\\*",
        "Robert'); DROP TABLE word_forms;--*",
    ],
)
def test_sql_looking_queries_are_only_text(
    service: SearchService, repository: Repository, query: str
) -> None:
    before = repository.search_counts(), repository.table_counts()
    for mode in ("auto", "exact", "prob", "fuzzy"):
        try:
            result = service.search(query, mode=mode)
        except QuerySyntaxError:
            continue
        assert all(hit.score > 0 for hit in result.hits)
        assert len(result.hits) <= 1  # nothing matches everything
    assert (repository.search_counts(), repository.table_counts()) == before


def test_like_wildcards_in_prefixes_match_only_themselves(
    service: SearchService, repository: Repository
) -> None:
    with repository.search_reader(5.0) as reader:
        assert reader.prefix_forms("%") == []
        assert reader.prefix_forms("_") == []
        assert reader.prefix_forms("\\") == []
        assert [form for _, form in reader.prefix_forms("sant")] == ["santa"]


def test_every_search_has_a_time_limit(service: SearchService, repository: Repository) -> None:
    with pytest.raises(SearchTimeoutError):
        service.search("dios", timeout_s=0)
    endless = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    with pytest.raises(SearchTimeoutError), repository.search_reader(0.3) as reader:
        reader._rows(endless)  # the deadline guard itself
    assert found(service, "dios", "prob")  # the connection is usable again


def test_bad_arguments(service: SearchService) -> None:
    with pytest.raises(ValueError, match="mode"):
        service.search("dios", mode="magic")
    with pytest.raises(QuerySyntaxError):
        service.search('"unclosed')
    with pytest.raises(QuerySyntaxError):
        service.search("-dios")


def test_prepare_loads_the_index_a_mode_needs_once(
    service: SearchService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="indexer.search.service")
    with pytest.raises(ValueError, match="mode"):
        service.prepare("magic")
    service.prepare("exact")  # the database is all an exact search needs
    assert "lexical index" not in caplog.text
    service.prepare()  # auto looks for near misses: the lexical index
    assert caplog.text.count("building the lexical index in memory") == 1
    assert found(service, "dios")
    assert caplog.text.count("building the lexical index in memory") == 1  # not again


def test_the_first_search_gives_an_older_sqlite_database_planner_statistics(
    service: SearchService, repository: Repository
) -> None:
    database = repository.database
    if database.dialect != "sqlite":
        assert database.has_statistics()  # PostgreSQL's autovacuum keeps them
        database.refresh_statistics()  # after a bulk load: ANALYZE, not autovacuum's next round
        with database.read() as session:
            analyzed = session.execute(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'line_words'")
            ).scalar()
        assert analyzed is not None
        return
    assert not database.has_statistics()  # stored line by line, as before indexing made them
    assert found(service, "dios")
    assert database.has_statistics()
    with database.read() as session:
        tables = {row[0] for row in session.execute(text("SELECT tbl FROM sqlite_stat1"))}
    assert {"line_words", "lines", "pages"} <= tables


def test_change_feed_follows_stores_replacements_and_corrections(repository: Repository) -> None:
    assert repository.last_change_id() == 0
    page = store(repository, "a", PAGE_A)
    first = [line.id for line in repository.lines(page)]
    changes = repository.changes_since(0)
    assert [(line, kind) for _, line, kind in changes] == [(i, "upsert") for i in first]
    watermark = repository.last_change_id()
    store(repository, "a", PAGE_A[:2])  # --force: lines replaced
    second = [line.id for line in repository.lines(page)]
    kinds = [(line, kind) for _, line, kind in repository.changes_since(watermark)]
    assert kinds == [(i, "delete") for i in first] + [(i, "upsert") for i in second]
    assert [row[0] for row in repository.line_texts(after_change=watermark)] == second
    watermark = repository.last_change_id()
    repository.correct_line(second[1], "sepan todos", "e", 1)
    assert [(row[0], row[3]) for row in repository.line_texts(watermark)] == [
        (second[1], "sepan todos")
    ]
    assert [row[0] for row in repository.line_texts()] == second
    forms = dict(repository.word_forms())
    assert {"todos", "sepan", "nonbre", "nombre"} <= set(forms.values())
    assert repository.max_form_id() == max(forms)
    assert list(repository.word_forms(after_id=repository.max_form_id())) == []


def test_search_cli_prints_json_and_a_table(
    service: SearchService, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    base = ["--db", database_url, "--home", str(tmp_path / "home")]
    code = run_command_line(parser, ["search", "nombre", "--mode", "prob", "--json", *base])
    out, _ = capsys.readouterr()
    assert code == 0
    hits = json.loads(out)
    assert [(h["page"], h["text"], h["score"]) for h in hits] == [
        ("/archive/a.jpg", "en el nonbre de dios", pytest.approx(0.4))
    ]
    code = run_command_line(parser, ["search", "dios", *base])
    out, err = capsys.readouterr()
    assert code == 0 and "/archive/b.jpg" in out and "2 of 2 hits" in err
    code = run_command_line(parser, ["search", 'dios "unclosed', *base])
    _, err = capsys.readouterr()
    assert code == 2 and "legajo: error: malformed query: unbalanced quote" in err
    assert 'dios "unclosed\n     ^' in err
    code = run_command_line(parser, ["search", "dios", "--collection", "nowhere", *base])
    assert code == 2
    assert run_command_line(parser, ["search", "nada", "--json", *base]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_migration_indexes_lines_stored_before_it(database_url: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from indexer.store.db import migrations_folder

    database = open_database(database_url)
    repository = Repository(database)
    page = store(repository, "a", PAGE_A)
    line = repository.lines(page)[1]
    repository.correct_line(line.id, "sepan todos", "e", line.version)
    before = repository.search_counts()
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    after = repository.search_counts()
    assert 0 < after["word_forms"] < before["word_forms"]  # forms of replaced readings are gone
    assert after["line_words"] == before["line_words"] > 0
    service = SearchService(repository, tmp_path / "home", SearchSettings(auto_fuzzy=False))
    assert service.search("nombre", mode="prob").hits[0].score == pytest.approx(0.4)
    assert service.search("todos", mode="exact").hits[0].score == 1.0
    assert service.search("quantos", mode="prob").hits == ()
    assert repository.table_counts()["lines"] == 3
    database.close()


@pytest.mark.slow  # loads the sentence model
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_index_files_are_used_and_kept_fresh_by_corrections(
    repository: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from indexer.search.index_files import LEXICAL, SEMANTIC, rebuild

    store(repository, "a", PAGE_A)
    store(repository, "b", PAGE_B)
    home = tmp_path / "home"
    rebuild(repository, home, LEXICAL)
    rebuild(repository, home, SEMANTIC)
    service = SearchService(repository, home)
    caplog.set_level("INFO", logger="indexer.search.service")
    semantic = service.search("yglesia de santa maria", mode="semantic", limit=3)
    assert semantic.hits[0].text == "yglesia de santa maria"
    assert semantic.hits[0].score > 0.8 and semantic.hits[0].words == ()
    page_b = next(p.id for p in repository.pages() if p.source_path.endswith("b.jpg"))
    line = repository.lines(page_b)[1]
    repository.correct_line(line.id, "la catedral de sevilla", "archivist", line.version)
    first = service.search("catedral de sevilla", mode="semantic", limit=1).hits[0]
    assert (first.line_id, first.text) == (line.id, "la catedral de sevilla")
    assert found(service, "catedrales", "fuzzy") == {("b", 1): pytest.approx(0.8)}
    window = next(
        h
        for h in service.search("sevilla toledo", mode="semantic", limit=20).hits
        if "toledo" in h.text and "sevilla" in h.text
    )
    assert window.text == "qve dios nos guarde la catedral de sevilla en el lugar de toledo"
    assert window.bbox == (0, 0, 250, 160)
    fresh = SearchService(repository, home)  # another process: the files plus the feed
    assert fresh.search("catedral", mode="fuzzy").hits[0].line_id == line.id
    assert fresh.search("catedral de sevilla", mode="semantic").hits[0].line_id == line.id
    assert "in memory" not in caplog.text  # both indexes came from their files


def test_concurrent_writers_share_new_word_forms(repository: Repository) -> None:
    """Writers adding the same new forms at once neither fail nor duplicate them."""
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> None:
        for page in range(4):
            lines = [make_line(0, [(f"comun{page} nuevo{page} propio{worker}x{page}", 1.0)])]
            store(repository, f"w{worker}p{page}", lines)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    forms = [form for _, form in repository.word_forms()]
    assert len(forms) == len(set(forms)) == 4 * 2 + 16
    changes = repository.changes_since(0)
    assert len(changes) == 16 and [c[0] for c in changes] == sorted(c[0] for c in changes)
    service = SearchService(repository, Path("unused"))
    assert service.search("comun3", mode="exact").total == 4


def test_review_queue_confirmations_and_corrected_words(repository: Repository) -> None:
    a = store(repository, "a", PAGE_A)
    b = store(repository, "b", PAGE_B)
    first, second, doubtful = (line.id for line in repository.lines(a))
    queue = repository.review_queue("c", limit=3)
    assert [(i.line_id, i.weakest) for i in queue] == [
        (doubtful, pytest.approx(0.3)),
        (first, pytest.approx(0.8)),
        (second, pytest.approx(0.8)),
    ]
    confirmed = repository.confirm_line(doubtful, "archivist", 1)
    assert [w.confidence for w in confirmed.line.words] == [1.0] * 4
    assert repository.corrections(doubtful)[0].confirmed
    corrected = repository.correct_line(first, "en el nombre de dios", "archivist", 1)
    assert [w.bbox for w in corrected.line.words] == [w.bbox for w in PAGE_A[0].words]
    queue = repository.review_queue("c", limit=10)
    assert [i.line_id for i in queue] == [second, *(line.id for line in repository.lines(b))]
    with repository.search_reader(10.0) as reader:
        forms = reader.form_ids({"yglesia", "nombre"})
        matches = reader.matches(forms.values())
    assert {(m.line_id, m.probability, m.text_confidence) for m in matches} == {
        (doubtful, 1.0, 1.0),
        (first, 1.0, 1.0),
    }
