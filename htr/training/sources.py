"""The list of ground-truth sources a model is trained on, and finding them on disk.

A sources file (``data/training/sources.toml`` is the default model's) names each public
repository of line transcriptions with its commit, licence, the folders used, and the pages
and lines legajo read there; ``validation`` folders are held out. `load_sources` reads and
checks it: every licence must be one the file allows, and no repository on its ``never`` list
(kept for independent evaluation) may appear. `locate_sources` finds each source's copy under
one or more snapshot folders (``OWNER+NAME``, ``NAME`` or the source's ``local`` name) and
turns the list into the ground-truth and validation folders `legajo train` reads; a copy that
is a git work tree at another commit than the listed one is reported with a warning.
"""

from __future__ import annotations

import logging
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from htr.errors import LegajoError

logger = logging.getLogger(__name__)

SCHEMA = 1


class SourcesError(LegajoError):
    """A sources file is malformed or breaks its rules, or a listed copy is missing."""


@dataclass(frozen=True, slots=True)
class TrainingSource:
    """One repository of ground truth.

    Attributes:
        name: Short name (unique in the file).
        repository: ``OWNER/NAME`` on GitHub.
        licence: The licence, as its repository states it.
        licence_file: The file of the repository that states it.
        folders: Folders of the repository read, relative to its root.
        validation: Folders held out for validation (never trained on).
        commit: The commit read (None for a local copy without one, e.g. a split).
        local: Folder name of a local copy that is not named after the repository.
        pages: Pages read at that commit.
        lines: Non-empty lines read at that commit.
    """

    name: str
    repository: str
    licence: str
    licence_file: str
    folders: tuple[str, ...]
    validation: tuple[str, ...] = ()
    commit: str | None = None
    local: str | None = None
    pages: int | None = None
    lines: int | None = None


@dataclass(frozen=True, slots=True)
class SourceList:
    """A checked sources file.

    Attributes:
        path: The file.
        sources: Its sources, in the file's order.
        skipped: (repository, reason) of each source considered and left out.
    """

    path: Path
    sources: tuple[TrainingSource, ...]
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LocatedSource:
    """A source and where its copy is.

    Attributes:
        source: The listed source.
        root: The copy's folder.
        train: Its folders to train on.
        validation: Its validation folders.
    """

    source: TrainingSource
    root: Path
    train: tuple[Path, ...]
    validation: tuple[Path, ...]


def load_sources(path: Path) -> SourceList:
    """Reads and checks a sources file.

    Args:
        path: The TOML file.

    Returns:
        Its sources.

    Raises:
        SourcesError: The file is missing or malformed, a licence is not allowed, a
            repository is on the ``never`` list, or a name is used twice.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SourcesError(f"{path}: cannot read the sources file: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise SourcesError(f"{path}: not valid TOML: {error}") from error
    if data.get("schema") != SCHEMA:
        raise SourcesError(f"{path}: schema must be {SCHEMA}, not {data.get('schema')!r}")
    allowed = set(_strings(data, "licences", path))
    never = {r.lower() for r in _strings(data, "never", path)}
    sources = tuple(_source(entry, path) for entry in _tables(data, "source", path))
    if not sources:
        raise SourcesError(f"{path}: no [[source]] entries")
    names = [s.name for s in sources]
    for source in sources:
        if names.count(source.name) > 1:
            raise SourcesError(f"{path}: source name {source.name!r} is used twice")
        if source.repository.lower() in never and source.local is None:
            raise SourcesError(
                f"{path}: {source.repository} is kept for independent evaluation and may not "
                "be trained on"
            )
        if source.licence not in allowed:
            raise SourcesError(
                f"{path}: {source.repository} is under {source.licence!r}, which is not among "
                f"the allowed licences {sorted(allowed)}"
            )
    skipped = tuple(
        (str(entry.get("repository", "?")), str(entry.get("reason", "")))
        for entry in _tables(data, "skipped", path)
    )
    return SourceList(path, sources, skipped)


def locate_sources(sources: SourceList, roots: Sequence[Path]) -> list[LocatedSource]:
    """Finds every source's copy under the snapshot folders.

    A source's copy is the first of ``ROOT/OWNER+NAME`` and ``ROOT/NAME`` (or ``ROOT/LOCAL``
    for a source with a local copy) that exists, over `roots` in order.

    Args:
        sources: The checked sources file.
        roots: Folders holding the copies.

    Returns:
        One `LocatedSource` per source, in the file's order.

    Raises:
        SourcesError: A source, or one of its folders, is not found.
    """
    located = []
    missing = []
    for source in sources.sources:
        root = _copy_of(source, roots)
        if root is None:
            missing.append(source.repository)
            continue
        validation = tuple(root / f for f in source.validation)
        train = tuple(root / f for f in source.folders)
        for folder in (*train, *validation):
            if not folder.is_dir():
                raise SourcesError(f"{source.repository}: {folder} is not a folder")
        _check_commit(source, root)
        located.append(LocatedSource(source, root, train, validation))
    if missing:
        where = ", ".join(str(r) for r in roots)
        raise SourcesError(
            f"not found under {where}: {', '.join(missing)} (a copy of OWNER/NAME is looked "
            "for as OWNER+NAME or NAME; see the sources file)"
        )
    return located


def _copy_of(source: TrainingSource, roots: Sequence[Path]) -> Path | None:
    owner, _, name = source.repository.partition("/")
    # A local copy is a split of its repository, and is never to be taken for the whole.
    names = [source.local] if source.local is not None else [f"{owner}+{name}", name]
    for root in roots:
        for candidate in names:
            if (Path(root) / candidate).is_dir():
                return Path(root) / candidate
    return None


def _check_commit(source: TrainingSource, root: Path) -> None:
    if source.commit is None or not (root / ".git").exists():
        return
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    head = result.stdout.strip()
    if result.returncode == 0 and head != source.commit:
        logger.warning(
            "%s: the copy in %s is at commit %s, the sources file lists %s",
            source.repository,
            root,
            head[:12],
            source.commit[:12],
        )


def _source(entry: dict[str, Any], path: Path) -> TrainingSource:
    try:
        source = TrainingSource(
            name=str(entry["name"]),
            repository=str(entry["repository"]),
            licence=str(entry["licence"]),
            licence_file=str(entry["licence_file"]),
            folders=tuple(str(f) for f in entry["folders"]),
            validation=tuple(str(f) for f in entry.get("validation", ())),
            commit=entry.get("commit"),
            local=entry.get("local"),
            pages=entry.get("pages"),
            lines=entry.get("lines"),
        )
    except (KeyError, TypeError) as error:
        raise SourcesError(f"{path}: a [[source]] lacks or misstates {error}") from error
    if "/" not in source.repository:
        raise SourcesError(f"{path}: repository {source.repository!r} is not OWNER/NAME")
    if source.commit is None and source.local is None:
        raise SourcesError(f"{path}: {source.repository} has neither a commit nor a local copy")
    for folder in (*source.folders, *source.validation):
        if Path(folder).is_absolute() or ".." in Path(folder).parts:
            raise SourcesError(f"{path}: folder {folder!r} must stay inside its repository")
    return source


def _strings(data: dict[str, Any], key: str, path: Path) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{path}: {key} must be a list of strings")
    return value


def _tables(data: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SourcesError(f"{path}: {key} must be an array of tables ([[{key}]])")
    return value
