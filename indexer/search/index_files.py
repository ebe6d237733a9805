"""The search index files: where they live, how they are written, checked and rebuilt.

The database is the source of truth; the FAISS indexes (`indexer.search.lexical`,
`indexer.search.semantic`) are caches derived from it, keyed by database ids. Each index is one
file plus a JSON manifest beside it::

    <home>/indexes/lexical.npz        word forms by spelling      (LexicalIndex)
    <home>/indexes/lexical.json
    <home>/indexes/semantic.faiss     lines and windows by meaning (SemanticIndex)
    <home>/indexes/semantic.json

for the default database (``<home>/legajo.db``); the indexes of any other database (another
SQLite file, PostgreSQL) go to ``<home>/indexes/<first 16 hex digits of the SHA-256 of its
URL>/``, so two databases never share index files.

A manifest (`Manifest`) records what the file is (kind, format, size, SHA-256, entries, the
sentence model for the semantic index) and what it was built from: the database's schema
revision and, at build time, the count and highest id of the rows it covers (word forms or
lines) and the high-water mark of the ``search_changes`` feed. Files and manifests are
written atomically (`write_atomically`: a temporary file in the same folder, fsync, rename),
the index file first; a crash between the two leaves a manifest that no longer matches its
file, which `check` reports and `repair` fixes.

`check` compares each index with its manifest and the database and reports, per index, one
`Problem`: the file or manifest is missing; unreadable (corrupt, truncated, not matching its
manifest, another format); foreign (built for another database or schema, ahead of this
database's change feed); mismatched (its count disagrees with its manifest or the database);
or stale (the database changed after it was built; searches catch up in memory, but the
file is behind). `repair` rebuilds what is missing, unreadable, foreign or mismatched, and
brings a stale index up to date in place. `load_lexical` and `load_semantic` are what the
search service uses: they never raise on a bad file, they log it and return None, and the
service builds the index from the database instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from indexer.errors import IndexerError, IndexFileError
from indexer.settings import DATABASE_FILE, sqlite_url

if TYPE_CHECKING:
    from indexer.search.lexical import LexicalIndex
    from indexer.search.semantic import SemanticIndex
    from indexer.store.repository import Repository

logger = logging.getLogger(__name__)

INDEX_FOLDER = "indexes"
"""Folder of the index files inside legajo's home."""

LEXICAL, SEMANTIC = "lexical", "semantic"
KINDS = (LEXICAL, SEMANTIC)
"""The kinds of index, in the order they are checked and rebuilt."""

INDEX_FILES = {LEXICAL: "lexical.npz", SEMANTIC: "semantic.faiss"}
"""File name of each kind of index."""

MANIFEST_FORMAT = 1
"""Version of the manifest layout; a manifest of another version counts as unreadable."""

SemanticProgress = Callable[[int, int], None]
"""Called with (passages embedded so far, passages in all) while a semantic index is built."""

_HASH_CHUNK = 1 << 20


