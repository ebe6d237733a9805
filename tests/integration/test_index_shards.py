"""Search indexes cut into shards, on a temporary SQLite database with the real sentence model.

The same database is indexed as one file and as three shards, and both must answer fuzzy
and semantic searches alike (flat shards: the same ids and scores); a deleted and a corrupt
shard are named by `legajo check` and `check --repair` rebuilds only those; a correction and
a new page reach the shards that hold their lines; `legajo reindex --shards 3` and back to
one file; and ``--engine ray`` on a real local Ray cluster builds the shards the local
engine builds.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.search.index_files import (
    LEXICAL,
    SEMANTIC,
    catch_up_semantic,
    check,
    index_folder,
    load_lexical,
    load_semantic,
    read_manifest,
    rebuild,
)
from indexer.search.lexical import LexicalIndex
from indexer.search.semantic import SemanticIndex
from indexer.search.sharded import ShardedLexicalIndex, ShardedSemanticIndex
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.repository import Repository
from legajo.cli.common import EXIT_DRIFT
from tests.conftest import REPO
from tests.integration.stored_pages import LegajoRunner, legajo_runner, store_texts
from tests.integration.test_ray_engine import _environment, ray_head

pytestmark = pytest.mark.slow  # the sentence model is loaded (once per session)

__all__ = ["ray_head"]  # a fixture, imported to be used here

PAGES = 30
LINES_PER_PAGE = 7
SYLLABLES = [
    "ca", "sa", "do", "re", "mi", "fa", "so", "la", "ti", "pe", "ro", "ma", "nu", "el",
    "an", "yo", "qu", "es", "ta", "ri", "go", "ble", "tra", "vi", "der", "con", "mos",
]  # fmt: skip
FUZZY_QUERIES = 12
SEMANTIC_QUERIES = (
    "the notary gives testimony",
    "a ship sailed from the port",
    "the town council orders a payment",
    "in the name of god amen",
)


def _vocabulary(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def store(repository: Repository, name: str, texts: list[str]) -> None:
    store_texts(repository, name, texts, swap=("u", "v"))


def _texts(seed: int, count: int) -> list[str]:
    """`count` distinct lines of twelve words each, some of them sentences with meaning."""
    rng = random.Random(seed)
    words = _vocabulary(seed, 4000)
    meaning = [
        "el escribano da fe y testimonio",
        "partio la nao del puerto de sevilla",
        "el cabildo manda pagar los maravedis",
        "en el nombre de dios amen sepan quantos",
    ]
    texts = []
    for number in range(count):
        line = " ".join(rng.choice(words) for _ in range(12))
        if number % 17 == 5:
            line = f"{meaning[number % len(meaning)]} {line}"
        texts.append(line)
    return texts


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _filled(home: Path, pages: int) -> Repository:
    repository = Repository(open_database(sqlite_url(home / "legajo.db")))
    texts = _texts(7, pages * LINES_PER_PAGE)
    for page in range(pages):
        chunk = texts[page * LINES_PER_PAGE : (page + 1) * LINES_PER_PAGE]
        store(repository, f"folio{page:03d}.jpg", chunk)
    return repository


@pytest.fixture
def repository(home: Path) -> Iterator[Repository]:
    repository = _filled(home, PAGES)
    yield repository
    repository.database.close()


@pytest.fixture
def small_repository(home: Path) -> Iterator[Repository]:
    """A third of `repository`: the Ray test embeds its passages twice."""
    repository = _filled(home, PAGES // 3)
    yield repository
    repository.database.close()


@pytest.fixture
def legajo(home: Path, capsys: pytest.CaptureFixture[str]) -> LegajoRunner:
    """Runs a legajo command on the test's home; returns (exit code, stdout, stderr)."""
    return legajo_runner(home, capsys)


def _fuzzy_words(repository: Repository) -> list[str]:
    """Stored forms with one letter changed: near misses for the lexical index."""
    rng = random.Random(3)
    forms = [form for _, form in repository.word_forms() if len(form) >= 5]
    words = []
    for form in rng.sample(forms, FUZZY_QUERIES):
        position = rng.randrange(len(form))
        words.append(form[:position] + "x" + form[position + 1 :])
    return words


