"""Finding the input files of a batch: files as given, folders walked, and nothing dropped silently.

`walk_inputs` is shared by `legajo index` (`indexer.transfer.ingest`), `legajo import`
(`indexer.transfer.importer`) and `legajo transcribe`. A folder contributes the files whose
name the caller accepts (page images, XML files), walked recursively and sorted by path, as
`pathlib.Path.rglob` would list them. What a plain ``rglob`` drops without a word is listed
instead, as an entry with an error, so that the batch reports it and counts it as failed:

- a symbolic link whose target does not exist (or that loops), when the link's name or its
  target's name is one the caller accepts;
- a folder that cannot be listed (no permission, an I/O error);
- an accepted name that is neither a file nor a folder (a FIFO, a socket, a device).

Symbolic links to folders are not followed (a loop would never end); they are logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import InputPathError, NoInputError, UnreadableEntryError

logger = logging.getLogger(__name__)

NameFilter = Callable[[Path], bool]
"""Whether a file name is one the batch works on (``htr.images.is_supported``...)."""


@dataclass(frozen=True, slots=True)
class InputEntry:
    """One input of a batch.

    Attributes:
        path: The file (or the unreadable entry), as given or as found under a folder.
        named: True when given on the command line, False when found in a folder.
        error: Why the entry cannot be read at all (dangling link, unreadable folder...),
            None for an ordinary file (which may still fail when it is read).
    """

    path: Path
    named: bool
    error: UnreadableEntryError | None = None


def walk_inputs(paths: Sequence[Path], accept: NameFilter, *, what: str) -> list[InputEntry]:
    """Lists the inputs of a batch: files as given, folders walked recursively (module doc).

    Args:
        paths: Files and folders. Files are taken whatever their name.
        accept: Which names found in folders are inputs.
        what: The inputs in words, for the message when there are none ("page images").

    Returns:
        The entries, in the order of `paths`, each folder's sorted by path.

    Raises:
        InputPathError: If a path does not exist (a dangling link named on the command
            line included).
        NoInputError: If the paths hold no input at all: no accepted file and no entry
            that could not be read.
    """
    missing = [_describe_missing(p) for p in paths if not p.exists()]
    if missing:
        raise InputPathError(f"no such file or folder: {', '.join(missing)}")
    entries: list[InputEntry] = []
    empty: list[Path] = []
    for path in paths:
        if not path.is_dir():
            entries.append(InputEntry(path, named=True))
            continue
        found = sorted(_walk_folder(path, accept), key=lambda entry: entry.path)
        if not found:
            empty.append(path)
        entries.extend(found)
    if not entries:
        raise NoInputError(f"no {what} in {', '.join(str(p) for p in paths)}")
    for folder in empty:
        logger.warning("no %s in %s", what, folder)
    return entries


def _describe_missing(path: Path) -> str:
    if path.is_symlink():
        return f"{path} (a symbolic link to {os.readlink(path)}, which does not exist)"
    return str(path)


def _walk_folder(folder: Path, accept: NameFilter) -> Iterator[InputEntry]:
    """The accepted files and the unreadable entries under `folder`, in no order."""
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as scan:
                children = list(scan)
        except OSError as error:
            reason = error.strerror or str(error)
            yield InputEntry(
                current,
                named=False,
                error=UnreadableEntryError(f"cannot list the folder {current}: {reason}"),
            )
            continue
        for child in children:
            path = current / child.name
            entry = _classify(path, child, accept)
            if entry is None:
                continue
            if isinstance(entry, Path):
                pending.append(entry)
            else:
                yield entry


def _classify(path: Path, child: os.DirEntry[str], accept: NameFilter) -> InputEntry | Path | None:
    """An entry to report, a folder to walk into, or None for a name to leave out."""
    try:
        is_link = child.is_symlink()
        if is_link and not path.exists():
            return _dangling(path, accept)
        if child.is_dir():
            if is_link:
                logger.info("%s is a symbolic link to a folder: not followed", path)
                return None
            return path
        if not accept(path):
            return None
        if child.is_file():
            return InputEntry(path, named=False)
    except OSError as error:  # a stat that fails (permissions on the way, I/O errors)
        if not accept(path):
            return None
        reason = error.strerror or str(error)
        return InputEntry(path, False, UnreadableEntryError(f"cannot read {path}: {reason}"))
    return InputEntry(
        path, False, UnreadableEntryError(f"cannot read {path}: neither a file nor a folder")
    )


def _dangling(path: Path, accept: NameFilter) -> InputEntry | None:
    """The entry of a symbolic link whose target is missing, if its names are inputs."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    if not (accept(path) or accept(Path(target))):
        logger.info("%s is a dangling symbolic link (to %s): not an input", path, target)
        return None
    return InputEntry(
        path,
        named=False,
        error=UnreadableEntryError(
            f"cannot read {path}: it is a symbolic link to {target}, which does not exist "
            "(or the link loops)"
        ),
    )