class Problem(StrEnum):
    """What is wrong with an index file (see the module docstring)."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    FOREIGN = "foreign"
    MISMATCH = "mismatch"
    STALE = "stale"


class _ModelUnavailableError(IndexFileError):
    """The sentence model a semantic index file names cannot be found here."""


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """What an index is built from, as the database holds it now.

    Attributes:
        schema_revision: The Alembic revision of the database.
        forms: Rows of ``word_forms``.
        max_form_id: Highest word-form id (0 without forms).
        lines: Rows of ``lines``.
        change_id: Latest id of the ``search_changes`` feed (0 when empty).
    """

    schema_revision: str | None
    forms: int
    max_form_id: int
    lines: int
    change_id: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an index file is and what it was built from (``<kind>.json``).

    Attributes:
        kind: `LEXICAL` or `SEMANTIC`.
        format: `MANIFEST_FORMAT` when written.
        file: The index file's name, in the manifest's folder.
        size_bytes: The index file's size.
        sha256: The index file's SHA-256, hex.
        entries: Vectors in the index (forms, or lines and windows).
        database: The database's URL, password hidden.
        schema_revision: Its schema revision.
        rows: Rows covered at build time: word forms (lexical) or lines (semantic).
        max_row_id: Highest id of those rows (the semantic index records 0: lines come and
            go, the change feed tells what changed).
        change_id: High-water mark of the ``search_changes`` feed the index includes.
        built_at: When the file was written, ISO 8601 UTC.
        build_seconds: How long building (or catching up) took.
        model_id: The sentence model of a semantic index; None for the lexical index.
    """

    kind: str
    format: int
    file: str
    size_bytes: int
    sha256: str
    entries: int
    database: str
    schema_revision: str | None
    rows: int
    max_row_id: int
    change_id: int
    built_at: str
    build_seconds: float
    model_id: str | None

    def to_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parses a manifest.

        Raises:
            IndexFileError: If the text is not a manifest of this format.
        """
        try:
            values = json.loads(text)
        except ValueError as error:
            raise IndexFileError(f"not JSON ({error})") from error
        if not isinstance(values, dict):
            raise IndexFileError("not a JSON object")
        if values.get("format") != MANIFEST_FORMAT:
            raise IndexFileError(
                f"manifest format {values.get('format')!r}, this legajo reads {MANIFEST_FORMAT}"
            )
        names = {field.name for field in fields(cls)}
        if set(values) != names:
            odd = sorted(set(values) ^ names)
            raise IndexFileError(f"unexpected or missing manifest keys: {', '.join(odd)}")
        for name, value in values.items():
            if not isinstance(value, _FIELD_TYPES[name]) or isinstance(value, bool):
                raise IndexFileError(f"manifest key {name!r} has the wrong type")
        manifest = cls(**values)
        if manifest.kind not in KINDS:
            raise IndexFileError(f"not a manifest of a known index ({manifest.kind!r})")
        return manifest


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "format": int,
    "file": str,
    "size_bytes": int,
    "sha256": str,
    "entries": int,
    "database": str,
    "schema_revision": (str, type(None)),
    "rows": int,
    "max_row_id": int,
    "change_id": int,
    "built_at": str,
    "build_seconds": (int, float),
    "model_id": (str, type(None)),
}


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """The outcome of checking one index.

    Attributes:
        kind: `LEXICAL` or `SEMANTIC`.
        path: The index file.
        problem: What is wrong, None when the index is sound and up to date.
        detail: A sentence for people: what was found, or what the index holds.
        manifest: The manifest, when it could be read.
    """

    kind: str
    path: Path
    problem: Problem | None
    detail: str
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.problem is None


def index_folder(home: Path, database_url: str) -> Path:
    """The folder of a database's index files (module docstring); nothing is created.

    Args:
        home: legajo's data folder.
        database_url: The database's URL (as `indexer.store.db.Database.url` gives it).
    """
    folder = Path(home) / INDEX_FOLDER
    if _same_sqlite_file(database_url, Path(home) / DATABASE_FILE):
        return folder
    return folder / hashlib.sha256(database_url.encode()).hexdigest()[:16]


def index_path(folder: Path, kind: str) -> Path:
    """The index file of a kind in a folder."""
    return folder / INDEX_FILES[kind]


def manifest_path(folder: Path, kind: str) -> Path:
    """The manifest of a kind in a folder."""
    return folder / f"{kind}.json"


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Writes a file so that readers see either the old file or the whole new one.

    The content goes to a temporary file in the same folder, is flushed to disk, and the
    temporary file is renamed over `path`; the folder is then flushed too, so the rename
    survives a power cut.

    Args:
        path: The file; its folder must exist.
        write: Writes the content to the stream it is given.

    Raises:
        OSError: If the file cannot be written; `path` is then untouched.
    """
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def read_manifest(folder: Path, kind: str) -> Manifest:
    """Reads the manifest of an index.

    Raises:
        FileNotFoundError: If there is none.
        IndexFileError: If it cannot be read or is not a manifest of `kind`.
    """
    path = manifest_path(folder, kind)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise IndexFileError(f"{path}: unreadable manifest ({error})") from error
    try:
        manifest = Manifest.from_json(text)
    except IndexFileError as error:
        raise IndexFileError(f"{path}: {error}") from error
    if manifest.kind != kind or manifest.file != INDEX_FILES[kind]:
        raise IndexFileError(f"{path}: manifest of {manifest.kind} file {manifest.file!r}")
    return manifest


