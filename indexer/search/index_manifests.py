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
"""Version of the manifest layout of a one-file index; a manifest of a version this legajo
does not read counts as unreadable."""

SHARDED_MANIFEST_FORMAT = 2
"""Version of the manifest layout of an index cut into shards (`Manifest.shards`)."""

SHARD_FOLDER_SUFFIX = ".shards"
"""The shard files of an index live in ``<kind>.shards/`` beside its manifest."""

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
class ShardEntry:
    """One shard of an index cut into shards: its file and the ids it holds.

    Attributes:
        number: The shard's place, from 0.
        file: The shard file's name, in the index's ``<kind>.shards/`` folder.
        first_id: The lowest id of its range (form id, or line id).
        last_id: The highest id of its range; None for the last shard, whose range is
            open (new ids go there).
        index_type: ``flat``, ``hnsw`` or ``ivf`` (`indexer.search.shards.index_type_for`).
        entries: Vectors in the shard.
        max_id: Highest id it held when written (lexical: form id; semantic: the first line
            of its passages), 0 when empty.
        size_bytes: The file's size.
        sha256: The file's SHA-256, hex.
        build_seconds: How long building (or catching up) the shard took.
    """

    number: int
    file: str
    first_id: int
    last_id: int | None
    index_type: str
    entries: int
    max_id: int
    size_bytes: int
    sha256: str
    build_seconds: float

    def describe(self) -> str:
        """The shard for people: ``shard 2 (ids 1,001-2,000)``."""
        last = "on" if self.last_id is None else f"{self.last_id:,}"
        return f"shard {self.number} (ids {self.first_id:,}-{last})"

    @classmethod
    def from_values(cls, values: object) -> ShardEntry:
        """Reads a shard entry from its JSON object.

        Raises:
            IndexFileError: If `values` is not a shard entry.
        """
        if not isinstance(values, dict):
            raise IndexFileError("a shard entry is not a JSON object")
        names = {field.name for field in fields(cls)}
        if set(values) != names:
            odd = sorted(set(values) ^ names)
            raise IndexFileError(f"unexpected or missing shard keys: {', '.join(odd)}")
        for name, value in values.items():
            if not isinstance(value, _SHARD_FIELD_TYPES[name]) or isinstance(value, bool):
                raise IndexFileError(f"shard key {name!r} has the wrong type")
        entry = cls(**values)
        if "/" in entry.file or "\\" in entry.file or entry.file.startswith("."):
            raise IndexFileError(f"shard file name {entry.file!r} is not a plain name")
        return entry


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
        shards: The shards of an index cut into several (`SHARDED_MANIFEST_FORMAT`); empty
            for a one-file index. `file` is then the shard folder's name and `size_bytes`,
            `sha256` and `entries` sum up the shards (the digest is that of their digests).
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
    shards: tuple[ShardEntry, ...] = ()

    @property
    def sharded(self) -> bool:
        """True for an index cut into shards (its `shards` listed)."""
        return bool(self.shards)

    def to_json(self) -> str:
        """The manifest as JSON text (a one-file index's has no ``shards`` key)."""
        values = asdict(self)
        if not self.shards:
            del values["shards"]
        return json.dumps(values, indent=2, sort_keys=True) + "\n"

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
        version = values.get("format")
        if version not in (MANIFEST_FORMAT, SHARDED_MANIFEST_FORMAT):
            raise IndexFileError(
                f"manifest format {version!r}, this legajo reads {MANIFEST_FORMAT} and "
                f"{SHARDED_MANIFEST_FORMAT}"
            )
        names = {field.name for field in fields(cls)}
        if version == MANIFEST_FORMAT:
            names.discard("shards")
        if set(values) != names:
            odd = sorted(set(values) ^ names)
            raise IndexFileError(f"unexpected or missing manifest keys: {', '.join(odd)}")
        for name, value in values.items():
            if not isinstance(value, _FIELD_TYPES[name]) or isinstance(value, bool):
                raise IndexFileError(f"manifest key {name!r} has the wrong type")
        if "shards" in values:
            values["shards"] = tuple(ShardEntry.from_values(item) for item in values["shards"])
            if not values["shards"]:
                raise IndexFileError("a sharded manifest lists no shard")
            if [entry.number for entry in values["shards"]] != list(range(len(values["shards"]))):
                raise IndexFileError("the shards of the manifest are not numbered 0, 1, ...")
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
    "shards": list,
}

_SHARD_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "number": int,
    "file": str,
    "first_id": int,
    "last_id": (int, type(None)),
    "index_type": str,
    "entries": int,
    "max_id": int,
    "size_bytes": int,
    "sha256": str,
    "build_seconds": (int, float),
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
        shards: The numbers of the shards found missing, unreadable or mismatched (an index
            cut into shards); `repair` rebuilds only those.
    """

    kind: str
    path: Path
    problem: Problem | None
    detail: str
    manifest: Manifest | None = None
    shards: tuple[int, ...] = ()

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


def shard_folder(folder: Path, kind: str) -> Path:
    """The folder of the shard files of a kind in an index folder (``<kind>.shards``)."""
    return folder / f"{kind}{SHARD_FOLDER_SUFFIX}"


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
    expected = shard_folder(folder, kind).name if manifest.sharded else INDEX_FILES[kind]
    if manifest.kind != kind or manifest.file != expected:
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
