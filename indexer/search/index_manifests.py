"""What an index file is: where it lives, and the manifest that describes it.

See `indexer.search.index_files` for the layout of the files and what the manifests record;
this module holds the names, paths and manifest types, reads manifests, and reads what the
database holds now (`database_state`) for comparing with them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.errors import IndexFileError
from indexer.settings import DATABASE_FILE, sqlite_url

if TYPE_CHECKING:
    from indexer.store.repository import Repository

INDEX_FOLDER = "indexes"
"""Folder of the index files inside legajo's home."""

LEXICAL, SEMANTIC = "lexical", "semantic"
KINDS = (LEXICAL, SEMANTIC)
"""The kinds of index, in the order they are checked and rebuilt."""

INDEX_FILES = {LEXICAL: "lexical.npz", SEMANTIC: "semantic.faiss"}
"""File name of each kind of index."""

MANIFEST_FORMAT = 1
"""Version of the manifest layout; a manifest of another version counts as unreadable."""

_HASH_CHUNK = 1 << 20


class Problem(StrEnum):
    """What is wrong with an index file (see `indexer.search.index_files`)."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    FOREIGN = "foreign"
    MISMATCH = "mismatch"
    STALE = "stale"


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
    """The folder of a database's index files (see `indexer.search.index_files`); none is made.

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


def size_and_digest(path: Path) -> tuple[int, str]:
    """The size in bytes and the SHA-256 (hex) of a file, read in chunks."""
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
