"""`legajo reread` and one machine reading per page, on real SQLite and PostgreSQL databases.

Pages are indexed by one recognizer (it reads every line as "amen"), a person corrects a
line, and another recognizer ("dios", another model key) reads the collection again in
place: ids, counts, corrections and history must survive, search must follow at once, and
indexing the same files again, with either model, must never store a second page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from htr.document import Alternative, ProcessingStep
from htr.errors import RecognitionError
from htr.pipeline import PipelineSettings
from htr.reading import WordReading
from htr.recognizer import LineReading
from indexer.adaptation.reread import reread_collection
from indexer.search.service import SearchService
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.transfer.ingest import IndexSettings, index_paths
from tests.conftest import render_line
from tests.integration import test_postgres as backends

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

WHOLE = IndexSettings(collection="c", pipeline=PipelineSettings(whole_image=True))


class Reader:
    """Reads every line as one word, with its own model key (fast, for plumbing tests)."""

    def __init__(self, word: str, model: str, fail_on_call: int | None = None) -> None:
        self.word, self.model, self.fail_on_call, self.calls = word, model, fail_on_call, 0

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RecognitionError("out of memory on this page")
        word = (WordReading(self.word, 0.8, 0, len(self.word)),)
        alternatives = (Alternative(self.word, 0.9), Alternative("x", 0.1))
        return [LineReading(self.word, 0.8, word, alternatives) for _ in images]

    def processing_step(self) -> ProcessingStep:
        return ProcessingStep("recognition", "test", model_id=self.model, model_revision="1")


@pytest.fixture
def indexed(database_url: str, tmp_path: Path) -> tuple[Repository, Path]:
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(3):
        render_line(f"linea {i}").save(folder / f"{i}.png")
    repository = Repository(open_database(database_url))
    report = index_paths([folder], repository, Reader("amen", "a"), WHOLE)
    assert report.indexed == 3
    yield repository, folder
    repository.database.close()


def _state(repository: Repository) -> list[tuple[int, int, str, str, int]]:
    """(page id, line id, text, machine text, version) of every line, in page order."""
    return [
        (p.id, s.id, s.line.text, s.machine_text, s.version)
        for p in repository.pages("c")
        for s in repository.lines(p.id)
    ]


def test_reread_in_place_keeps_ids_corrections_and_history(
    indexed: tuple[Repository, Path], tmp_path: Path
) -> None:
    repository, _ = indexed
    first = _state(repository)
    corrected = first[0][1]
    repository.correct_line(corrected, "sancta", "ana", 1)
    service = SearchService(repository, tmp_path / "home")
    assert len(service.search("amen", mode="fuzzy").hits) == 2  # builds the lexical index

    report = reread_collection(repository, Reader("dios", "b"), "c")

    assert (report.pages, report.reread, report.already, report.failures) == (3, 3, 0, [])
    assert (report.lines_read, report.lines_changed, report.verified_kept) == (3, 3, 1)
    after = _state(repository)
    assert [(p, line) for p, line, *_ in after] == [(p, line) for p, line, *_ in first]
    assert after[0][2:] == ("sancta", "dios", 2)  # verified text kept, new machine reading
    assert [row[2:] for row in after[1:]] == [("dios", "dios", 1)] * 2
    assert {p.model.model_id for p in repository.pages("c")} == {"b"}
    history = repository.readings(corrected)
    assert [(r.text, r.model.model_id) for r in history] == [("amen", "a"), ("dios", "b")]
    assert history[1].run_id == report.run_id
    assert [(c.old_text, c.new_text) for c in repository.corrections(corrected)] == [
        ("amen", "sancta")
    ]
    line = repository.line(after[1][1])
    assert [w.text for w in line.line.words] == ["dios"]
    assert [a.text for a in line.line.alternatives] == ["dios", "x"]
    assert repository.line(corrected).line.words[0].text == "sancta"

    found = {h.line_id for h in service.search("dios", mode="exact").hits}
    assert found == {after[1][1], after[2][1]}  # not the verified line: its text is its own
    assert {h.line_id for h in service.search("amen", mode="exact").hits} == set()
    # A form no reading had before the reread, through the lexical index built before it.
    assert {h.line_id for h in service.search("dioss", mode="fuzzy").hits} == found
    assert {h.line_id for h in service.search("sancta", mode="exact").hits} == {corrected}

    again = reread_collection(repository, Reader("dios", "b"), "c")
    assert (again.reread, again.already, again.lines_read) == (0, 3, 0)
    assert len(repository.readings(corrected)) == 2


def test_indexing_again_with_another_model_stores_no_second_page(
    indexed: tuple[Repository, Path],
) -> None:
    repository, folder = indexed
    line_ids = [row[1] for row in _state(repository)]
    repository.correct_line(line_ids[0], "sancta", "ana", 1)

    report = index_paths([folder], repository, Reader("dios", "b"), WHOLE)
    assert (report.indexed, report.skipped, report.other_model) == (0, 3, 3)
    assert len(repository.pages("c")) == 3

    forced = IndexSettings(collection="c", pipeline=WHOLE.pipeline, force=True)
    replaced = index_paths([folder], repository, Reader("dios", "b"), forced)
    assert (replaced.indexed, replaced.replaced, replaced.skipped) == (2, 2, 1)
    pages = repository.pages("c")
    assert len(pages) == 3 and sum(p.line_count for p in pages) == 3
    models = sorted((Path(p.source_path).name, p.model.model_id) for p in pages)
    assert models == [("0.png", "a"), ("1.png", "b"), ("2.png", "b")]  # 0.png holds a correction
    assert repository.line(line_ids[0]).line.text == "sancta"


def test_an_interrupted_reread_resumes_where_it_stopped(
    indexed: tuple[Repository, Path],
) -> None:
    repository, folder = indexed
    before = _state(repository)
    failing = Reader("dios", "b", fail_on_call=2)

    report = reread_collection(repository, failing, "c")
    assert (report.reread, len(report.failures)) == (2, 1)
    assert "out of memory" in report.failures[0].reason
    failed_page = report.failures[0].path
    assert [f.source_path for f in repository.failures("c")] == [failed_page]
    untouched = next(p for p in repository.pages("c") if p.source_path == failed_page)
    assert untouched.model.model_id == "a"  # a failed page is left exactly as it was
    assert repository.readings(repository.lines(untouched.id)[0].id) == []

    resumed = reread_collection(repository, Reader("dios", "b"), "c")
    assert (resumed.reread, resumed.already, resumed.failures) == (1, 2, [])
    assert repository.failures("c") == []
    assert [(p, line) for p, line, *_ in _state(repository)] == [
        (p, line) for p, line, *_ in before
    ]

    (folder / "1.png").write_bytes(b"changed")
    changed = reread_collection(repository, Reader("amen", "c"), "c")
    assert [Path(f.path).name for f in changed.failures] == ["1.png"]
    assert "1.png" in changed.failures[0].reason and changed.reread == 2