def database_state(repository: Repository) -> DatabaseState:
    """What the database holds now, as index manifests record it."""
    from indexer.store.db import schema_revision

    counts = repository.search_counts()
    return DatabaseState(
        schema_revision=schema_revision(repository.database),
        forms=counts["word_forms"],
        max_form_id=repository.max_form_id(),
        lines=repository.table_counts()["lines"],
        change_id=repository.last_change_id(),
    )


# -- building --------------------------------------------------------------------------------


def rebuild(
    repository: Repository,
    home: Path,
    kind: str,
    *,
    semantic_model: str | Path | None = None,
    on_progress: SemanticProgress | None = None,
) -> Manifest:
    """Builds an index from the database and writes its file and manifest.

    Args:
        repository: The database.
        home: legajo's data folder.
        kind: `LEXICAL` or `SEMANTIC`.
        semantic_model: The sentence model (see `indexer.search.semantic.resolve_model`); None
            keeps the model of the existing semantic index, or uses the packaged default.
        on_progress: Progress of the semantic embedding.

    Returns:
        The new manifest.

    Raises:
        ValueError: If `kind` is unknown.
        SemanticModelError: If the sentence model cannot be loaded.
        OSError: If the files cannot be written.
    """
    folder = index_folder(home, repository.database.url)
    folder.mkdir(parents=True, exist_ok=True)
    # The state is read before the rows: changes made meanwhile are applied again later,
    # which is harmless (applying a change is idempotent), while missing one would not be.
    state = database_state(repository)
    started = time.perf_counter()
    if kind == LEXICAL:
        from indexer.search.lexical import LexicalIndex

        lexical = LexicalIndex.build(repository.word_forms())
        return save_index(
            repository, home, lexical, state=state, build_seconds=time.perf_counter() - started
        )
    if kind == SEMANTIC:
        from indexer.search.passages import collection_passages
        from indexer.search.semantic import SemanticIndex

        model = semantic_model if semantic_model is not None else _previous_model(folder)
        semantic = SemanticIndex(model)
        semantic.build(collection_passages(repository.line_texts()), on_progress=on_progress)
        return save_index(
            repository, home, semantic, state=state, build_seconds=time.perf_counter() - started
        )
    raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")


def save_index(
    repository: Repository,
    home: Path,
    index: LexicalIndex | SemanticIndex,
    *,
    state: DatabaseState,
    build_seconds: float,
) -> Manifest:
    """Writes an index file and then its manifest, both atomically.

    Args:
        repository: The database the index was built from.
        home: legajo's data folder.
        index: The index.
        state: `database_state` as read before the index's rows were.
        build_seconds: How long the index took to build (for the manifest).

    Returns:
        The manifest written.

    Raises:
        OSError: If a file cannot be written.
    """
    from indexer.search.lexical import LexicalIndex

    kind = LEXICAL if isinstance(index, LexicalIndex) else SEMANTIC
    folder = index_folder(home, repository.database.url)
    folder.mkdir(parents=True, exist_ok=True)
    path = index_path(folder, kind)
    index.save(path)
    size, digest = _size_and_digest(path)
    manifest = Manifest(
        kind=kind,
        format=MANIFEST_FORMAT,
        file=path.name,
        size_bytes=size,
        sha256=digest,
        entries=len(index),
        database=repository.database.url,
        schema_revision=state.schema_revision,
        rows=len(index) if isinstance(index, LexicalIndex) else state.lines,
        max_row_id=index.max_id if isinstance(index, LexicalIndex) else 0,
        change_id=state.change_id,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=round(build_seconds, 3),
        model_id=None if isinstance(index, LexicalIndex) else index.model_id,
    )
    text = manifest.to_json().encode()

    def write(stream: IO[bytes]) -> None:
        stream.write(text)

    write_atomically(manifest_path(folder, kind), write)
    logger.info("wrote the %s index (%d entries) to %s", kind, manifest.entries, path)
    return manifest


