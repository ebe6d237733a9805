"""The repository on a temporary SQLite database: round trips, idempotence, corrections."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from indexer.errors import (
    DatabaseUrlError,
    LineNotFoundError,
    StaleLineError,
    UnknownCollectionError,
)
from indexer.settings import resolve_storage, sqlite_url
from indexer.store.db import head_revision, open_database, schema_revision
from indexer.store.repository import ModelKey, Repository, SourceFile, StoreOutcome, VerifiedLine
from indexer.transfer.importer import IMPORT_MODEL, IMPORT_STEP

STEP = ProcessingStep(
    "recognition", "legajo 0.1.0", model_id="m", model_revision="r1", settings={"beams": 2}
)
MODEL = ModelKey.of(STEP)
SOURCE = SourceFile("/archive/folio 1.jpg", "a" * 64, 1234)


def make_line(number: int, text: str = "de dios") -> Line:
    words = tuple(
        Word(word, 0.5 + 0.1 * i, (10 * i, number * 50, 10 * i + 8, number * 50 + 40))
        for i, word in enumerate(text.split())
    )
    return Line(
        id=f"l{number}",
        bbox=(0, number * 50, 300, number * 50 + 40),
        polygon=((0, number * 50), (299, number * 50), (299, number * 50 + 39)),
        baseline=((0, number * 50 + 30), (299, number * 50 + 30)),
        text=text,
        confidence=0.6,
        words=words,
        alternatives=(Alternative(text, 0.75), Alternative(text.upper(), 0.25)),
        zone="MainZone",
    )


PAGE = Page(
    image=SOURCE.path,
    frame=0,
    width=300,
    height=200,
    lines=(make_line(0), make_line(1, "en el nonbre"), make_line(2, "")),
    steps=(ProcessingStep("segmentation", "legajo 0.1.0", settings={"method": "x"}), STEP),
)


@pytest.fixture
def repository(tmp_path: Path) -> Repository:
    database = open_database(sqlite_url(tmp_path / "home" / "legajo.db"))
    yield Repository(database)
    database.close()


@pytest.fixture
def stored(repository: Repository) -> int:
    collection = repository.ensure_collection("c")
    assert repository.store_page(collection, None, SOURCE, PAGE, MODEL) is StoreOutcome.STORED
    return repository.pages()[0].id


def test_open_migrates_and_sets_sqlite_pragmas(repository: Repository) -> None:
    database = repository.database
    assert schema_revision(database) == head_revision() == "0007"
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0


def test_bad_urls_are_named() -> None:
    with pytest.raises(DatabaseUrlError, match="nonsense"):
        open_database("nonsense")
    with pytest.raises(DatabaseUrlError, match="nodriver"):
        open_database("nodriver://x/y")


def test_page_round_trip(repository: Repository, stored: int) -> None:
    assert repository.load_page(stored) == PAGE
    lines = repository.lines(stored)
    assert [line.line for line in lines] == list(PAGE.lines)
    assert {line.version for line in lines} == {1}
    (summary,) = repository.pages()
    assert (summary.status, summary.line_count, summary.model) == ("indexed", 3, MODEL)
    assert repository.table_counts()["words"] == 5
    assert repository.table_counts()["alternatives"] == 6


def test_storing_twice_is_idempotent_and_force_replaces(
    repository: Repository, stored: int
) -> None:
    collection = repository.collection_id("c")
    again = repository.store_page(collection, None, SOURCE, PAGE, MODEL)
    assert again is StoreOutcome.ALREADY_PRESENT
    shorter = Page(SOURCE.path, 0, 300, 200, PAGE.lines[:1], PAGE.steps)
    assert (
        repository.store_page(collection, None, SOURCE, shorter, MODEL, replace=True)
        is StoreOutcome.REPLACED
    )
    assert repository.load_page(stored) == shorter
    assert repository.table_counts()["lines"] == 1
    # Another model's reading of the same frame is never a second page: it is refused, or
    # with replace it takes the place of the stored reading (same page id).
    other_model = ModelKey("m", "r2")
    assert repository.store_page(collection, None, SOURCE, PAGE, other_model) is (
        StoreOutcome.READ_BY_OTHER_MODEL
    )
    assert repository.read_frames(collection, SOURCE.sha256) == {0: MODEL}
    assert repository.store_page(collection, None, SOURCE, PAGE, other_model, replace=True) is (
        StoreOutcome.REPLACED
    )
    assert [(p.id, p.model) for p in repository.pages()] == [(stored, other_model)]
    assert repository.indexed_frames(collection, SOURCE.sha256, MODEL) == set()


def test_corrections_are_rows_and_versions_guard_them(repository: Repository, stored: int) -> None:
    line = repository.lines(stored)[0]
    corrected = repository.correct_line(line.id, "de dios'; DROP TABLE lines; --", "ana", 1)
    assert corrected.version == 2 and corrected.line.text.startswith("de dios'; DROP")
    assert corrected.machine_text == "de dios"
    with pytest.raises(StaleLineError) as stale:
        repository.correct_line(line.id, "de Dios", "bob", 1)
    assert (stale.value.expected_version, stale.value.current_version) == (1, 2)
    repository.correct_line(line.id, "de Dios", "bob", 2)
    history = repository.corrections(line.id)
    assert [(c.old_text, c.new_text, c.editor, c.version) for c in history] == [
        ("de dios", "de dios'; DROP TABLE lines; --", "ana", 2),
        ("de dios'; DROP TABLE lines; --", "de Dios", "bob", 3),
    ]
    assert repository.load_page(stored).lines[0].text == "de Dios"
    assert repository.line(line.id) == repository.lines(stored)[0]
    assert (repository.line(line.id).version, repository.line(line.id).line.text) == (3, "de Dios")
    with pytest.raises(LineNotFoundError):
        repository.correct_line(10_000, "x", "ana", 1)
    with pytest.raises(LineNotFoundError):
        repository.line(10_000)
    collection = repository.collection_id("c")
    kept = repository.store_page(collection, None, SOURCE, PAGE, MODEL, replace=True)
    assert kept is StoreOutcome.KEPT_CORRECTED
    assert repository.load_page(stored).lines[0].text == "de Dios"


def test_failures_are_kept_once_and_cleared_by_success(repository: Repository) -> None:
    collection = repository.ensure_collection("c")
    for reason in ("first", "second"):
        repository.record_failure(collection, None, SOURCE.path, ValueError(reason))
    assert [(f.frame, f.kind, f.reason) for f in repository.failures()] == [
        (None, "ValueError", "second")
    ]
    # The file became readable but its frame 1 fails: that replaces the whole-file failure.
    repository.record_failure(
        collection,
        None,
        SOURCE.path,
        OSError("frame 1 broken"),
        frame=1,
        source=SOURCE,
        model=MODEL,
    )
    failures = repository.failures("c")
    assert [(f.frame, f.reason) for f in failures] == [(1, "frame 1 broken")]
    assert [p.status for p in repository.pages()] == ["failed"]
    assert repository.stats()[0].errors == 1 and repository.stats()[0].pages == 0

    repository.store_page(collection, None, SOURCE, PAGE, MODEL)
    assert [(f.frame, f.reason) for f in repository.failures()] == [(1, "frame 1 broken")]
    page_one = Page(SOURCE.path, 1, 300, 200, PAGE.lines[:1], PAGE.steps)
    assert repository.store_page(collection, None, SOURCE, page_one, MODEL) is StoreOutcome.STORED
    assert repository.failures() == []
    assert {p.status for p in repository.pages()} == {"indexed"}


def test_stats_per_collection(repository: Repository, stored: int) -> None:
    repository.ensure_collection("empty")
    stats = {s.collection: s for s in repository.stats()}
    assert (stats["c"].pages, stats["c"].lines, stats["c"].words) == (1, 3, 5)
    assert stats["c"].mean_confidence == pytest.approx((0.5 + 0.6 + 0.5 + 0.6 + 0.7) / 5)
    assert (stats["empty"].pages, stats["empty"].mean_confidence) == (0, None)
    with pytest.raises(UnknownCollectionError):
        repository.stats("nope")
    assert repository.ensure_collection("c") == repository.collection_id("c")


def test_runs_record_model_and_settings(repository: Repository) -> None:
    collection = repository.ensure_collection("c")
    run = repository.start_run(collection, "index", STEP, {"layout": "auto"})
    (record,) = repository.runs()
    assert (record.id, record.status, record.finished_at) == (run, "running", None)
    assert record.model == MODEL and record.settings == {
        "recognizer": {"beams": 2},
        "layout": "auto",
    }
    repository.finish_run(run, "finished")
    assert repository.runs()[0].finished_at is not None


def test_storage_settings_precedence(tmp_path: Path) -> None:
    default = resolve_storage(environ={})
    assert default.home == Path("legajo-data") and default.uses_default_database
    assert default.database_url == "sqlite:///legajo-data/legajo.db"
    env = {"LEGAJO_HOME": str(tmp_path), "LEGAJO_DB": "postgresql://u@h/db"}
    from_env = resolve_storage(environ=env)
    assert from_env.home == tmp_path and from_env.database_url == "postgresql://u@h/db"
    flags = resolve_storage(tmp_path / "h", "sqlite:///x.db", environ=env)
    assert flags.home == tmp_path / "h" and flags.database_url == "sqlite:///x.db"
    only_home = resolve_storage(tmp_path / "h", environ={"LEGAJO_HOME": "elsewhere"})
    assert only_home.database_url == sqlite_url(tmp_path / "h" / "legajo.db")


def test_a_correction_replaces_the_line_words(repository: Repository, stored: int) -> None:
    line = repository.lines(stored)[1]  # "en el nonbre", three machine words
    machine_boxes = [w.bbox for w in line.line.words]
    letter_fix = repository.correct_line(line.id, "en el nombre", "ana", 1)
    texts = ("en", "el", "nombre")
    assert letter_fix.line.words == tuple(
        Word(text, 1.0, box) for text, box in zip(texts, machine_boxes, strict=True)
    )
    joined = repository.correct_line(line.id, "enel nombre", "ana", 2)
    # Two words for three: the line box (0..300) is split by character offsets.
    assert joined.line.words == (
        Word("enel", 1.0, (0, 50, 110, 90)),
        Word("nombre", 1.0, (136, 50, 300, 90)),
    )
    restored = repository.correct_line(line.id, joined.machine_text, "bob", 3)
    assert [w.text for w in restored.line.words] == ["en", "el", "nonbre"]
    assert {w.confidence for w in restored.line.words} == {1.0}
    assert repository.load_page(stored).lines[1].words == restored.line.words
    emptied = repository.correct_line(line.id, "  ", "bob", 4)
    assert emptied.line.words == ()
    assert repository.table_counts()["words"] == 2  # only the other line's words are left


def test_a_confirmation_is_a_correction_without_change(repository: Repository, stored: int) -> None:
    line = repository.lines(stored)[1]
    confirmed = repository.confirm_line(line.id, "ana", 1)
    assert (confirmed.version, confirmed.line.text) == (2, "en el nonbre")
    assert confirmed.line.words == tuple(
        Word(w.text, 1.0, w.bbox) for w in line.line.words
    )  # same words, same boxes, verified
    (history,) = repository.corrections(line.id)
    assert (history.old_text, history.new_text, history.editor, history.confirmed) == (
        "en el nonbre",
        "en el nonbre",
        "ana",
        True,
    )
    with pytest.raises(StaleLineError):
        repository.confirm_line(line.id, "bob", 1)
    with repository.search_reader(10.0) as reader:
        forms = reader.form_ids({"en", "el", "nonbre"})
        matches = reader.matches(forms.values(), line_ids=[line.id])
        assert reader.readings([line.id])[line.id][1] is True  # verified
    assert {(m.probability, m.text_confidence) for m in matches} == {(1.0, 1.0)}
    assert line.id not in {item.line_id for item in repository.review_queue("c", limit=10)}
    collection = repository.collection_id("c")
    kept = repository.store_page(collection, None, SOURCE, PAGE, MODEL, replace=True)
    assert kept is StoreOutcome.KEPT_CORRECTED


def review_line(number: int, confidences: tuple[float, ...], line_confidence: float) -> Line:
    y = number * 50
    return Line(
        id=f"r{number}",
        bbox=(0, y, 300, y + 40),
        polygon=((0, y), (299, y), (299, y + 39)),
        text=" ".join(f"w{i}" for i in range(len(confidences))),
        confidence=line_confidence,
        words=tuple(
            Word(f"w{i}", c, (30 * i, y, 30 * i + 20, y + 40)) for i, c in enumerate(confidences)
        ),
    )


def test_review_queue_orders_by_the_weakest_word_in_sql(repository: Repository) -> None:
    collection = repository.ensure_collection("c")
    lines = (
        review_line(0, (0.9, 0.4), 0.7),
        review_line(1, (), 0.3),  # no words: its line confidence counts
        review_line(2, (0.8,), 0.2),
        review_line(3, (), 0.95),
        review_line(4, (0.4,), 0.9),  # ties with line 0: reading order decides
    )
    page = Page(SOURCE.path, 0, 300, 300, lines, PAGE.steps)
    repository.store_page(collection, None, SOURCE, page, MODEL)
    other = repository.ensure_collection("other")
    repository.store_page(other, None, SOURCE, page, MODEL)
    queue = repository.review_queue("c", limit=10)
    ids = {s.line.id: s.id for s in repository.lines(queue[0].page_id)}
    assert [(item.line_id, item.weakest) for item in queue] == [
        (ids["r1"], 0.3),
        (ids["r0"], 0.4),
        (ids["r4"], 0.4),
        (ids["r2"], 0.8),
        (ids["r3"], 0.95),
    ]
    assert {(item.source_path, item.frame) for item in queue} == {(SOURCE.path, 0)}
    assert [i.line_id for i in repository.review_queue("c", limit=2, offset=1)] == [
        ids["r0"],
        ids["r4"],
    ]
    repository.correct_line(ids["r1"], "leido", "ana", 1)
    assert ids["r1"] not in [i.line_id for i in repository.review_queue("c", limit=10)]
    everything = repository.review_queue("c", limit=10, exclude_reviewed=False)
    assert everything[-1].line_id == ids["r1"] and everything[-1].weakest == 1.0
    with pytest.raises(UnknownCollectionError):
        repository.review_queue("nowhere", limit=10)


IMPORTED_STEP = ProcessingStep(IMPORT_STEP, "legajo 0.1.0", settings={"image": "found"})


def verified_lines(repository: Repository, collection: str | None) -> list[VerifiedLine]:
    return repository.verified_lines(collection, import_model=IMPORT_MODEL, import_step=IMPORT_STEP)


def test_verified_lines_are_corrected_confirmed_and_imported_ones(
    repository: Repository, stored: int
) -> None:
    assert verified_lines(repository, None) == []  # machine readings only
    first, second, _ = repository.lines(stored)
    repository.correct_line(first.id, "de dio", "ana", 1)
    repository.correct_line(first.id, "de dios y", "bob", 2)  # the latest correction wins
    repository.confirm_line(second.id, "ana", 1)  # old == new text: verified as it is
    imported = repository.ensure_collection("imports")
    imported_page = Page(SOURCE.path, 0, 300, 200, (make_line(0, "carta"),), (IMPORTED_STEP,))
    repository.store_page(imported, None, SOURCE, imported_page, IMPORT_MODEL)
    # Stored under the import key but without an import step: a model named "import".
    no_step = Page(SOURCE.path, 1, 300, 200, (make_line(0, "leido"),), (STEP,))
    repository.store_page(imported, None, SOURCE, no_step, IMPORT_MODEL)

    found = verified_lines(repository, None)

    assert [(v.line.text, v.corrected) for v in found] == [
        ("de dios y", True),
        ("en el nonbre", True),
        ("carta", False),
    ]
    line = found[0]
    assert (line.source_path, line.frame, line.sha256) == (SOURCE.path, 0, SOURCE.sha256)
    assert (line.line.id, line.line.bbox, line.line.polygon) == (
        "l0",
        first.line.bbox,
        first.line.polygon,
    )
    assert line.steps == PAGE.steps
    assert found[2].steps == (IMPORTED_STEP,)
    assert [v.line.text for v in verified_lines(repository, "imports")] == ["carta"]
    assert verified_lines(repository, "c") == found[:2]
    with pytest.raises(UnknownCollectionError):
        verified_lines(repository, "nowhere")
