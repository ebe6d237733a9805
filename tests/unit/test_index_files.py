"""Index files: atomic writes, manifests, folders, and check/repair of the lexical index.

A real SQLite database holds a few pages; the semantic index (which needs the sentence
model) is covered by tests/integration/test_reindex_check.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from indexer.errors import IndexFileError
from indexer.search import index_files
from indexer.search.index_files import (
    LEXICAL,
    SEMANTIC,
    Manifest,
    Problem,
    check,
    index_folder,
    index_path,
    load_lexical,
    manifest_path,
    read_manifest,
    rebuild,
    repair,
    write_atomically,
)
from indexer.settings import sqlite_url
from indexer.store.db import head_revision, open_database
from indexer.store.repository import ModelKey, Repository, SourceFile

STEP = ProcessingStep("recognition", "legajo 0.1.0", model_id="m", model_revision="r1")


def make_page(name: str, texts: list[str]) -> tuple[SourceFile, Page]:
    lines = []
    for number, text in enumerate(texts):
        top = number * 50
        words = tuple(
            Word(word, 0.9, (10 * i, top, 10 * i + 8, top + 40))
            for i, word in enumerate(text.split())
        )
        lines.append(
            Line(
                id=f"l{number}",
                bbox=(0, top, 300, top + 40),
                polygon=((0, top), (299, top), (299, top + 39)),
                baseline=((0, top + 30), (299, top + 30)),
                text=text,
                confidence=0.9,
                words=words,
                alternatives=(Alternative(text, 0.8), Alternative(text.replace("u", "n"), 0.2)),
            )
        )
    page = Page(image=name, frame=0, width=300, height=400, lines=tuple(lines), steps=(STEP,))
    digest = hashlib.sha256(name.encode()).hexdigest()
    return SourceFile(name, digest, 100), page


def store(repository: Repository, name: str, texts: list[str]) -> None:
    collection = repository.ensure_collection("c")
    source, page = make_page(name, texts)
    repository.store_page(collection, None, source, page, ModelKey.of(STEP))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def repository(home: Path) -> Iterator[Repository]:
    database = open_database(sqlite_url(home / "legajo.db"))
    repository = Repository(database)
    store(repository, "folio1.jpg", ["sepan quantos esta carta vieren", "que yo el dicho"])
    yield repository
    database.close()


# -- files and folders ---------------------------------------------------------------------


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def write(stream: IO[bytes]) -> None:
        stream.write(b"new content")

    write_atomically(path, write)
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def fail(stream: IO[bytes]) -> None:
        stream.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_the_default_database_keeps_its_indexes_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert index_folder(home, sqlite_url(home / "legajo.db")) == home / "indexes"
    assert index_folder(home, sqlite_url((home / "legajo.db").resolve())) == home / "indexes"


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://user:***@host/legajo", "sqlite:////elsewhere/other.db"]
)
def test_other_databases_get_a_folder_of_their_own(tmp_path: Path, url: str) -> None:
    folder = index_folder(tmp_path, url)
    assert folder.parent == tmp_path / "indexes"
    assert folder.name == hashlib.sha256(url.encode()).hexdigest()[:16]


MANIFEST = Manifest(
    kind=LEXICAL,
    format=1,
    file="lexical.npz",
    size_bytes=10,
    sha256="ab" * 32,
    entries=3,
    database="sqlite:///x.db",
    schema_revision="0002",
    rows=3,
    max_row_id=3,
    change_id=7,
    built_at="2026-11-27T10:00:00+00:00",
    build_seconds=0.5,
    model_id=None,
)


def test_a_manifest_round_trips_through_json() -> None:
    assert Manifest.from_json(MANIFEST.to_json()) == MANIFEST


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 3}, "format"),  # 2 is the manifest of an index cut into shards
        ({"entries": "3"}, "wrong type"),
        ({"entries": True}, "wrong type"),
        ({"extra": 1}, "extra"),
        ({"kind": "other"}, "known index"),
    ],
)
def test_a_bad_manifest_is_refused(change: dict[str, object], message: str) -> None:
    values = json.loads(MANIFEST.to_json()) | change
    with pytest.raises(IndexFileError, match=message):
        Manifest.from_json(json.dumps(values))


def test_a_manifest_missing_a_key_or_not_json_is_refused() -> None:
    values = json.loads(MANIFEST.to_json())
    del values["sha256"]
    with pytest.raises(IndexFileError, match="missing manifest keys: sha256"):
        Manifest.from_json(json.dumps(values))
    with pytest.raises(IndexFileError, match="JSON"):
        Manifest.from_json("{not json")
    with pytest.raises(IndexFileError, match="JSON object"):
        Manifest.from_json("[1, 2]")


# -- rebuilding and checking -------------------------------------------------------------


def _folder(repository: Repository, home: Path) -> Path:
    return index_folder(home, repository.database.url)


def test_rebuild_writes_the_index_and_its_manifest(repository: Repository, home: Path) -> None:
    manifest = rebuild(repository, home, LEXICAL)
    folder = home / "indexes"
    assert read_manifest(folder, LEXICAL) == manifest
    forms = dict(repository.word_forms())
    assert (manifest.entries, manifest.rows, manifest.max_row_id) == (
        len(forms),
        len(forms),
        max(forms),
    )
    assert manifest.change_id == repository.last_change_id() > 0
    assert manifest.schema_revision == head_revision()
    assert manifest.size_bytes == index_path(folder, LEXICAL).stat().st_size
    assert manifest.sha256 == hashlib.sha256(index_path(folder, LEXICAL).read_bytes()).hexdigest()
    assert sorted(p.name for p in folder.iterdir()) == ["lexical.json", "lexical.npz"]
    [status] = check(repository, home, [LEXICAL])
    assert status.ok, status.detail
    assert f"{len(forms)} word forms" in status.detail


def test_missing_files_are_reported(repository: Repository, home: Path) -> None:
    statuses = check(repository, home)
    assert [(s.kind, s.problem) for s in statuses] == [
        (LEXICAL, Problem.MISSING),
        (SEMANTIC, Problem.MISSING),
    ]
    rebuild(repository, home, LEXICAL)
    index_path(_folder(repository, home), LEXICAL).unlink()
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.MISSING
    assert "no index file" in status.detail


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [_truncate, _garble, lambda path: path.write_bytes(b"garbage")],
    ids=["truncated", "one-byte-flipped", "garbage"],
)
def test_a_corrupt_index_file_is_detected_and_repaired(
    repository: Repository, home: Path, damage: object
) -> None:
    rebuild(repository, home, LEXICAL)
    damage(index_path(_folder(repository, home), LEXICAL))  # type: ignore[operator]
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.UNREADABLE
    assert "does not match its manifest" in status.detail
    assert load_lexical(repository, home) is None  # searches fall back, never crash
    [manifest] = repair(repository, home, [status])
    assert manifest.entries == len(dict(repository.word_forms()))
    assert check(repository, home, [LEXICAL])[0].ok
    assert load_lexical(repository, home) is not None


def test_a_corrupt_file_with_a_matching_manifest_is_unreadable(
    repository: Repository, home: Path
) -> None:
    # Damage that the manifest's checksum cannot see: both rewritten together.
    rebuild(repository, home, LEXICAL)
    folder = _folder(repository, home)
    path = index_path(folder, LEXICAL)
    _truncate(path)
    manifest = read_manifest(folder, LEXICAL)
    data = path.read_bytes()
    fake = replace(manifest, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest_path(folder, LEXICAL).write_text(fake.to_json())
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.UNREADABLE
    assert "unreadable lexical index" in status.detail


def test_an_unreadable_manifest_is_reported(repository: Repository, home: Path) -> None:
    rebuild(repository, home, LEXICAL)
    manifest_path(_folder(repository, home), LEXICAL).write_text("{garbage")
    [status] = check(repository, home, [LEXICAL])
    assert (status.problem, status.manifest) == (Problem.UNREADABLE, None)
    assert load_lexical(repository, home) is None
    repair(repository, home, [status])
    assert check(repository, home, [LEXICAL])[0].ok


def test_a_wrong_count_is_a_mismatch(repository: Repository, home: Path) -> None:
    manifest = rebuild(repository, home, LEXICAL)
    path = manifest_path(_folder(repository, home), LEXICAL)
    path.write_text(replace(manifest, entries=manifest.entries + 5).to_json())
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.MISMATCH
    assert "its manifest says" in status.detail
    path.write_text(replace(manifest, rows=manifest.rows - 1).to_json())
    assert check(repository, home, [LEXICAL])[0].problem is Problem.MISMATCH


def test_new_forms_make_the_index_stale_and_repair_catches_up(
    repository: Repository, home: Path
) -> None:
    old = rebuild(repository, home, LEXICAL)
    store(repository, "folio2.jpg", ["otrosi mandamos al escrivano"])
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.STALE
    assert "word forms stored since" in status.detail
    [new] = repair(repository, home, [status])
    assert new.entries > old.entries
    assert new.max_row_id == repository.max_form_id()
    assert check(repository, home, [LEXICAL])[0].ok
    index = load_lexical(repository, home)
    assert index is not None
    assert index.search("escriuano", k=1)[0].form == "escrivano"


def test_a_correction_without_new_forms_leaves_the_lexical_index_fresh(
    repository: Repository, home: Path
) -> None:
    rebuild(repository, home, LEXICAL)
    line = repository.lines(repository.pages()[0].id)[0]
    repository.correct_line(line.id, "que quantos", expected_version=line.version, editor="t")
    assert check(repository, home, [LEXICAL])[0].ok


@pytest.mark.parametrize(
    ("built_at", "ok"),
    [
        ("0002", True),
        ("0003", True),
        ("0004", True),
        ("0005", True),
        ("0006", True),
        ("0001", False),
    ],
)
def test_an_index_stays_valid_across_revisions_that_do_not_change_its_content(
    repository: Repository, home: Path, built_at: str, ok: bool
) -> None:
    rebuild(repository, home, LEXICAL)
    path = manifest_path(_folder(repository, home), LEXICAL)
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "schema_revision": built_at}), encoding="utf-8")
    [status] = check(repository, home, [LEXICAL])
    assert status.ok is ok, status.detail
    if not ok:
        assert status.problem is Problem.FOREIGN
        assert "schema revision 0001" in status.detail


def test_an_index_of_a_larger_database_is_foreign(
    repository: Repository, home: Path, tmp_path: Path
) -> None:
    other_home = tmp_path / "other"
    other = Repository(open_database(sqlite_url(other_home / "legajo.db")))
    store(other, "folio1.jpg", ["sepan quantos esta carta vieren", "que yo el dicho"])
    store(other, "folio9.jpg", ["muchas mas palabras nuevas aqui"])
    rebuild(other, other_home, LEXICAL)
    other.database.close()
    folder = _folder(repository, home)
    folder.mkdir(parents=True)
    for name in ("lexical.npz", "lexical.json"):
        (folder / name).write_bytes((other_home / "indexes" / name).read_bytes())
    [status] = check(repository, home, [LEXICAL])
    assert status.problem is Problem.FOREIGN
    assert load_lexical(repository, home) is None
    repair(repository, home, [status])
    assert check(repository, home, [LEXICAL])[0].ok


def test_loading_a_bad_file_logs_and_returns_none(
    repository: Repository, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_lexical(repository, home) is None  # no file yet: quietly None
    rebuild(repository, home, LEXICAL)
    index_path(_folder(repository, home), LEXICAL).write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger=index_files.__name__):
        assert load_lexical(repository, home) is None
    assert "cannot use the lexical index file" in caplog.text


def test_repair_leaves_sound_indexes_alone(repository: Repository, home: Path) -> None:
    rebuild(repository, home, LEXICAL)
    before = manifest_path(_folder(repository, home), LEXICAL).read_text()
    assert repair(repository, home, check(repository, home, [LEXICAL])) == []
    assert manifest_path(_folder(repository, home), LEXICAL).read_text() == before


def test_an_unknown_kind_is_refused(repository: Repository, home: Path) -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        rebuild(repository, home, "phonetic")
