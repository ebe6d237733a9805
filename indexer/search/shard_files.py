"""Index files cut into shards: building, writing, loading and repairing them.

An index of several shards (`indexer.search.shards`) is written as::

    <folder>/lexical.json                      the manifest, listing the shards
    <folder>/lexical.shards/lexical-<build>-000.npz
    <folder>/lexical.shards/lexical-<build>-001.npz ...

(the same with ``semantic`` and ``.faiss``). The manifest (`Manifest` of
`SHARDED_MANIFEST_FORMAT`) has one `ShardEntry` per shard: its file, id range, index type,
entries, size and SHA-256. An index of one shard keeps the one-file layout
(`indexer.search.index_files`); the manifest's name is the same either way, so replacing one
layout by the other is one atomic rename of the manifest.

**Writing.** Each shard is built by a `ShardJob` (`build_shard`), one after another in this
process (`run_locally`) or as Ray tasks (`indexer.search.ray_shards`). A job writes its shard
atomically under a name no manifest refers to yet (``<build>`` is new for every build,
repair and catch-up); once every job is done, the driver writes the manifest atomically,
and only then removes the files no manifest refers to any more (the files of the previous
build, the other layout's file, temporary files of killed workers). A crash or a killed
worker at any point leaves the previous manifest and every file it names as they were.

**Reading.** `load_lexical_shards` and `load_semantic_shards` check each shard's size and
count against its entry. For searches (`indexer.search.index_files.load_lexical`,
``load_semantic``) a shard that fails is logged and built in memory from the database rows
of its range, the other shards loaded from their files: a bad file never fails a search and
costs only its own range (a bad one-file index is built whole, as before). Its file stays
bad until ``legajo check --repair`` rebuilds it.

**Repairing.** `rebuild_shards` rebuilds only the shards `check` found missing, unreadable or
mismatched, from the database rows of their ranges; `save_dirty_shards` writes the shards a
catch-up changed (new forms land in the last shard, corrected lines in theirs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from htr.atomic_files import write_atomically
from indexer.errors import IndexerError, IndexFileError, SemanticModelError
from indexer.search.index_manifests import (
    LEXICAL,
    MANIFEST_FORMAT,
    SEMANTIC,
    SHARDED_MANIFEST_FORMAT,
    DatabaseState,
    Manifest,
    ShardEntry,
    index_path,
    manifest_path,
    shard_folder,
    size_and_digest,
)
from indexer.search.passages import first_line_of
from indexer.search.shards import FLAT, IndexType, index_type_for, last_ids, shard_of, split_ranges

if TYPE_CHECKING:
    from indexer.search.sharded import ShardedLexicalIndex, ShardedSemanticIndex
    from indexer.store.repository import Repository

logger = logging.getLogger(__name__)

SHARD_SUFFIXES = {LEXICAL: ".npz", SEMANTIC: ".faiss"}
"""File name ending of a shard of each kind (as of the one-file index)."""

ShardProgress = Callable[[int, int], None]
"""Called with (entries built so far, entries in all) while shards are built."""

_Index = TypeVar("_Index")


@dataclass(frozen=True, slots=True)
class ShardJob:
    """What one shard is built from, and where it is written (all picklable, for Ray).

    Attributes:
        kind: ``lexical`` or ``semantic``.
        number: The shard's place, from 0.
        first_id: First id of its range.
        last_id: Last id of its range; None for the last shard.
        ids: Form ids, or passage ids.
        texts: The forms, or the passages' texts, in the order of `ids`.
        model_id: The sentence model of a semantic shard (`ModelSource.model_id`).
        path: The file to write (atomically); its folder exists.
    """

    kind: str
    number: int
    first_id: int
    last_id: int | None
    ids: list[int]
    texts: list[str]
    model_id: str | None
    path: Path

    @property
    def index_type(self) -> IndexType:
        """The FAISS index of this shard, by its size (`index_type_for`)."""
        return index_type_for(self.kind, len(self.ids))


ShardRunner = Callable[[Sequence[ShardJob], ShardProgress | None], list[ShardEntry]]
"""Builds shards (`build_shard` of every job) and returns their entries in job order."""


def build_shard(job: ShardJob, on_progress: ShardProgress | None = None) -> ShardEntry:
    """Builds one shard's index, writes its file atomically, and describes it.

    This is what a Ray task runs; the sentence model is loaded once per process.

    Args:
        job: The shard.
        on_progress: Progress of a semantic shard's embedding.

    Returns:
        The shard's manifest entry.

    Raises:
        SemanticModelError: If the sentence model cannot be loaded.
        OSError: If the file cannot be written.
    """
    started = time.perf_counter()
    index_type = job.index_type
    pairs = zip(job.ids, job.texts, strict=True)
    max_id = 0
    if job.kind == LEXICAL:
        from indexer.search.lexical import LexicalIndex

        lexical = LexicalIndex.build(pairs, exact_limit=len(job.ids) if index_type == FLAT else 0)
        lexical.save(job.path)
        max_id = lexical.max_id
    else:
        from indexer.search.semantic import SemanticIndex

        threshold = len(job.ids) + 1 if index_type == FLAT else 1
        semantic = SemanticIndex(job.model_id, ivf_threshold=threshold)
        semantic.build(pairs, on_progress=on_progress)
        semantic.save(job.path)
    size, digest = size_and_digest(job.path)
    seconds = time.perf_counter() - started
    logger.info(
        "built %s shard %d (%d entries, %s) in %.1f s",
        job.kind,
        job.number,
        len(job.ids),
        index_type,
        seconds,
    )
    return ShardEntry(
        number=job.number,
        file=job.path.name,
        first_id=job.first_id,
        last_id=job.last_id,
        index_type=index_type,
        entries=len(job.ids),
        max_id=max_id,
        size_bytes=size,
        sha256=digest,
        build_seconds=round(seconds, 3),
    )


class ShardBuilder:
    """Builds shards in one process, its sentence model loaded once (a Ray actor's class).

    Args:
        model_id: The sentence model of the semantic shards it will build; None for
            lexical shards only. It is loaded now, so that a worker that cannot load it
            fails before any shard is given to it.

    Raises:
        SemanticModelError: If the model cannot be loaded.
    """

    def __init__(self, model_id: str | None) -> None:
        if model_id is not None:
            from indexer.search.semantic import SemanticIndex

            SemanticIndex(model_id).load_model()

    def build(self, job: ShardJob) -> ShardEntry:
        """Builds one shard (`build_shard`)."""
        return build_shard(job)


def run_locally(jobs: Sequence[ShardJob], on_progress: ShardProgress | None) -> list[ShardEntry]:
    """Builds the shards one after another in this process (the local engine)."""
    total = sum(len(job.ids) for job in jobs)
    done = 0
    entries = []
    for job in jobs:
        progress = None
        if on_progress is not None:
            offset = done

            def progress(built: int, _: int, offset: int = offset) -> None:
                on_progress(offset + built, total)

        entries.append(build_shard(job, progress))
        done += len(job.ids)
        if on_progress is not None:
            on_progress(done, total)
    return entries


def plan_jobs(
    folder: Path,
    kind: str,
    entries: Sequence[tuple[int, str]],
    count: int,
    model_id: str | None,
) -> list[ShardJob]:
    """Cuts an index's entries into `count` id ranges, one job per range.

    Args:
        folder: The index folder.
        kind: ``lexical`` (entries are forms) or ``semantic`` (passages: a window goes with
            its first line).
        entries: (id, text) pairs.
        count: Shards wanted (fewer when there are fewer distinct ids).
        model_id: The sentence model of a semantic index.

    Returns:
        The jobs, in id order; their files get names of a new build.
    """
    keys = sorted(_key(kind, entry_id) for entry_id, _ in entries)
    first_ids = split_ranges(keys, count)
    return _jobs(folder, kind, first_ids, range(len(first_ids)), entries, model_id)


def write_sharded_manifest(
    repository: Repository,
    folder: Path,
    kind: str,
    shards: Sequence[ShardEntry],
    *,
    state: DatabaseState,
    build_seconds: float,
    model_id: str | None,
) -> Manifest:
    """Writes the manifest of an index of several shards, then removes what it replaced.

    Returns:
        The manifest written.

    Raises:
        OSError: If the manifest cannot be written (the previous one is left).
    """
    digest = hashlib.sha256("".join(entry.sha256 for entry in shards).encode()).hexdigest()
    entries = sum(entry.entries for entry in shards)
    manifest = Manifest(
        kind=kind,
        format=SHARDED_MANIFEST_FORMAT,
        file=shard_folder(folder, kind).name,
        size_bytes=sum(entry.size_bytes for entry in shards),
        sha256=digest,
        entries=entries,
        database=repository.database.url,
        schema_revision=state.schema_revision,
        rows=entries if kind == LEXICAL else state.lines,
        max_row_id=max((entry.max_id for entry in shards), default=0) if kind == LEXICAL else 0,
        change_id=state.change_id,
        built_at=_now(),
        build_seconds=round(build_seconds, 3),
        model_id=model_id,
        shards=tuple(shards),
    )
    write_manifest(folder, manifest)
    index_path(folder, kind).unlink(missing_ok=True)
    sweep_shards(folder, kind, manifest)
    logger.info(
        "wrote the %s index (%d entries in %d shards) to %s",
        kind,
        entries,
        len(shards),
        shard_folder(folder, kind),
    )
    return manifest


def commit_single(
    repository: Repository,
    folder: Path,
    kind: str,
    shard: ShardEntry,
    *,
    state: DatabaseState,
    build_seconds: float,
    model_id: str | None,
) -> Manifest:
    """Makes one built shard the one-file index: renames it into place, writes the manifest.

    Raises:
        OSError: If the file cannot be renamed or the manifest written.
    """
    path = index_path(folder, kind)
    os.replace(shard_folder(folder, kind) / shard.file, path)
    manifest = Manifest(
        kind=kind,
        format=MANIFEST_FORMAT,
        file=path.name,
        size_bytes=shard.size_bytes,
        sha256=shard.sha256,
        entries=shard.entries,
        database=repository.database.url,
        schema_revision=state.schema_revision,
        rows=shard.entries if kind == LEXICAL else state.lines,
        max_row_id=shard.max_id if kind == LEXICAL else 0,
        change_id=state.change_id,
        built_at=_now(),
        build_seconds=round(build_seconds, 3),
        model_id=model_id,
    )
    write_manifest(folder, manifest)
    sweep_shards(folder, kind, None)
    return manifest


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Writes a manifest atomically (``<kind>.json``)."""
    text = manifest.to_json().encode()

    def write(stream: IO[bytes]) -> None:
        stream.write(text)

    write_atomically(manifest_path(folder, manifest.kind), write)


def sweep_shards(folder: Path, kind: str, manifest: Manifest | None) -> None:
    """Removes the shard files a manifest does not name (all of them when it is None).

    Failures are logged, not raised: a file left behind is only wasted space.
    """
    shards = shard_folder(folder, kind)
    if not shards.is_dir():
        return
    if manifest is None or not manifest.sharded:
        shutil.rmtree(shards, ignore_errors=True)
        return
    kept = {entry.file for entry in manifest.shards}
    for path in shards.iterdir():
        if path.name not in kept:
            try:
                path.unlink()
            except OSError as error:
                logger.warning("cannot remove the old shard file %s: %s", path, error)


# -- loading ----------------------------------------------------------------------------------


def load_lexical_shards(
    folder: Path, manifest: Manifest, repository: Repository | None = None
) -> ShardedLexicalIndex:
    """Loads every shard of a lexical index (module docstring).

    Args:
        folder: The index folder.
        manifest: The index's manifest (of several shards).
        repository: The database: a shard whose file cannot be used is logged and built in
            memory from the forms of its range (up to the manifest's highest form id), the
            file left for ``legajo check --repair``. None raises instead.

    Raises:
        IndexFileError: Without `repository`, if a shard file is missing, corrupt or does
            not match its entry (the message names the shard).
    """
    from indexer.search.lexical import LexicalIndex
    from indexer.search.sharded import ShardedLexicalIndex

    def read(path: Path, entry: ShardEntry) -> LexicalIndex:
        shard = LexicalIndex.load(path)
        if len(shard) != entry.entries or shard.max_id != entry.max_id:
            raise IndexFileError(f"{entry.describe()} of {path} does not match its manifest")
        return shard

    def rebuild(pairs: list[tuple[int, str]]) -> LexicalIndex:
        exact = index_type_for(LEXICAL, len(pairs)) == FLAT
        return LexicalIndex.build(pairs, exact_limit=len(pairs) if exact else 0)

    shards = _load_shards(folder, manifest, repository, read, rebuild)
    return ShardedLexicalIndex(shards, [entry.first_id for entry in manifest.shards])


def load_semantic_shards(
    folder: Path,
    manifest: Manifest,
    model: str | Path | None,
    repository: Repository | None = None,
) -> ShardedSemanticIndex:
    """Loads every shard of a semantic index (module docstring).

    Args:
        folder: The index folder.
        manifest: The index's manifest (of several shards).
        model: The sentence model searches embed with (see `SemanticIndex.load`).
        repository: The database: a shard whose file cannot be used is logged and built in
            memory from the passages of its range as the database holds them now (applying
            the change feed after the manifest's mark to it again is harmless), the file
            left for ``legajo check --repair``. None raises instead.

    Raises:
        IndexFileError: Without `repository`, if a shard file is missing, corrupt or does
            not match its entry.
        SemanticModelError: If the index was built with another model than `model`, or the
            model cannot be loaded to build a shard.
    """
    from indexer.search.semantic import SemanticIndex, resolve_model
    from indexer.search.sharded import ShardedSemanticIndex

    if model is not None and resolve_model(model).model_id != manifest.model_id:
        raise SemanticModelError(
            f"the semantic index was built with {manifest.model_id!r}, not {model!r}"
        )

    def read(path: Path, entry: ShardEntry) -> SemanticIndex:
        shard = SemanticIndex.load(path, model)
        if len(shard) != entry.entries:
            raise IndexFileError(f"{entry.describe()} of {path} does not match its manifest")
        return shard

    def rebuild(pairs: list[tuple[int, str]]) -> SemanticIndex:
        exact = index_type_for(SEMANTIC, len(pairs)) == FLAT
        rebuilt = SemanticIndex(manifest.model_id, ivf_threshold=len(pairs) + 1 if exact else 1)
        rebuilt.build(pairs)
        return rebuilt

    shards = _load_shards(folder, manifest, repository, read, rebuild)
    return ShardedSemanticIndex(shards, [entry.first_id for entry in manifest.shards])


def _load_shards(
    folder: Path,
    manifest: Manifest,
    repository: Repository | None,
    read: Callable[[Path, ShardEntry], _Index],
    rebuild: Callable[[list[tuple[int, str]]], _Index],
) -> list[_Index]:
    """Reads every shard of a manifest; with a database, builds unusable ones from it.

    Args:
        folder: The index folder.
        manifest: The index's manifest.
        repository: The database, or None to raise on a shard that cannot be used.
        read: Loads one shard file and checks it against its entry.
        rebuild: Builds a shard in memory from its range's (id, text) entries.

    Raises:
        IndexerError, OSError: Without `repository`, what `read` raises.
    """
    shards: list[_Index | None] = []
    for entry in manifest.shards:
        try:
            shards.append(read(_checked_size(folder, manifest.kind, entry), entry))
        except (IndexerError, OSError) as error:
            if repository is None:
                raise
            logger.warning("%s; building that shard from the database in memory", error)
            shards.append(None)
    if repository is not None:
        for number, pairs in _rebuilt_ranges(repository, manifest, shards).items():
            shards[number] = rebuild(pairs)
    return [shard for shard in shards if shard is not None]


def _rebuilt_ranges(
    repository: Repository, manifest: Manifest, shards: Sequence[object | None]
) -> dict[int, list[tuple[int, str]]]:
    """The database's entries of each shard that could not be loaded (None in `shards`)."""
    numbers = {number for number, shard in enumerate(shards) if shard is None}
    if not numbers:
        return {}
    first_ids = [entry.first_id for entry in manifest.shards]
    grouped: dict[int, list[tuple[int, str]]] = {number: [] for number in numbers}
    for entry_id, text in _range_entries(repository, manifest.kind, manifest, first_ids, numbers):
        grouped[shard_of(_key(manifest.kind, entry_id), first_ids)].append((entry_id, text))
    return grouped


def shard_file(folder: Path, kind: str, entry: ShardEntry) -> Path:
    """The file of a shard."""
    return shard_folder(folder, kind) / entry.file


def _checked_size(folder: Path, kind: str, entry: ShardEntry) -> Path:
    path = shard_file(folder, kind, entry)
    try:
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise IndexFileError(f"{entry.describe()}: no file {path}") from error
    if size != entry.size_bytes:
        raise IndexFileError(
            f"{entry.describe()}: {path} has {size:,} bytes, its manifest says {entry.size_bytes:,}"
        )
    return path


# -- repairing and catching up -----------------------------------------------------------------


def rebuild_shards(
    repository: Repository,
    folder: Path,
    manifest: Manifest,
    numbers: Sequence[int],
    *,
    runner: ShardRunner | None = None,
    on_progress: ShardProgress | None = None,
) -> Manifest:
    """Rebuilds some shards of an index from the database rows of their ranges.

    The other shards and the manifest's high-water marks are kept: a lexical shard gets the
    forms of its range up to the manifest's highest form id; a semantic shard the passages
    of its range as the database holds them now (applying the change feed after the
    manifest's mark again later is harmless).

    Args:
        repository: The database.
        folder: The index folder.
        manifest: The index's manifest (of several shards).
        numbers: The shards to rebuild.
        runner: Builds the shards (default: `run_locally`).
        on_progress: Progress of the building.

    Returns:
        The new manifest.

    Raises:
        SemanticModelError: If the sentence model cannot be loaded.
        OSError: If a file cannot be written.
    """
    kind = manifest.kind
    first_ids = [entry.first_id for entry in manifest.shards]
    wanted = set(numbers)
    entries = _range_entries(repository, kind, manifest, first_ids, wanted)
    jobs = _jobs(folder, kind, first_ids, sorted(wanted), entries, manifest.model_id)
    built = (runner or run_locally)(jobs, on_progress)
    shards = list(manifest.shards)
    for entry in built:
        shards[entry.number] = entry
    return _replace_shards(folder, manifest, shards)


def save_dirty_shards(
    repository: Repository,
    folder: Path,
    manifest: Manifest,
    index: ShardedLexicalIndex | ShardedSemanticIndex,
    *,
    state: DatabaseState,
    build_seconds: float,
) -> Manifest:
    """Writes the shards a catch-up changed (`index.dirty`), then the new manifest.

    Returns:
        The manifest written, with `state`'s high-water marks.

    Raises:
        OSError: If a file cannot be written.
    """
    from indexer.search.lexical import LexicalIndex

    kind = manifest.kind
    build = _build_token()
    shards = list(manifest.shards)
    for number in sorted(index.dirty):
        shard = index.shards[number]
        entry = shards[number]
        path = shard_folder(folder, kind) / _shard_name(kind, build, number)
        shard.save(path)
        size, digest = size_and_digest(path)
        max_id = shard.max_id if isinstance(shard, LexicalIndex) else 0
        shards[number] = replace(
            entry,
            file=path.name,
            entries=len(shard),
            max_id=max_id,
            size_bytes=size,
            sha256=digest,
            build_seconds=round(build_seconds, 3),
        )
    index.dirty.clear()
    return write_sharded_manifest(
        repository,
        folder,
        kind,
        shards,
        state=state,
        build_seconds=build_seconds,
        model_id=manifest.model_id,
    )


def _replace_shards(folder: Path, manifest: Manifest, shards: Sequence[ShardEntry]) -> Manifest:
    digest = hashlib.sha256("".join(entry.sha256 for entry in shards).encode()).hexdigest()
    entries = sum(entry.entries for entry in shards)
    new = replace(
        manifest,
        size_bytes=sum(entry.size_bytes for entry in shards),
        sha256=digest,
        entries=entries,
        rows=entries if manifest.kind == LEXICAL else manifest.rows,
        shards=tuple(shards),
    )
    write_manifest(folder, new)
    sweep_shards(folder, manifest.kind, new)
    return new


def _range_entries(
    repository: Repository,
    kind: str,
    manifest: Manifest,
    first_ids: Sequence[int],
    numbers: set[int],
) -> list[tuple[int, str]]:
    """The database's entries that fall in the ranges of some shards."""
    rows: Iterable[tuple[int, str]]
    if kind == LEXICAL:
        rows = (
            (form_id, form)
            for form_id, form in repository.word_forms()
            if form_id <= manifest.max_row_id
        )
    else:
        from indexer.search.passages import collection_passages

        rows = collection_passages(repository.line_texts())
    return [row for row in rows if shard_of(_key(kind, row[0]), first_ids) in numbers]


def _jobs(
    folder: Path,
    kind: str,
    first_ids: Sequence[int],
    numbers: Sequence[int],
    entries: Sequence[tuple[int, str]],
    model_id: str | None,
) -> list[ShardJob]:
    grouped: dict[int, list[tuple[int, str]]] = {number: [] for number in numbers}
    for entry_id, text in entries:
        number = shard_of(_key(kind, entry_id), first_ids)
        if number in grouped:
            grouped[number].append((entry_id, text))
    build = _build_token()
    shard_folder(folder, kind).mkdir(parents=True, exist_ok=True)
    lasts = last_ids(first_ids)
    return [
        ShardJob(
            kind=kind,
            number=number,
            first_id=first_ids[number],
            last_id=lasts[number],
            ids=[entry_id for entry_id, _ in grouped[number]],
            texts=[text for _, text in grouped[number]],
            model_id=model_id,
            path=shard_folder(folder, kind) / _shard_name(kind, build, number),
        )
        for number in numbers
    ]


def _key(kind: str, entry_id: int) -> int:
    """The id an entry is sharded by: a form's id, or a passage's first line."""
    return entry_id if kind == LEXICAL else first_line_of(entry_id)


def _build_token() -> str:
    return secrets.token_hex(4)


def _shard_name(kind: str, build: str, number: int) -> str:
    return f"{kind}-{build}-{number:03d}{SHARD_SUFFIXES[kind]}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