def _shard_files(home: Path, kind: str) -> dict[int, str]:
    manifest = read_manifest(home / "indexes", kind)
    return {entry.number: entry.file for entry in manifest.shards}


def test_three_flat_shards_answer_as_one_index(repository: Repository, home: Path) -> None:
    from indexer.search.service import SearchService

    words = _fuzzy_words(repository)
    rebuild(repository, home, LEXICAL, shards=1)
    rebuild(repository, home, SEMANTIC, shards=1)
    single_lexical = load_lexical(repository, home)
    single_semantic = load_semantic(repository, home)
    assert isinstance(single_lexical, LexicalIndex)
    assert single_semantic is not None and isinstance(single_semantic[0], SemanticIndex)
    service = SearchService(repository, home)
    single_fuzzy = [service.search(word, mode="fuzzy").hits for word in words]
    single_meaning = [service.search(q, mode="semantic").hits for q in SEMANTIC_QUERIES]

    lexical_manifest = rebuild(repository, home, LEXICAL, shards=3)
    semantic_manifest = rebuild(repository, home, SEMANTIC, shards=3)
    folder = home / "indexes"
    assert sorted(path.name for path in folder.iterdir()) == [
        "lexical.json",
        "lexical.shards",
        "semantic.json",
        "semantic.shards",
    ]
    for manifest in (lexical_manifest, semantic_manifest):
        assert [entry.index_type for entry in manifest.shards] == ["flat"] * 3
        assert manifest.shards[0].first_id == 1 and manifest.shards[-1].last_id is None
        for before, after in zip(manifest.shards, manifest.shards[1:], strict=False):
            assert before.last_id == after.first_id - 1
        assert sum(entry.entries for entry in manifest.shards) == manifest.entries
        assert min(entry.entries for entry in manifest.shards) > manifest.entries // 4
    assert lexical_manifest.entries == len(single_lexical) > 1000  # more than one search's 1,000
    sharded_lexical = load_lexical(repository, home)
    sharded_semantic = load_semantic(repository, home)
    assert isinstance(sharded_lexical, ShardedLexicalIndex)
    assert sharded_semantic is not None and isinstance(sharded_semantic[0], ShardedSemanticIndex)

    for word in words:
        expected = single_lexical.search(word, k=20, min_similarity=0.5)
        assert expected, word
        assert sharded_lexical.search(word, k=20, min_similarity=0.5) == expected
    for query in SEMANTIC_QUERIES:
        expected_passages = single_semantic[0].search(query, k=15)
        found = sharded_semantic[0].search(query, k=15)
        # A passage's vector depends a little (1e-7) on the batch it was embedded in.
        assert [i for i, _ in found] == [i for i, _ in expected_passages]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected_passages], abs=1e-6)

    service = SearchService(repository, home)
    assert [service.search(word, mode="fuzzy").hits for word in words] == single_fuzzy
    for query, expected in zip(SEMANTIC_QUERIES, single_meaning, strict=True):
        hits = service.search(query, mode="semantic").hits
        assert [(h.line_id, h.text) for h in hits] == [(h.line_id, h.text) for h in expected]
        assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=1e-6)


