"""Choosing the semantic index's sentence model: a setting stored with the index.

`legajo reindex --semantic-model` stores the model in the index's manifest; searches (CLI,
search service as the workbench and the Python API build it), `check --repair` and plain
rebuilds use it without being told again; a model that cannot be loaded is refused before
any file is touched. A second model is the packaged all-MiniLM-L6-v2 saved to a folder (same
vectors, another model id), so no network is needed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.search.index_files import index_folder, read_manifest, stored_semantic_model
from indexer.search.matching import SearchSettings
from indexer.search.semantic import DEFAULT_MODEL_ID, SemanticIndex, load_sentence_model
from indexer.search.service import SearchService
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.repository import Repository
from legajo.cli.common import EXIT_DRIFT, EXIT_FAILED
from tests.integration.stored_pages import legajo_runner
from tests.integration.test_reindex_check import FOLIO_1, FOLIO_2, store

pytestmark = pytest.mark.slow  # the sentence model is loaded (once per session)

Legajo = Callable[..., tuple[int, str, str]]
UNKNOWN_HUB_NAME = "legajo-tests/no-such-model"


@pytest.fixture(scope="module")
def copy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model saved to a folder: a second model, named by its path."""
    directory = tmp_path_factory.mktemp("copy-model")
    load_sentence_model(device="cpu").save(str(directory))
    return directory.resolve()


@pytest.fixture(scope="module")
def prompted_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model saved with E5-style prompts in its configuration."""
    from sentence_transformers import SentenceTransformer

    from indexer.search.semantic import resolve_model

    directory = tmp_path_factory.mktemp("prompted-model")
    model = SentenceTransformer(
        resolve_model(None).location,
        device="cpu",
        prompts={"query": "query: ", "passage": "passage: "},
    )
    model.save(str(directory))
    return directory.resolve()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def repository(home: Path) -> Iterator[Repository]:
    database = open_database(sqlite_url(home / "legajo.db"))
    repository = Repository(database)
    store(repository, "folio1.jpg", FOLIO_1)
    yield repository
    database.close()


@pytest.fixture
def legajo(home: Path, capsys: pytest.CaptureFixture[str]) -> Legajo:
    """Runs a legajo command on the test's home; returns (exit code, stdout, stderr)."""
    return legajo_runner(home, capsys)


def _manifest_model(repository: Repository, home: Path) -> str | None:
    return read_manifest(index_folder(home, repository.database.url), "semantic").model_id


def _semantic_files(repository: Repository, home: Path) -> dict[str, bytes]:
    folder = index_folder(home, repository.database.url)
    return {name: (folder / name).read_bytes() for name in ("semantic.faiss", "semantic.json")}


def _built_in_memory(caplog: pytest.LogCaptureFixture) -> bool:
    return any("in memory" in record.getMessage() for record in caplog.records)


