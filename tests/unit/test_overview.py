"""The collection aggregates of `indexer.store.overview` on a temporary SQLite database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select, update

from htr.document import Line, Page, ProcessingStep, Word
from htr.errors import ImageLoadError
from indexer.store.db import open_database
from indexer.store.orm import CorrectionRow
from indexer.store.overview import ConfidenceBin, FailureCount, Overview, ReviewDay, clusters
from indexer.store.repository import ModelKey, Repository, SourceFile
from tests.integration import test_postgres as backends

MODEL = ModelKey("m", "r1")
STEP = ProcessingStep("recognition", "legajo 0.1.0", model_id="m", model_revision="r1")
Q_TILDE = "q\u0303"


def make_line(number: int, words: Sequence[tuple[str, float]]) -> Line:
    return Line(
        id=f"l{number}",
        bbox=(0, number * 50, 300, number * 50 + 40),
        polygon=((0, number * 50), (299, number * 50), (299, number * 50 + 39)),
        baseline=((0, number * 50 + 30), (299, number * 50 + 30)),
        text=" ".join(text for text, _ in words),
        confidence=0.6,
        words=tuple(
            Word(text, confidence, (10 * i, number * 50, 10 * i + 8, number * 50 + 40))
            for i, (text, confidence) in enumerate(words)
        ),
    )


def store(repository: Repository, collection: str, name: str, *lines: Line) -> int:
    source = SourceFile(f"/archive/{name}", name.ljust(64, "0")[:64], 10)
    page = Page(image=source.path, frame=0, width=300, height=300, lines=lines, steps=(STEP,))
    repository.store_page(repository.ensure_collection(collection), None, source, page, MODEL)
    return next(p.id for p in repository.pages(collection) if p.source_path == source.path)


# The database backends (SQLite, a throwaway PostgreSQL server), as fixtures of this module.
postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url


@pytest.fixture
def repository(database_url: str) -> Iterator[Repository]:
    database = open_database(database_url)
    yield Repository(database)
    database.close()


@pytest.fixture
def overview(repository: Repository) -> Overview:
    store(
        repository,
        "c",
        "a.png",
        make_line(0, [("de", 0.05), (f"{Q_TILDE}e", 0.45)]),
        make_line(1, [("dios", 0.95)]),
    )
    store(repository, "c", "b.png", make_line(0, [("amen", 0.25)]))
    store(repository, "c", "empty.png")
    store(repository, "other", "x.png", make_line(0, [("otra", 0.75)]))
    return Overview(repository.database)


def test_pages_by_mean_confidence(overview: Overview) -> None:
    pages = overview.page_confidences("c")
    assert [(p.source_path, p.words) for p in pages] == [
        ("/archive/a.png", 3),
        ("/archive/b.png", 1),
        ("/archive/empty.png", 0),
    ]
    assert pages[0].mean_confidence == pytest.approx((0.05 + 0.45 + 0.95) / 3)
    assert pages[1].mean_confidence == pytest.approx(0.25)
    assert pages[2].mean_confidence is None
    assert overview.page_confidences("nowhere") == []
    assert overview.page_collection(pages[0].page_id) == "c"
    with pytest.raises(LookupError):
        overview.page_collection(10_000)


def test_histogram_lists_every_bin(overview: Overview, repository: Repository) -> None:
    assert overview.confidence_histogram("c", bins=4) == [
        ConfidenceBin(0.0, 0.25, 1),
        ConfidenceBin(0.25, 0.5, 2),  # 0.25 starts the second bin
        ConfidenceBin(0.5, 0.75, 0),
        ConfidenceBin(0.75, 1.0, 1),
    ]
    assert sum(b.words for b in overview.confidence_histogram("c")) == 4
    # a corrected line's words have confidence 1: the last bin
    (page,) = [p for p in repository.pages("c") if p.source_path.endswith("b.png")]
    (line,) = repository.lines(page.id)
    repository.correct_line(line.id, "amen dios", "Ana", 1)
    assert overview.confidence_histogram("c", bins=4)[-1].words == 3
    with pytest.raises(ValueError, match="bin"):
        overview.confidence_histogram("c", bins=0)


def test_review_days_count_saves_and_first_verifications(
    overview: Overview, repository: Repository
) -> None:
    assert overview.review_days("c") == []
    lines = [s for p in repository.pages("c") for s in repository.lines(p.id)]
    first = repository.correct_line(lines[0].id, "de que", "Ana", 1)
    repository.correct_line(lines[0].id, "de qe", "Ana", first.version)
    repository.confirm_line(lines[1].id, "Bea", 1)
    repository.correct_line(lines[2].id, "amén", "Bea", 1)
    with repository.database.write() as session:  # the first two saves, two days earlier
        ids = sorted(session.scalars(select(CorrectionRow.id)))
        session.execute(
            update(CorrectionRow)
            .where(CorrectionRow.id.in_(ids[:2]))
            .values(created_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
        )
        session.execute(
            update(CorrectionRow)
            .where(CorrectionRow.id.in_(ids[2:]))
            .values(created_at=dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC))
        )
    assert overview.review_days("c") == [
        ReviewDay(dt.date(2026, 3, 1), corrections=2, lines_verified=1),
        ReviewDay(dt.date(2026, 3, 3), corrections=2, lines_verified=2),
    ]
    assert overview.review_days("other") == []


def test_failures_by_kind(overview: Overview, repository: Repository) -> None:
    collection = repository.collection_id("c")
    for name in ("x.png", "y.png"):
        repository.record_failure(collection, None, name, ImageLoadError("broken"))
    repository.record_failure(collection, None, "z.pdf", ValueError("odd"))
    assert overview.failure_counts("c") == [
        FailureCount("ImageLoadError", 2),
        FailureCount("ValueError", 1),
    ]
    assert overview.failure_counts("other") == []


def test_characters_keep_combining_marks_with_their_base(overview: Overview) -> None:
    counts = overview.characters("c")
    assert counts[Q_TILDE] == 1
    assert counts["e"] == 3 and counts["d"] == 2
    assert "q" not in counts and " " not in counts
    assert "t" not in counts  # "otra" is another collection's


def test_clusters() -> None:
    assert clusters(f"{Q_TILDE} ⁊ ſe") == [Q_TILDE, "⁊", "ſ", "e"]
    assert clusters("\u0303a \u0304") == ["\u0303", "a", "\u0304"]
    assert clusters("e\u0303\u0301") == ["e\u0303\u0301"]
    assert clusters("") == []
