"""`SearchReader.completions` (IIIF autocomplete), and page summaries with their sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.store.db import open_database
from indexer.store.repository import Repository
from tests.integration.test_search import PAGE_A, PAGE_B, make_line, store


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Repository]:
    database = open_database(f"sqlite:///{tmp_path / 'legajo.db'}")
    repository = Repository(database)
    store(repository, "a", PAGE_A)
    store(repository, "b", PAGE_B)
    store(repository, "c", (make_line(0, [("dios te salve", 1.0)]),), collection="other")
    yield repository
    database.close()


def test_completions_count_lines_whose_current_text_holds_the_form(
    repository: Repository,
) -> None:
    with repository.search_reader(5.0) as reader:
        assert reader.completions("d") == [("de", 3), ("dios", 3)]
        collection_id = reader.collection_id("c")
        assert reader.completions("d", collection_id=collection_id) == [("de", 3), ("dios", 2)]
        assert reader.completions("d", collection_id=collection_id, limit=1) == [("de", 3)]
        # "nombre" is only in another n-best reading, not in any current text
        assert reader.completions("nom") == []
        assert reader.completions("qu") == [("quantos", 1)]


def test_completions_take_like_wildcards_literally(repository: Repository) -> None:
    with repository.search_reader(5.0) as reader:
        assert reader.completions("%") == []
        assert reader.completions("_") == []
        assert reader.completions("\\") == []


def test_page_summaries_carry_the_page_size(repository: Repository) -> None:
    assert {(page.width, page.height) for page in repository.pages()} == {(400, 400)}


def test_one_page_summary_is_read_by_id(repository: Repository) -> None:
    listed = repository.pages("other")[0]
    assert repository.page_summary(listed.id) == listed
    with pytest.raises(LookupError):
        repository.page_summary(10_000)