def catch_up_semantic(index: SemanticIndex, repository: Repository, after_change: int) -> int:
    """Applies the change feed after a high-water mark to a semantic index.

    A deleted line loses its passage and the window it starts; every page with a stored or
    corrected line gets all its passages again (`indexer.search.passages.page_passages`), since a
    line's text is also part of its neighbours' windows.

    Args:
        index: The index, as of `after_change`.
        repository: The database.
        after_change: The index's high-water mark.

    Returns:
        The new high-water mark (`after_change` when nothing changed).
    """
    from indexer.search.passages import page_passages

    changes = repository.changes_since(after_change)
    if not changes:
        return after_change
    deleted = {line_id for _, line_id, kind in changes if kind == "delete"}
    if deleted:
        index.remove([*deleted, *(-line_id for line_id in deleted)])
    pages = sorted({page for _, page, _, _ in repository.line_texts(after_change=after_change)})
    for page_id in pages:
        lines = [(line_id, text) for line_id, _, text in repository.page_line_texts(page_id)]
        index.remove([*(line_id for line_id, _ in lines), *(-line_id for line_id, _ in lines)])
        index.upsert(page_passages(lines))
    return changes[-1][0]


# -- loading for searches ---------------------------------------------------------------------


def load_lexical(repository: Repository, home: Path) -> LexicalIndex | None:
    """The saved lexical index, if its file is sound and belongs to this database.

    Never raises for a bad file: a missing, corrupt or foreign file is logged and None is
    returned, so that the caller builds the index from the database. The index may be
    behind the database: add ``repository.word_forms(after_id=index.max_id)``.
    """
    from indexer.search.lexical import LexicalIndex

    folder = index_folder(home, repository.database.url)
    try:
        manifest = _manifest_for_loading(folder, LEXICAL)
        if manifest is None:
            return None
        if manifest.max_row_id > repository.max_form_id():
            logger.warning(
                "lexical index %s holds forms this database does not (built for another "
                "database?); ignoring it",
                index_path(folder, LEXICAL),
            )
            return None
        index = LexicalIndex.load(index_path(folder, LEXICAL))
    except (IndexerError, OSError) as error:
        logger.warning("cannot use the lexical index file, building it anew: %s", error)
        return None
    if len(index) != manifest.entries or index.max_id != manifest.max_row_id:
        logger.warning("lexical index file does not match its manifest; ignoring it")
        return None
    return index


def load_semantic(
    repository: Repository, home: Path, model: str | Path | None = None
) -> tuple[SemanticIndex, int] | None:
    """The saved semantic index and its high-water mark, if its file is sound and fits.

    Never raises for a bad file: a missing, corrupt or foreign file, or one built with
    another model than `model`, is logged and None is returned. Apply the change feed after
    the returned high-water mark (`catch_up_semantic`) before searching.

    Args:
        repository: The database.
        home: legajo's data folder.
        model: The sentence model the caller searches with (None: the packaged default).
    """
    from indexer.search.semantic import SemanticIndex

    folder = index_folder(home, repository.database.url)
    try:
        manifest = _manifest_for_loading(folder, SEMANTIC)
        if manifest is None:
            return None
        if manifest.change_id > repository.last_change_id():
            logger.warning(
                "semantic index %s is ahead of this database's change feed (built for "
                "another database?); ignoring it",
                index_path(folder, SEMANTIC),
            )
            return None
        index = SemanticIndex.load(index_path(folder, SEMANTIC), model)
    except (IndexerError, OSError) as error:
        logger.warning("cannot use the semantic index file: %s", error)
        return None
    if len(index) != manifest.entries:
        logger.warning("semantic index file does not match its manifest; ignoring it")
        return None
    return index, manifest.change_id


# -- checking and repairing -------------------------------------------------------------------


def check(repository: Repository, home: Path, kinds: Sequence[str] = KINDS) -> list[IndexStatus]:
    """Checks index files against their manifests and the database.

    Every file is read in full (its SHA-256 and its FAISS index), so this takes about as
    long as loading the indexes.

    Args:
        repository: The database.
        home: legajo's data folder.
        kinds: The indexes to check.

    Returns:
        One status per kind, in the order of `kinds`.
    """
    folder = index_folder(home, repository.database.url)
    state = database_state(repository)
    return [_check_one(folder, kind, state) for kind in kinds]


