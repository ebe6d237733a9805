"""Index real rendered lines with the memorised model, then search them (SQLite and PostgreSQL).

The memorised checkpoint reads three rendered lines by heart, so the words it stores are
known: they must be found by every word mode, with word boxes, right after `index_paths`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from htr.pipeline import PipelineSettings
from htr.recognizer import RecognizerSettings, load_recognizer
from indexer.search.service import SearchService
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.store.word_index import page_relevance
from indexer.transfer.ingest import IndexSettings, index_paths
from legajo.cli.main import build_parser, run_command_line
from tests.conftest import MEMORISED_TEXTS, render_line
from tests.integration import test_postgres as backends

pytestmark = pytest.mark.slow  # recognition with the memorised model

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url


@pytest.fixture
def indexed(
    database_url: str, memorised_checkpoint: Path, tmp_path: Path
) -> Iterator[tuple[Repository, str]]:
    folder = tmp_path / "pages"
    folder.mkdir()
    for number, line in enumerate(MEMORISED_TEXTS):
        render_line(line).save(folder / f"{number}.png")
    recognizer = load_recognizer(memorised_checkpoint, RecognizerSettings(beams=3, n_best=3))
    repository = Repository(open_database(database_url))
    settings = IndexSettings(collection="c", pipeline=PipelineSettings(whole_image=True))
    report = index_paths([folder], repository, recognizer, settings)
    assert (report.indexed, report.failed) == (3, 0)
    yield repository, database_url
    repository.database.close()


def test_indexed_words_are_found_by_every_word_mode(
    indexed: tuple[Repository, str], tmp_path: Path
) -> None:
    repository, _ = indexed
    service = SearchService(repository, tmp_path / "home")
    for mode in ("exact", "prob", "fuzzy", "auto"):
        hits = service.search("nonbre", mode=mode).hits
        assert [Path(h.page).name for h in hits][:1] == ["0.png"], mode
        assert hits[0].text == MEMORISED_TEXTS[0]
        assert 0 < hits[0].score <= 1
        word = hits[0].words[0]
        assert word.text == "nonbre" and word.bbox is not None
    quantos = service.search('"sepan quantos"', mode="prob").hits
    assert [Path(h.page).name for h in quantos] == ["1.png"]
    either = service.search("amen OR dios", mode="exact").hits
    assert sorted(Path(h.page).name for h in either) == ["0.png", "2.png"]
    # near misses of the recognizer's spelling, and a modern spelling through the variants
    assert Path(service.search("nombre", mode="fuzzy").hits[0].page).name == "0.png"
    assert Path(service.search("nombre", mode="auto").hits[0].page).name == "0.png"
    assert service.search("nombre", mode="exact").hits == ()


def test_probabilities_follow_the_stored_readings(indexed: tuple[Repository, str]) -> None:
    repository, _ = indexed
    page = next(p for p in repository.pages() if p.source_path.endswith("1.png"))
    line = repository.lines(page.id)[0].line
    assert line.alternatives and abs(sum(a.prob for a in line.alternatives) - 1) < 1e-6
    service = SearchService(repository, Path("unused"))
    for word in ("sepan", "carta"):
        expected = sum(a.prob for a in line.alternatives if word in a.text.split())
        hits = service.search(word, mode="prob").hits
        assert hits and hits[0].score == pytest.approx(expected, abs=1e-6)
        assert page_relevance(h.score for h in hits if h.page_id == page.id) == pytest.approx(
            expected, abs=1e-6
        )


def test_correcting_an_indexed_line_is_searchable_at_once(
    indexed: tuple[Repository, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository, url = indexed
    page = next(p for p in repository.pages() if p.source_path.endswith("2.png"))
    line = repository.lines(page.id)[0]
    repository.correct_line(line.id, "amen jesus", "archivist", line.version)
    parser = build_parser()
    code = run_command_line(
        parser, ["search", "jesus", "--json", "--db", url, "--home", str(tmp_path / "home")]
    )
    assert code == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(Path(h["page"]).name, h["text"], h["score"]) for h in hits] == [
        ("2.png", "amen jesus", 1.0)
    ]
    assert hits[0]["words"][0]["text"] == "jesus" and hits[0]["words"][0]["confidence"] == 1.0