def test_the_model_chosen_by_reindex_is_stored_and_searches_use_it(
    repository: Repository,
    home: Path,
    legajo: Legajo,
    copy_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, out, err = legajo("reindex", "--semantic-model", str(copy_model))
    assert code == 0, err
    assert f"model {copy_model}" in out
    assert _manifest_model(repository, home) == str(copy_model)
    assert stored_semantic_model(home, repository.database.url) == str(copy_model)
    code, out, _ = legajo("check")
    assert code == 0
    assert "semantic: ok: 4 passages" in out and f"model {copy_model}" in out

    caplog.set_level(logging.INFO, logger="indexer.search")
    service = SearchService(repository, home)  # as the workbench and the Python API make it
    assert service.semantic_model == str(copy_model)
    hits = service.search("the ship left the port of Seville", mode="semantic").hits
    assert hits and hits[0].text == FOLIO_1[2]
    code, out, err = legajo("search", "the ship left the port of Seville", "--mode", "semantic")
    assert code == 0, err
    assert FOLIO_1[2] in out
    assert not _built_in_memory(caplog), "the index file was not used"


def test_new_lines_repairs_and_plain_rebuilds_keep_the_stored_model(
    repository: Repository, home: Path, legajo: Legajo, copy_model: Path
) -> None:
    assert legajo("reindex", "--only", "semantic", "--semantic-model", str(copy_model))[0] == 0
    store(repository, "folio2.jpg", FOLIO_2)  # what `legajo index` does
    code, out, _ = legajo("check", "--only", "semantic")
    assert code == EXIT_DRIFT and "semantic: stale:" in out
    code, out, _ = legajo("check", "--repair", "--only", "semantic")
    assert code == EXIT_DRIFT and "semantic: repaired: 7 passages" in out
    assert _manifest_model(repository, home) == str(copy_model)

    code, out, _ = legajo("reindex", "--only", "semantic")
    assert code == 0 and f"model {copy_model}" in out

    # Without its manifest, the index file's own header still names the model.
    (index_folder(home, repository.database.url) / "semantic.json").unlink()
    assert stored_semantic_model(home, repository.database.url) == str(copy_model)
    code, out, _ = legajo("check", "--repair", "--only", "semantic")
    assert code == EXIT_DRIFT and "semantic: repaired:" in out
    assert _manifest_model(repository, home) == str(copy_model)


def test_switching_the_model_rebuilds_and_a_running_service_follows(
    repository: Repository,
    home: Path,
    legajo: Legajo,
    copy_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert legajo("reindex", "--only", "semantic")[0] == 0
    assert _manifest_model(repository, home) == DEFAULT_MODEL_ID
    service = SearchService(repository, home)
    assert service.search("navio", mode="semantic").hits
    assert service.semantic_model == DEFAULT_MODEL_ID

    code, _, err = legajo("reindex", "--only", "semantic", "--semantic-model", str(copy_model))
    assert code == 0, err
    assert f"changes from {DEFAULT_MODEL_ID} to {copy_model}" in err
    assert _manifest_model(repository, home) == str(copy_model)

    caplog.set_level(logging.INFO, logger="indexer.search")
    assert service.search("navio", mode="semantic").hits
    assert service.semantic_model == str(copy_model)
    assert any(f"now use the sentence model {copy_model}" in m for m in caplog.messages)
    assert not _built_in_memory(caplog)

    code, _, err = legajo("reindex", "--only", "semantic", "--semantic-model", "all-MiniLM-L6-v2")
    assert code == 0 and f"changes from {copy_model} to {DEFAULT_MODEL_ID}" in err
    assert _manifest_model(repository, home) == DEFAULT_MODEL_ID


@pytest.mark.parametrize("name", [UNKNOWN_HUB_NAME, "./no-such-model-folder"])
def test_a_model_that_cannot_be_loaded_leaves_the_index_alone(
    repository: Repository, home: Path, legajo: Legajo, name: str
) -> None:
    assert legajo("reindex")[0] == 0
    before = _semantic_files(repository, home)
    code, out, err = legajo("reindex", "--only", "semantic", "--semantic-model", name)
    assert code == EXIT_FAILED
    assert name in err and "semantic" not in out
    if "/" in name and not name.startswith("."):
        assert "Hugging Face cache" in err and f"hf download {name}" in err
    else:
        assert "no such model directory" in err
    assert _semantic_files(repository, home) == before
    assert legajo("check")[0] == 0


def test_an_unloadable_model_is_not_stored_even_for_an_empty_database(
    home: Path, legajo: Legajo
) -> None:
    open_database(sqlite_url(home / "legajo.db")).close()
    code, _, err = legajo("reindex", "--only", "semantic", "--semantic-model", UNKNOWN_HUB_NAME)
    assert code == EXIT_FAILED and UNKNOWN_HUB_NAME in err
    assert not (home / "indexes" / "semantic.json").exists()
    assert not (home / "indexes" / "semantic.faiss").exists()


def test_a_stored_model_that_is_gone_is_a_clear_error_until_another_is_chosen(
    repository: Repository, home: Path, legajo: Legajo, copy_model: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "moved-model"
    shutil.copytree(copy_model, moved)
    assert legajo("reindex", "--only", "semantic", "--semantic-model", str(moved))[0] == 0
    shutil.rmtree(moved)

    code, out, err = legajo("search", "navio", "--mode", "semantic")
    assert code == EXIT_FAILED and not out
    assert str(moved) in err and "legajo reindex --only semantic --semantic-model" in err
    code, out, _ = legajo("check", "--only", "semantic")
    assert code == EXIT_DRIFT and "semantic: foreign:" in out and str(moved) in out
    code, _, err = legajo("check", "--repair", "--only", "semantic")
    assert code == EXIT_FAILED and "--semantic-model NAME_OR_PATH" in err

    code, _, err = legajo("reindex", "--only", "semantic", "--semantic-model", DEFAULT_MODEL_ID)
    assert code == 0, err
    code, out, err = legajo("search", "navio", "--mode", "semantic")
    assert code == 0, err
    assert FOLIO_1[1] in out


def test_a_search_for_another_model_builds_in_memory_and_leaves_the_file_alone(
    repository: Repository,
    home: Path,
    legajo: Legajo,
    copy_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert legajo("reindex", "--only", "semantic")[0] == 0
    before = _semantic_files(repository, home)
    caplog.set_level(logging.INFO, logger="indexer.search")
    service = SearchService(repository, home, SearchSettings(semantic_model=str(copy_model)))
    assert service.search("the ship left the port of Seville", mode="semantic").hits
    assert service.semantic_model == str(copy_model)
    assert any(f"building an index for {copy_model} in memory" in m for m in caplog.messages)
    assert _semantic_files(repository, home) == before


def test_the_prompts_a_model_declares_are_prepended(copy_model: Path, prompted_model: Path) -> None:
    text = "el galeón partió de Sevilla hacia las Indias"
    plain = SemanticIndex(copy_model, device="cpu")
    plain.build([(1, text)])
    assert plain.search(text, k=1)[0][1] == pytest.approx(1.0, abs=1e-4)

    prompted = SemanticIndex(prompted_model, device="cpu")
    prompted.build([(1, text)])
    [(_, cosine)] = prompted.search(text, k=1)
    assert cosine < 0.999  # the query and the passage got different prefixes
    by_hand = SemanticIndex(copy_model, device="cpu")
    by_hand.build([(1, f"passage: {text}")])
    assert by_hand.search(f"query: {text}", k=1)[0][1] == pytest.approx(cosine, abs=1e-4)
