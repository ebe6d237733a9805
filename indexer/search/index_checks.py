"""Checking index files against their manifests and the database (`check`).

See `indexer.search.index_files` for what each `Problem` means and how `repair` fixes it.
An index cut into shards is checked shard by shard: its status names every shard that is
missing, unreadable or mismatched (`IndexStatus.shards`), and `repair` rebuilds only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.errors import IndexerError, IndexFileError
from indexer.search.index_manifests import (
    KINDS,
    LEXICAL,
    DatabaseState,
    IndexStatus,
    Manifest,
    Problem,
    ShardEntry,
    database_state,
    index_folder,
    index_path,
    read_manifest,
    shard_folder,
    size_and_digest,
)

if TYPE_CHECKING:
    from indexer.store.repository import Repository


class _ModelUnavailableError(IndexFileError):
    """The sentence model a semantic index file names cannot be found here."""


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
    if manifest.sharded:
        return _check_sharded(folder, manifest, state)
    if not path.exists():
        return status(Problem.MISSING, f"no index file {path}", manifest)
    try:
        size, digest = size_and_digest(path)
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
    found = compare_with_database(manifest, state)
    if found is not None:
        return status(*found, manifest)
    return status(None, _summary(manifest), manifest)


_SEVERITY = (Problem.FOREIGN, Problem.UNREADABLE, Problem.MISSING, Problem.MISMATCH)
"""The problem an index of several bad shards reports: the first of these any shard has."""


def _check_sharded(folder: Path, manifest: Manifest, state: DatabaseState) -> IndexStatus:
    """Checks every shard of an index, then the whole against the database."""
    kind = manifest.kind
    found = [
        (entry, *problem)
        for entry in manifest.shards
        if (problem := _check_shard(folder, kind, entry, manifest)) is not None
    ]
    path = shard_folder(folder, kind)
    if found:
        worst = min((problem for _, problem, _ in found), key=_SEVERITY.index)
        detail = "; ".join(f"{entry.describe()}: {what}" for entry, _, what in found)
        numbers = tuple(entry.number for entry, _, _ in found)
        return IndexStatus(kind, path, worst, detail, manifest, numbers)
    compared = compare_with_database(manifest, state)
    if compared is not None:
        return IndexStatus(kind, path, *compared, manifest)
    return IndexStatus(kind, path, None, _summary(manifest), manifest)


def _check_shard(
    folder: Path, kind: str, entry: ShardEntry, manifest: Manifest
) -> tuple[Problem, str] | None:
    """What is wrong with one shard's file, if anything."""
    path = shard_folder(folder, kind) / entry.file
    if not path.exists():
        return Problem.MISSING, f"no file {path}"
    try:
        size, digest = size_and_digest(path)
    except OSError as error:
        return Problem.UNREADABLE, f"cannot read {path}: {error}"
    if (size, digest) != (entry.size_bytes, entry.sha256):
        return Problem.UNREADABLE, (
            f"{path} does not match its manifest entry ({size:,} bytes, SHA-256 "
            f"{digest[:12]}…; the entry says {entry.size_bytes:,} bytes, {entry.sha256[:12]}…)"
        )
    try:
        entries = _loaded_entries(path, kind, manifest)
    except _ModelUnavailableError as error:
        return Problem.FOREIGN, str(error)
    except (IndexerError, OSError) as error:
        return Problem.UNREADABLE, str(error)
    if entries != entry.entries:
        return Problem.MISMATCH, (
            f"the shard holds {entries:,} entries, its manifest entry says {entry.entries:,}"
        )
    return None


CONTENT_REVISIONS = ("0001", "0002")
"""Schema revisions that changed what index files are built from (word forms, line texts);
later ones leave index files valid: 0003 only adds database indexes, 0004 only rewrites the
words of verified lines, 0005 only adds the owner of processing runs."""


def _content_revision(revision: str | None) -> str | None:
    """The latest of `CONTENT_REVISIONS` at or before `revision` (revisions sort as text)."""
    if revision is None:
        return None
    earlier = [r for r in CONTENT_REVISIONS if r <= revision]
    return earlier[-1] if earlier else revision


def compare_with_database(manifest: Manifest, state: DatabaseState) -> tuple[Problem, str] | None:
    """What differs between an index's manifest and the database, if anything (`check`).

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


def _summary(manifest: Manifest) -> str:
    what = "word forms" if manifest.kind == LEXICAL else "passages"
    model = f", model {manifest.model_id}" if manifest.model_id else ""
    shards = ""
    if manifest.sharded:
        types = ", ".join(entry.index_type for entry in manifest.shards)
        shards = f" in {len(manifest.shards)} shards ({types})"
    return (
        f"{manifest.entries:,} {what}{shards}, {manifest.size_bytes / 1e6:.1f} MB, built "
        f"{manifest.built_at} in {manifest.build_seconds:.1f} s{model}"
    )
