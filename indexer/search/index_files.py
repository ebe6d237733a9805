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

**The sentence model** of a database's semantic index is a setting stored with the index: the
``model_id`` of its manifest (`stored_semantic_model`). `legajo reindex --semantic-model`
changes it, and everything else uses it without being told again: searches (CLI, workbench,
Python API), `repair`, and bringing the index up to date. `rebuild` loads the model before it
writes anything, so a model that cannot be loaded leaves the existing files as they were.

`check` compares each index with its manifest and the database and reports, per index, one
`Problem`: the file or manifest is missing; unreadable (corrupt, truncated, not matching its
manifest, another format); foreign (built for another database or schema, ahead of this
database's change feed); mismatched (its count disagrees with its manifest or the database);
or stale (the database changed after it was built; searches catch up in memory, but the
file is behind). `repair` rebuilds what is missing, unreadable, foreign or mismatched, and
brings a stale index up to date in place. `load_lexical` and `load_semantic` are what the
search service uses: they never raise on a bad file, they log it and return None, and the
service builds the index from the database instead.

**Shards.** An index may be cut into shards by id range (``legajo reindex --shards N|auto``,
`indexer.search.shards`): its manifest, under the same name, then lists one file per shard
in ``<kind>.shards/`` (`indexer.search.shard_files`), each with its index type (flat, HNSW or
IVF by the shard's size), and searches fan out over the shards (`indexer.search.sharded`).
With one shard (``auto`` below `indexer.search.shards.ENTRIES_PER_SHARD` entries) the layout
above is unchanged. `check` names a bad shard and `repair` rebuilds only that one; a
search that meets a bad shard builds only that one in memory. The shards are built one
after another here, or as Ray tasks (``--engine ray``, `indexer.search.ray_shards`).

The names, paths and manifest types are in `indexer.search.index_manifests`, `check` is in
`indexer.search.index_checks`; this module builds, loads and repairs, and every name of the
three can be imported from here.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Union

from htr.atomic_files import write_atomically
from indexer.errors import IndexerError, IndexFileError
from indexer.search.index_checks import CONTENT_REVISIONS, check, compare_with_database
from indexer.search.index_manifests import (
    INDEX_FILES,
    INDEX_FOLDER,
    KINDS,
    LEXICAL,
    MANIFEST_FORMAT,
    SEMANTIC,
    DatabaseState,
    IndexStatus,
    Manifest,
    Problem,
    database_state,
    index_folder,
    index_path,
    manifest_path,
    read_manifest,
    size_and_digest,
)

# LexicalIndex and SemanticIndex are imported inside the functions that need them, for speed
# only: the CLI imports this module to parse its arguments, and they bring in NumPy.
if TYPE_CHECKING:
    from indexer.search.lexical import LexicalIndex
    from indexer.search.semantic import SemanticIndex
    from indexer.search.shard_files import ShardRunner
    from indexer.search.sharded import ShardedLexicalIndex, ShardedSemanticIndex
    from indexer.store.repository import Repository

AnyLexicalIndex = Union["LexicalIndex", "ShardedLexicalIndex"]
"""A lexical index of one file, or one cut into shards."""
AnySemanticIndex = Union["SemanticIndex", "ShardedSemanticIndex"]
"""A semantic index of one file, or one cut into shards."""

__all__ = [
    "CONTENT_REVISIONS",
    "INDEX_FILES",
    "INDEX_FOLDER",
    "KINDS",
    "LEXICAL",
    "MANIFEST_FORMAT",
    "SEMANTIC",
    "AnyLexicalIndex",
    "AnySemanticIndex",
    "DatabaseState",
    "IndexStatus",
    "Manifest",
    "Problem",
    "SemanticProgress",
    "catch_up_semantic",
    "check",
    "database_state",
    "index_folder",
    "index_path",
    "load_lexical",
    "load_semantic",
    "manifest_path",
    "read_manifest",
    "rebuild",
    "repair",
    "save_index",
    "stored_semantic_model",
    "write_atomically",
]

logger = logging.getLogger(__name__)

SemanticProgress = Callable[[int, int], None]
"""Called with (passages embedded so far, passages in all) while a semantic index is built."""


# -- building --------------------------------------------------------------------------------


def rebuild(
    repository: Repository,
    home: Path,
    kind: str,
    *,
    semantic_model: str | Path | None = None,
    on_progress: SemanticProgress | None = None,
    shards: int | str = "auto",
    runner: ShardRunner | None = None,
) -> Manifest:
    """Builds an index from the database and writes its file (or shards) and manifest.

    Args:
        repository: The database.
        home: legajo's data folder.
        kind: `LEXICAL` or `SEMANTIC`.
        semantic_model: The sentence model (see `indexer.search.semantic.resolve_model`); None
            keeps the model of the existing semantic index (`stored_semantic_model`), or uses
            the packaged default. It is loaded before anything is written.
        on_progress: Progress of the semantic embedding.
        shards: How many shards to cut the index into, or ``"auto"``
            (`indexer.search.shards.shard_count`); one shard is the one-file layout.
        runner: Builds the shards (`indexer.search.shard_files.ShardRunner`); None builds
            them here, one after another. `indexer.search.ray_shards.RayShardRunner` builds
            them on a Ray cluster.

    Returns:
        The new manifest.

    Raises:
        ValueError: If `kind` or `shards` is invalid.
        SemanticModelError: If the sentence model cannot be loaded (the existing files are
            left as they were).
        OSError: If the files cannot be written.
    """
    from indexer.search.shards import shard_count

    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    folder = index_folder(home, repository.database.url)
    folder.mkdir(parents=True, exist_ok=True)
    # The state is read before the rows: changes made meanwhile are applied again later,
    # which is harmless (applying a change is idempotent), while missing one would not be.
    state = database_state(repository)
    started = time.perf_counter()
    model_id: str | None = None
    if kind == LEXICAL:
        entries = list(repository.word_forms())
    else:
        from indexer.search.passages import collection_passages

        model_id = _prepared_model(home, repository, semantic_model)
        entries = list(collection_passages(repository.line_texts()))
    count = shard_count(len(entries), shards)
    if count == 1 and runner is None:
        return _build_one_file(
            repository, home, kind, entries, model_id, state, started, on_progress
        )
    return _build_shards(
        repository, folder, kind, entries, count, model_id, state, started, runner, on_progress
    )


def _prepared_model(home: Path, repository: Repository, semantic_model: str | Path | None) -> str:
    """The id of the semantic index's model, loaded in this process (rebuild's argument)."""
    from indexer.search.semantic import SemanticIndex

    previous = stored_semantic_model(home, repository.database.url)
    semantic = SemanticIndex(semantic_model if semantic_model is not None else previous)
    if previous is not None and previous != semantic.model_id:
        logger.info(
            "the semantic index changes its sentence model from %s to %s: every passage "
            "is embedded again",
            previous,
            semantic.model_id,
        )
    # Loaded first, even for an empty collection: a manifest must never name a model
    # that cannot be loaded, and a bad name must fail before the lines are read.
    semantic.load_model()
    return semantic.model_id


def _build_one_file(
    repository: Repository,
    home: Path,
    kind: str,
    entries: list[tuple[int, str]],
    model_id: str | None,
    state: DatabaseState,
    started: float,
    on_progress: SemanticProgress | None,
) -> Manifest:
    """Builds an index of one file here and saves it (the layout without shards)."""
    index: LexicalIndex | SemanticIndex
    if kind == LEXICAL:
        from indexer.search.lexical import LexicalIndex

        index = LexicalIndex.build(entries)
    else:
        from indexer.search.semantic import SemanticIndex

        index = SemanticIndex(model_id)
        index.build(entries, on_progress=on_progress)
    return save_index(
        repository, home, index, state=state, build_seconds=time.perf_counter() - started
    )


def _build_shards(
    repository: Repository,
    folder: Path,
    kind: str,
    entries: list[tuple[int, str]],
    count: int,
    model_id: str | None,
    state: DatabaseState,
    started: float,
    runner: ShardRunner | None,
    on_progress: SemanticProgress | None,
) -> Manifest:
    """Builds an index's shards with `runner` and writes their manifest."""
    from indexer.search import shard_files

    jobs = shard_files.plan_jobs(folder, kind, entries, count, model_id)
    del entries
    built = (runner or shard_files.run_locally)(jobs, on_progress)
    seconds = time.perf_counter() - started
    if len(built) == 1:
        return shard_files.commit_single(
            repository,
            folder,
            kind,
            built[0],
            state=state,
            build_seconds=seconds,
            model_id=model_id,
        )
    return shard_files.write_sharded_manifest(
        repository, folder, kind, built, state=state, build_seconds=seconds, model_id=model_id
    )


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
    size, digest = size_and_digest(path)
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
    from indexer.search.shard_files import sweep_shards

    sweep_shards(folder, kind, None)  # the shards of an earlier build, if any
    logger.info("wrote the %s index (%d entries) to %s", kind, manifest.entries, path)
    return manifest


def catch_up_semantic(index: AnySemanticIndex, repository: Repository, after_change: int) -> int:
    """Applies the change feed after a high-water mark to a semantic index.

    A deleted line loses its passage and the window it starts; every page with a stored or
    corrected line gets all its passages again (`indexer.search.passages.page_passages`), since a
    line's text is also part of its neighbours' windows. In an index cut into shards, each
    passage is removed from and added to the shard of its first line.

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


def load_lexical(repository: Repository, home: Path) -> AnyLexicalIndex | None:
    """The saved lexical index, if its file (or every shard) is sound and fits this database.

    Never raises for a bad file: a missing, corrupt or foreign file is logged and None is
    returned, so that the caller builds the index from the database; of an index cut into
    shards, a bad shard is logged and built in memory from its range alone
    (`indexer.search.shard_files.load_lexical_shards`). The index may be behind the
    database: add ``repository.word_forms(after_id=index.max_id)``.
    """
    from indexer.search.lexical import LexicalIndex
    from indexer.search.shard_files import load_lexical_shards

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
        if manifest.sharded:
            # A bad shard is built in memory alone; each shard is checked against its entry.
            return load_lexical_shards(folder, manifest, repository)
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
) -> tuple[AnySemanticIndex, int] | None:
    """The saved semantic index and its high-water mark, if its file is sound and fits.

    Never raises for a bad file: a missing, corrupt or foreign file, or one built with
    another model than `model`, is logged and None is returned; of an index cut into
    shards, a bad shard is logged and built in memory from its range alone. Apply the
    change feed after the returned high-water mark (`catch_up_semantic`) before searching.

    Args:
        repository: The database.
        home: legajo's data folder.
        model: The sentence model the caller searches with (see
            `indexer.search.semantic.resolve_model`); None: the model the index was built
            with, as its manifest names it.
    """
    from indexer.search.semantic import SemanticIndex, resolve_model
    from indexer.search.shard_files import load_semantic_shards

    folder = index_folder(home, repository.database.url)
    try:
        manifest = _manifest_for_loading(folder, SEMANTIC)
        if manifest is None:
            return None
        if model is None:
            model = manifest.model_id
        elif (wanted := resolve_model(model).model_id) != manifest.model_id:
            logger.info(
                "semantic index %s was built with the sentence model %s, not %s; not using it",
                index_path(folder, SEMANTIC),
                manifest.model_id,
                wanted,
            )
            return None
        if manifest.change_id > repository.last_change_id():
            logger.warning(
                "semantic index %s is ahead of this database's change feed (built for "
                "another database?); ignoring it",
                index_path(folder, SEMANTIC),
            )
            return None
        if manifest.sharded:
            # A bad shard is built in memory alone; each shard is checked against its entry.
            return load_semantic_shards(folder, manifest, model, repository), manifest.change_id
        index = SemanticIndex.load(index_path(folder, SEMANTIC), model)
    except (IndexerError, OSError) as error:
        logger.warning("cannot use the semantic index file: %s", error)
        return None
    if len(index) != manifest.entries:
        logger.warning("semantic index file does not match its manifest; ignoring it")
        return None
    return index, manifest.change_id


# -- repairing --------------------------------------------------------------------------------


def repair(
    repository: Repository,
    home: Path,
    statuses: Iterable[IndexStatus],
    *,
    on_progress: SemanticProgress | None = None,
) -> list[Manifest]:
    """Fixes what `check` found: rebuilds broken indexes, brings stale ones up to date.

    Of an index cut into shards, only the shards `check` named are rebuilt (then the index
    is brought up to date if the database moved on); a broken manifest, or a mismatch with
    the database, rebuilds the whole index with as many shards as it had.

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
    from indexer.search.shard_files import rebuild_shards

    repaired = []
    for status in statuses:
        if status.ok:
            continue
        manifest = None
        if status.problem is Problem.STALE and status.manifest is not None:
            manifest = _catch_up(repository, home, status.manifest)
        elif status.shards and status.manifest is not None and status.manifest.sharded:
            folder = index_folder(home, repository.database.url)
            manifest = rebuild_shards(
                repository, folder, status.manifest, status.shards, on_progress=on_progress
            )
            # The other shards may be behind the database: bring them up to date too.
            behind = compare_with_database(manifest, database_state(repository))
            if behind is not None and behind[0] is Problem.STALE:
                manifest = _catch_up(repository, home, manifest) or manifest
        if manifest is None:
            model = status.manifest.model_id if status.manifest is not None else None
            shards = (len(status.manifest.shards) or 1) if status.manifest else "auto"
            manifest = rebuild(
                repository,
                home,
                status.kind,
                semantic_model=model,
                on_progress=on_progress,
                shards=shards,
            )
        repaired.append(manifest)
    return repaired


def _catch_up(repository: Repository, home: Path, manifest: Manifest) -> Manifest | None:
    """Brings a stale index up to date in place; None if its file cannot be used.

    Of an index cut into shards, only the shards that changed are written again.
    """
    from indexer.search.lexical import LexicalIndex
    from indexer.search.semantic import SemanticIndex
    from indexer.search.shard_files import save_dirty_shards

    state = database_state(repository)
    started = time.perf_counter()
    index: AnyLexicalIndex | AnySemanticIndex
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
    seconds = time.perf_counter() - started
    if isinstance(index, LexicalIndex | SemanticIndex):
        return save_index(repository, home, index, state=state, build_seconds=seconds)
    folder = index_folder(home, repository.database.url)
    return save_dirty_shards(
        repository, folder, manifest, index, state=state, build_seconds=seconds
    )


def _manifest_for_loading(folder: Path, kind: str) -> Manifest | None:
    """The manifest, if there is one and its file has the size it records.

    The sizes of an index's shards are checked as they are loaded (`indexer.search.shard_files`).
    """
    try:
        manifest = read_manifest(folder, kind)
    except FileNotFoundError:
        logger.info("no %s index file in %s yet", kind, folder)
        return None
    if manifest.sharded:
        return manifest
    path = index_path(folder, kind)
    size = path.stat().st_size
    if size != manifest.size_bytes:
        raise IndexFileError(
            f"{path} has {size:,} bytes, its manifest says {manifest.size_bytes:,}"
        )
    return manifest


def stored_semantic_model(home: Path, database_url: str) -> str | None:
    """The sentence model a database's semantic index was built with: its stored setting.

    Read from the index's manifest, or from the index file's own header when the manifest
    is missing or unreadable; nothing is loaded.

    Args:
        home: legajo's data folder.
        database_url: The database's URL (as `indexer.store.db.Database.url` gives it).

    Returns:
        The model id (`indexer.search.semantic.ModelSource.model_id`: the packaged model's
        name, a model directory's absolute path, or a hub name); None when neither file says.
    """
    from indexer.search.semantic import SemanticIndex

    folder = index_folder(home, database_url)
    try:
        return read_manifest(folder, SEMANTIC).model_id
    except (FileNotFoundError, IndexFileError):
        pass
    try:
        return SemanticIndex.read_header(index_path(folder, SEMANTIC)).model_id
    except IndexFileError:
        return None