def repair(
    repository: Repository,
    home: Path,
    statuses: Iterable[IndexStatus],
    *,
    on_progress: SemanticProgress | None = None,
) -> list[Manifest]:
    """Fixes what `check` found: rebuilds broken indexes, brings stale ones up to date.

    Args:
        repository: The database.
        home: legajo's data folder.
        statuses: `check`'s result; sound indexes are left alone.
        on_progress: Progress of a semantic rebuild.

    Returns:
        The new manifests, one per index repaired.

    Raises:
        SemanticModelError: If the sentence model cannot be loaded.
        OSError: If the files cannot be written.
    """
    repaired = []
    for status in statuses:
        if status.ok:
            continue
        manifest = None
        if status.problem is Problem.STALE and status.manifest is not None:
            manifest = _catch_up(repository, home, status.manifest)
        if manifest is None:
            model = status.manifest.model_id if status.manifest is not None else None
            manifest = rebuild(
                repository, home, status.kind, semantic_model=model, on_progress=on_progress
            )
        repaired.append(manifest)
    return repaired


def _check_one(folder: Path, kind: str, state: DatabaseState) -> IndexStatus:
    path = index_path(folder, kind)

    def status(problem: Problem | None, detail: str, manifest: Manifest | None) -> IndexStatus:
        return IndexStatus(kind, path, problem, detail, manifest)

    try:
        manifest = read_manifest(folder, kind)
    except FileNotFoundError:
        what = "index file or manifest" if not path.exists() else "manifest"
        return status(Problem.MISSING, f"no {what} (legajo reindex builds them)", None)
    except IndexFileError as error:
        return status(Problem.UNREADABLE, str(error), None)
    if not path.exists():
        return status(Problem.MISSING, f"no index file {path}", manifest)
    try:
        size, digest = _size_and_digest(path)
    except OSError as error:
        return status(Problem.UNREADABLE, f"cannot read {path}: {error}", manifest)
    if (size, digest) != (manifest.size_bytes, manifest.sha256):
        return status(
            Problem.UNREADABLE,
            f"{path} does not match its manifest ({size:,} bytes, SHA-256 {digest[:12]}…; "
            f"the manifest says {manifest.size_bytes:,} bytes, {manifest.sha256[:12]}…): "
            "corrupt, or replaced without its manifest",
            manifest,
        )
    try:
        entries = _loaded_entries(path, kind, manifest)
    except _ModelUnavailableError as error:
        return status(Problem.FOREIGN, str(error), manifest)
    except (IndexerError, OSError) as error:
        return status(Problem.UNREADABLE, str(error), manifest)
    if entries != manifest.entries:
        return status(
            Problem.MISMATCH,
            f"the index holds {entries:,} entries, its manifest says {manifest.entries:,}",
            manifest,
        )
    found = _compare_with_database(manifest, state)
    if found is not None:
        return status(*found, manifest)
    return status(None, _summary(manifest), manifest)


CONTENT_REVISIONS = ("0001", "0002")
"""Schema revisions that changed what index files are built from (word forms, line texts);
later ones leave index files valid: 0003 only adds database indexes, 0004 only rewrites the
words of verified lines."""


def _content_revision(revision: str | None) -> str | None:
    """The latest of `CONTENT_REVISIONS` at or before `revision` (revisions sort as text)."""
    if revision is None:
        return None
    earlier = [r for r in CONTENT_REVISIONS if r <= revision]
    return earlier[-1] if earlier else revision


