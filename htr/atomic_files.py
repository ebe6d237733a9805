"""Atomic file writes: readers see either the old file or the whole new one, never a part.

The content goes to a temporary file in the same folder (so the rename cannot cross file
systems), named ``.<name>.<random>.tmp``, which is then renamed over the target with
`os.replace`. A failed or interrupted write removes the temporary file and leaves the target
untouched. With ``durable=True`` (the default) the temporary file is flushed to disk before the
rename and the folder after it, so the new file also survives a power cut; without it the
rename is still atomic for running readers, but a crash soon after may lose the new content.

This is the one place legajo writes files this way (index files and their manifests,
``calibration.json``, exports).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
"""Owner read and write only: the mode `tempfile.mkstemp` gives, and the default here."""
PUBLIC_MODE = 0o666
"""The mode `open` asks for (less the umask, usually ``rw-r--r--``)."""

_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)
_NAME_ATTEMPTS = 100


def write_atomically(
    path: Path,
    write: Callable[[IO[bytes]], object],
    *,
    durable: bool = True,
    mode: int = PRIVATE_MODE,
) -> None:
    """Writes a file so that readers see either the old file or the whole new one.

    Args:
        path: The file; its folder must exist.
        write: Writes the content to the binary stream it is given (what it returns is
            ignored).
        durable: Flush the file to disk before the rename and the folder after it, so the
            new file survives a power cut.
        mode: Permission bits of the new file, less the umask, as for `os.open`:
            `PRIVATE_MODE` (the default) or `PUBLIC_MODE` for what `open` would give.

    Raises:
        OSError: The file cannot be written; `path` is then untouched and no temporary file
            is left. Whatever `write` raises propagates the same way.
    """
    descriptor, temporary = _create_temporary(path, mode)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(path.parent)


def write_bytes_atomically(
    path: Path, data: bytes, *, durable: bool = True, mode: int = PRIVATE_MODE
) -> None:
    """Writes bytes to a file atomically (see `write_atomically`).

    Args:
        path: The file; its folder must exist.
        data: The whole content.
        durable: See `write_atomically`.
        mode: See `write_atomically`.

    Raises:
        OSError: The file cannot be written; `path` is then untouched.
    """
    write_atomically(path, lambda stream: stream.write(data), durable=durable, mode=mode)


def write_text_atomically(
    path: Path,
    text: str,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
    mode: int = PRIVATE_MODE,
) -> None:
    """Writes text to a file atomically (see `write_atomically`), newlines untranslated.

    Args:
        path: The file; its folder must exist.
        text: The whole content.
        encoding: How to encode `text`.
        durable: See `write_atomically`.
        mode: See `write_atomically`.

    Raises:
        OSError: The file cannot be written; `path` is then untouched.
        UnicodeEncodeError: `text` cannot be encoded; `path` is then untouched.
    """
    write_bytes_atomically(path, text.encode(encoding), durable=durable, mode=mode)


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    """Creates and opens a new temporary file next to `path`, as `tempfile.mkstemp` does."""
    for _ in range(_NAME_ATTEMPTS):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, _OPEN_FLAGS, mode), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name next to {path}")


def _fsync_folder(folder: Path) -> None:
    """Flushes a folder's entries to disk, so a rename in it survives a power cut."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is done anyway
        logger.debug("cannot open %s to flush it", folder)
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
