"""`legajo reindex` and `legajo check` on a temporary database, with the real sentence model.

Index files are damaged on purpose (truncated, overwritten with garbage), made stale by new
pages and corrections, and `check` must say so, `check --repair` and `reindex` must fix it,
and searches must keep working meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.search.index_files import index_folder, load_semantic, read_manifest
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.repository import Repository
from legajo.cli.common import EXIT_DRIFT
from tests.integration.stored_pages import LegajoRunner, legajo_runner, store_texts

pytestmark = pytest.mark.slow  # the sentence model is loaded (once per session)

FOLIO_1 = [
    "sepan quantos esta carta vieren como yo",
    "el dicho escrivano doy fee que el navio",
    "partio del puerto de sevilla para las yndias",
]
FOLIO_2 = ["otrosi mandamos que los vezinos de la villa", "paguen los maravedis al alcalde"]


def store(repository: Repository, name: str, texts: list[str]) -> None:
    store_texts(repository, name, texts, swap=("u", "n"))


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
def legajo(home: Path, capsys: pytest.CaptureFixture[str]) -> LegajoRunner:
    """Runs a legajo command on the test's home; returns (exit code, stdout, stderr)."""
    return legajo_runner(home, capsys)


def _folder(home: Path) -> Path:
    return home / "indexes"


def test_reindex_builds_both_indexes_and_check_finds_them_sound(
    repository: Repository, home: Path, legajo: object
) -> None:
    code, out, _ = legajo("check")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    assert "lexical: missing" in out
    assert "semantic: missing" in out
    code, out, err = legajo("reindex")  # type: ignore[operator]
    assert code == 0, err
    assert "lexical: " in out and "word forms" in out
    assert "semantic: 4 passages" in out  # three lines, one window of three
    assert sorted(p.name for p in _folder(home).iterdir()) == [
        "lexical.json",
        "lexical.npz",
        "semantic.faiss",
        "semantic.json",
    ]
    code, out, _ = legajo("check")  # type: ignore[operator]
    assert code == 0, out
    assert "lexical: ok:" in out
    assert "semantic: ok:" in out
    assert read_manifest(_folder(home), "semantic").model_id


@pytest.mark.parametrize("kind", ["lexical", "semantic"])
@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        lambda path: path.write_bytes(b"\x00garbage" * 50),
    ],
    ids=["truncated", "garbage"],
)
def test_a_corrupt_index_file_is_reported_and_repaired(
    repository: Repository, home: Path, legajo: object, kind: str, damage: object
) -> None:
    assert legajo("reindex")[0] == 0  # type: ignore[operator]
    suffix = "npz" if kind == "lexical" else "faiss"
    damage(_folder(home) / f"{kind}.{suffix}")  # type: ignore[operator]
    code, out, err = legajo("check")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    assert f"{kind}: unreadable:" in out
    assert "--repair" in err
    code, out, _ = legajo("check", "--repair")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    assert f"{kind}: repaired:" in out
    assert legajo("check")[0] == 0  # type: ignore[operator]


def test_reindex_fixes_a_corrupt_file_too(
    repository: Repository, home: Path, legajo: object
) -> None:
    assert legajo("reindex", "--only", "lexical")[0] == 0  # type: ignore[operator]
    (_folder(home) / "lexical.npz").write_bytes(b"garbage")
    assert legajo("check", "--only", "lexical")[0] == EXIT_DRIFT  # type: ignore[operator]
    code, out, _ = legajo("reindex", "--only", "lexical")  # type: ignore[operator]
    assert code == 0
    assert "semantic" not in out
    code, out, _ = legajo("check", "--only", "lexical")  # type: ignore[operator]
    assert code == 0
    assert "semantic" not in out


def test_new_pages_and_corrections_make_indexes_stale_and_repair_catches_up(
    repository: Repository, home: Path, legajo: object
) -> None:
    assert legajo("reindex")[0] == 0  # type: ignore[operator]
    store(repository, "folio2.jpg", FOLIO_2)
    line = repository.lines(repository.pages()[0].id)[1]
    corrected = "el dicho escribano da fe de la llegada de la flota"
    repository.correct_line(line.id, corrected, "tester", line.version)
    code, out, _ = legajo("check")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    assert "lexical: stale:" in out
    assert "semantic: stale:" in out
    code, out, _ = legajo("check", "--repair")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    assert "semantic: repaired: 7 passages" in out  # 3 + 2 lines, a window on each page
    assert legajo("check")[0] == 0  # type: ignore[operator]
    loaded = load_semantic(repository, home)
    assert loaded is not None
    index, change = loaded
    assert change == repository.last_change_id()
    assert index.search(corrected, k=1)[0][0] == line.id


def test_searches_survive_corrupt_index_files(
    repository: Repository, home: Path, legajo: object
) -> None:
    from indexer.search.service import SearchService

    assert legajo("reindex")[0] == 0  # type: ignore[operator]
    for name in ("lexical.npz", "semantic.faiss"):
        (_folder(home) / name).write_bytes(b"garbage")
    service = SearchService(repository, home)
    fuzzy = service.search("escriuano", mode="fuzzy")
    assert [hit.text for hit in fuzzy.hits] == [FOLIO_1[1]]
    semantic = service.search("the ship left the port of Seville", mode="semantic")
    assert semantic.hits


def test_a_bad_database_url_is_a_usage_error(legajo: object) -> None:
    code, _, err = legajo("check", "--db", "nonsense")  # type: ignore[operator]
    assert code == 2
    assert "nonsense" in err


def test_indexes_of_another_database_live_apart(
    repository: Repository, home: Path, tmp_path: Path, legajo: object
) -> None:
    other = sqlite_url(tmp_path / "other.db")
    Repository(open_database(other)).database.close()
    assert legajo("reindex", "--only", "lexical", "--db", other)[0] == 0  # type: ignore[operator]
    folder = index_folder(home, other)
    assert folder.parent == _folder(home)
    assert (folder / "lexical.npz").exists()
    assert not (_folder(home) / "lexical.npz").exists()