def test_check_names_a_deleted_and_a_corrupt_shard_and_repair_rebuilds_only_those(
    repository: Repository, home: Path, legajo: object, caplog: pytest.LogCaptureFixture
) -> None:
    from indexer.search.service import SearchService

    assert legajo("reindex", "--shards", "3")[0] == 0  # type: ignore[operator]
    assert legajo("check")[0] == 0  # type: ignore[operator]
    lexical_files, semantic_files = _shard_files(home, LEXICAL), _shard_files(home, SEMANTIC)
    (home / "indexes" / "lexical.shards" / lexical_files[1]).unlink()
    (home / "indexes" / "semantic.shards" / semantic_files[2]).write_bytes(b"garbage")

    code, out, _ = legajo("check")  # type: ignore[operator]
    assert code == EXIT_DRIFT
    lexical_line = next(line for line in out.splitlines() if line.startswith("lexical:"))
    semantic_line = next(line for line in out.splitlines() if line.startswith("semantic:"))
    assert "lexical: missing: shard 1 (ids " in lexical_line, out
    assert "shard 0" not in lexical_line and "shard 2" not in lexical_line
    assert "semantic: unreadable: shard 2 (ids " in semantic_line, out
    assert "on)" in semantic_line  # the last shard's range is open

    # Searches never raise for a bad shard: that shard alone is built from the database.
    with caplog.at_level(logging.WARNING):
        lexical = load_lexical(repository, home)
        semantic = load_semantic(repository, home)
    assert isinstance(lexical, ShardedLexicalIndex)
    assert len(lexical) == read_manifest(home / "indexes", LEXICAL).entries
    assert semantic is not None and isinstance(semantic[0], ShardedSemanticIndex)
    assert len(semantic[0]) == read_manifest(home / "indexes", SEMANTIC).entries
    rebuilt = [r.getMessage() for r in caplog.records if "building that shard" in r.getMessage()]
    assert len(rebuilt) == 2 and "shard 1 " in rebuilt[0] and "shard 2 " in rebuilt[1], rebuilt
    service = SearchService(repository, home)
    assert service.search(_fuzzy_words(repository)[0], mode="fuzzy").hits
    assert service.search(SEMANTIC_QUERIES[0], mode="semantic").hits

    # A new page meanwhile: after its shard is rebuilt, the index is brought up to date too.
    store(repository, "folio_new.jpg", ["otrosi mandamos que los vezinos paguen zzqzz"])
    code, out, _ = legajo("check", "--repair")  # type: ignore[operator]
    assert code == EXIT_DRIFT, out
    assert "lexical: repaired:" in out and "in 3 shards" in out
    new_lexical, new_semantic = _shard_files(home, LEXICAL), _shard_files(home, SEMANTIC)
    assert {n for n in new_lexical if new_lexical[n] != lexical_files[n]} == {1, 2}
    assert {n for n in new_semantic if new_semantic[n] != semantic_files[n]} == {2}
    assert legajo("check")[0] == 0  # type: ignore[operator]
    # Nothing is left of the files the repair replaced.
    for kind, files in ((LEXICAL, new_lexical), (SEMANTIC, new_semantic)):
        folder = home / "indexes" / f"{kind}.shards"
        assert sorted(path.name for path in folder.iterdir()) == sorted(files.values())


def test_a_correction_and_a_new_page_reach_the_shards_of_their_lines(
    repository: Repository, home: Path, legajo: object
) -> None:
    assert legajo("reindex", "--shards", "3")[0] == 0  # type: ignore[operator]
    lexical_files, semantic_files = _shard_files(home, LEXICAL), _shard_files(home, SEMANTIC)
    first_page = repository.pages()[0].id
    line = repository.lines(first_page)[2]  # a low id: the first shard's
    corrected = "el escribano da fe de la llegada de la flota de indias"
    repository.correct_line(line.id, corrected, "tester", line.version)
    store(repository, "folio_new.jpg", ["otrosi mandamos que los vezinos paguen zzqzz"])

    loaded = load_semantic(repository, home)
    assert loaded is not None
    index, change = loaded
    assert isinstance(index, ShardedSemanticIndex)
    catch_up_semantic(index, repository, change)
    assert index.dirty == {0, 2}  # the corrected line's shard and the last one
    assert index.search(corrected, k=1)[0][0] == line.id
    lexical = load_lexical(repository, home)
    assert isinstance(lexical, ShardedLexicalIndex)
    lexical.add(repository.word_forms(after_id=lexical.max_id))
    assert lexical.dirty == {2}
    assert lexical.search("zzqzz", k=1)[0].form == "zzqzz"

    statuses = {status.kind: status for status in check(repository, home)}
    assert statuses[LEXICAL].problem == "stale" and statuses[SEMANTIC].problem == "stale"
    code, out, _ = legajo("check", "--repair")  # type: ignore[operator]
    assert code == EXIT_DRIFT, out
    new_lexical, new_semantic = _shard_files(home, LEXICAL), _shard_files(home, SEMANTIC)
    assert {n for n in new_lexical if new_lexical[n] != lexical_files[n]} == {2}
    assert {n for n in new_semantic if new_semantic[n] != semantic_files[n]} == {0, 2}
    assert legajo("check")[0] == 0  # type: ignore[operator]
    reloaded = load_semantic(repository, home)
    assert reloaded is not None and reloaded[1] == repository.last_change_id()
    assert reloaded[0].search(corrected, k=1)[0][0] == line.id