def _compare_with_database(manifest: Manifest, state: DatabaseState) -> tuple[Problem, str] | None:
    """What differs between an index's manifest and the database, if anything.

    The lexical index only depends on the word forms (they are never deleted, so ids above
    the manifest's mean new forms); the semantic index on the lines and their change feed.
    """
    if _content_revision(manifest.schema_revision) != _content_revision(state.schema_revision):
        return Problem.FOREIGN, (
            f"built on schema revision {manifest.schema_revision}, the database is at "
            f"{state.schema_revision}"
        )
    if manifest.change_id > state.change_id:
        return Problem.FOREIGN, (
            f"includes change {manifest.change_id} of the change feed, the database's "
            f"latest is {state.change_id} (built for another copy of the database?)"
        )
    if manifest.kind == LEXICAL:
        if manifest.max_row_id > state.max_form_id:
            return Problem.FOREIGN, (
                f"holds word forms up to id {manifest.max_row_id}, the database only up to "
                f"{state.max_form_id}"
            )
        if manifest.max_row_id == state.max_form_id and manifest.rows != state.forms:
            return Problem.MISMATCH, (
                f"holds {manifest.rows:,} word forms, the database {state.forms:,}"
            )
        if manifest.max_row_id < state.max_form_id:
            return Problem.STALE, (
                f"lacks the {state.forms - manifest.rows:,} word forms stored since it was "
                f"built ({manifest.built_at})"
            )
        return None
    if manifest.change_id < state.change_id:
        return Problem.STALE, (
            f"{state.change_id - manifest.change_id:,} line changes behind the database "
            f"(built {manifest.built_at})"
        )
    if manifest.rows != state.lines:
        return Problem.MISMATCH, (
            f"was built from {manifest.rows:,} lines, the database holds {state.lines:,} "
            "and records no change since"
        )
    return None


def _loaded_entries(path: Path, kind: str, manifest: Manifest) -> int:
    """Loads an index file in full and returns how many entries it holds."""
    if kind == LEXICAL:
        from indexer.search.lexical import LexicalIndex

        return len(LexicalIndex.load(path))
    from indexer.errors import SemanticModelError
    from indexer.search.semantic import SemanticIndex

    header = SemanticIndex.read_header(path)
    if header.model_id != manifest.model_id:
        raise IndexFileError(
            f"{path} was built with the model {header.model_id!r}, its manifest says "
            f"{manifest.model_id!r}"
        )
    try:
        return len(SemanticIndex.load(path, header.model_id))
    except SemanticModelError as error:
        raise _ModelUnavailableError(str(error)) from error


def _catch_up(repository: Repository, home: Path, manifest: Manifest) -> Manifest | None:
    """Brings a stale index up to date in place; None if its file cannot be used."""
    state = database_state(repository)
    started = time.perf_counter()
    index: LexicalIndex | SemanticIndex
    if manifest.kind == LEXICAL:
        lexical = load_lexical(repository, home)
        if lexical is None:
            return None
        lexical.add(repository.word_forms(after_id=lexical.max_id))
        index = lexical
    else:
        loaded = load_semantic(repository, home, manifest.model_id)
        if loaded is None:
            return None
        index, change_id = loaded
        catch_up_semantic(index, repository, change_id)
    return save_index(
        repository, home, index, state=state, build_seconds=time.perf_counter() - started
    )


def _manifest_for_loading(folder: Path, kind: str) -> Manifest | None:
    """The manifest, if there is one and its file has the size it records."""
    try:
        manifest = read_manifest(folder, kind)
    except FileNotFoundError:
        logger.info("no %s index file in %s yet", kind, folder)
        return None
    path = index_path(folder, kind)
    size = path.stat().st_size
    if size != manifest.size_bytes:
        raise IndexFileError(
            f"{path} has {size:,} bytes, its manifest says {manifest.size_bytes:,}"
        )
    return manifest


def _previous_model(folder: Path) -> str | None:
    try:
        return read_manifest(folder, SEMANTIC).model_id
    except (FileNotFoundError, IndexFileError):
        return None


def _summary(manifest: Manifest) -> str:
    what = "word forms" if manifest.kind == LEXICAL else "passages"
    model = f", model {manifest.model_id}" if manifest.model_id else ""
    return (
        f"{manifest.entries:,} {what}, {manifest.size_bytes / 1e6:.1f} MB, built "
        f"{manifest.built_at} in {manifest.build_seconds:.1f} s{model}"
    )


def _size_and_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _same_sqlite_file(database_url: str, path: Path) -> bool:
    if database_url == sqlite_url(path):
        return True
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return False
    named = database_url[len(prefix) :].split("?", 1)[0]
    return bool(named) and Path(named).resolve() == path.resolve()


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is done anyway
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