def test_reindex_shards_on_the_command_line_and_back_to_one_file(
    repository: Repository, home: Path, legajo: object
) -> None:
    code, out, err = legajo("reindex", "--shards", "3")  # type: ignore[operator]
    assert code == 0, err
    assert "in 3 shards (flat, flat, flat)" in out
    assert "lexical.shards" in out and "semantic.shards" in out
    code, out, _ = legajo("check")  # type: ignore[operator]
    assert code == 0 and "in 3 shards" in out
    manifest = json.loads((home / "indexes" / "semantic.json").read_text())
    assert manifest["format"] == 2 and len(manifest["shards"]) == 3
    assert set(manifest["shards"][0]) >= {"file", "first_id", "last_id", "index_type", "sha256"}

    code, out, err = legajo("reindex")  # type: ignore[operator]  # auto: one file at this size
    assert code == 0, err
    assert " shards (" not in out and ".shards" not in out
    assert sorted(path.name for path in (home / "indexes").iterdir()) == [
        "lexical.json",
        "lexical.npz",
        "semantic.faiss",
        "semantic.json",
    ]
    one_file = json.loads((home / "indexes" / "lexical.json").read_text())
    assert one_file["format"] == 1 and "shards" not in one_file
    assert legajo("check")[0] == 0  # type: ignore[operator]

    code, _, err = legajo("reindex", "--workers", "2")  # type: ignore[operator]
    assert code == 2 and "only with --engine ray" in err


def test_the_ray_engine_builds_the_shards_the_local_engine_builds(
    ray_head: tuple[str, Path], small_repository: Repository, tmp_path: Path
) -> None:
    repository = small_repository
    address, temp_dir = ray_head
    url = repository.database.url
    local_home, ray_home = tmp_path / "local", tmp_path / "ray"
    for kind in (LEXICAL, SEMANTIC):
        rebuild(repository, local_home, kind, shards=3)
    command = [sys.executable, "-m", "legajo", "reindex", "--shards", "3", "--db", url]
    command += ["--home", str(ray_home), "--engine", "ray", "--address", address]
    started = time.monotonic()
    on_ray = subprocess.run(
        [*command, "--workers", "2"],
        cwd=REPO,
        env=_environment(temp_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(f"reindex on Ray took {time.monotonic() - started:.1f} s")
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    assert "in 3 shards" in on_ray.stdout

    for kind in (LEXICAL, SEMANTIC):
        built_here = read_manifest(index_folder(local_home, url), kind)
        built_on_ray = read_manifest(index_folder(ray_home, url), kind)
        assert [
            (e.number, e.first_id, e.last_id, e.index_type, e.entries, e.max_id)
            for e in built_on_ray.shards
        ] == [
            (e.number, e.first_id, e.last_id, e.index_type, e.entries, e.max_id)
            for e in built_here.shards
        ]
        assert built_on_ray.model_id == built_here.model_id
    # The same forms in the same shards make the same files (the vectoriser is exact).
    lexical_here = read_manifest(index_folder(local_home, url), LEXICAL)
    lexical_on_ray = read_manifest(index_folder(ray_home, url), LEXICAL)
    assert [e.sha256 for e in lexical_on_ray.shards] == [e.sha256 for e in lexical_here.shards]
    here = load_semantic(repository, local_home)
    there = load_semantic(repository, ray_home)
    assert here is not None and there is not None
    for query in SEMANTIC_QUERIES:
        expected = here[0].search(query, k=10)
        found = there[0].search(query, k=10)
        assert [i for i, _ in found] == [i for i, _ in expected]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert check(repository, ray_home)[0].ok
