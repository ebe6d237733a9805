"""Where page images named by layout files may lie: inside the folders being imported.

A PAGE or ALTO file names its page image (``imageFilename``, ``sourceImageInformation/
fileName``), and that name is data from outside: ``/home/someone/secret.png`` or
``../../secret/secret.png`` would make any file the server can read a page image, shown by
the workbench to whoever opens the page (read-only servers included) and read by
``legajo train --from-db``. So an image named by a layout file is used only when it
resolves (`Path.resolve`: ``..`` collapsed, symlinks followed) inside an *image root*
(`import_image_roots`):

- each folder given to `legajo import`, and the folder of each file given;
- the folder above each of those that is a ``page/`` or ``alto/`` folder (the Transkribus and
  OCR-D layout, where the images lie one folder up);
- each folder given with ``--images-root``.

Anything else is refused with `ImagePathRefusedError` (`check_inside_roots`) before it is
opened: an absolute path elsewhere, a ``..`` that climbs out, a symlink that leads out.

Roots are resolved when a path is checked, like the path itself: an archive that is moved and
linked back (``/data -> /mnt/disk2/data``) keeps its images, while a symlink inside a root that
leads out of it is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer.errors import ImagePathRefusedError, InputPathError

logger = logging.getLogger(__name__)

LAYOUT_SUBFOLDERS = frozenset({"page", "alto"})
"""Folders that hold layout files whose images lie one folder up."""

_ROOTS_SHOWN = 3


def import_image_roots(paths: Iterable[Path], extra_roots: Iterable[Path] = ()) -> tuple[Path, ...]:
    """The image roots of an import (see the module docstring), resolved, in order, once each.

    Args:
        paths: The files and folders being imported (a file stands for its folder).
        extra_roots: Further folders whose images are allowed (``--images-root``).

    Returns:
        The roots.

    Raises:
        InputPathError: If an extra root is not an existing folder.
    """
    extra = tuple(extra_roots)
    roots: list[Path] = []
    for path in paths:
        folder = path.resolve() if path.is_dir() else path.resolve().parent
        roots.append(folder)
        if folder.name.lower() in LAYOUT_SUBFOLDERS:
            roots.append(folder.parent)
    not_folders = [str(root) for root in extra if not root.is_dir()]
    if not_folders:
        raise InputPathError(f"--images-root is not a folder: {', '.join(not_folders)}")
    roots.extend(root.resolve() for root in extra)
    return tuple(dict.fromkeys(roots))


def find_root(path: Path, roots: Sequence[Path]) -> Path | None:
    """The narrowest of `roots` that holds `path` once both are resolved; None when none does."""
    resolved = _resolved(path)
    if resolved is None:
        return None
    holding = [root for root in roots if _holds(root, resolved)]
    return max(holding, key=lambda root: len(root.parts), default=None)


def check_inside_roots(
    path: Path,
    roots: Sequence[Path],
    *,
    named_by: str,
    allowed: str = "the folders being imported",
    hint: str = "",
) -> Path:
    """Resolves a page image path and checks that it lies inside one of `roots`.

    Args:
        path: The image path, absolute.
        roots: The folders it may lie in.
        named_by: What named the path (the layout file, the stored page), first in the message.
        allowed: The roots in words, for the message.
        hint: What to do about a refusal, appended to the message.

    Returns:
        The path resolved: the file to open.

    Raises:
        ImagePathRefusedError: If the resolved path lies in none of `roots` (or cannot be
            resolved: a symlink loop). The message names `named_by`, the path, where it leads
            and the roots.
    """
    resolved = _resolved(path)
    if resolved is not None and any(_holds(root, resolved) for root in roots):
        return resolved
    leads = "" if resolved is None or resolved == path else f" (it leads to {resolved})"
    if resolved is None:
        leads = " (a symlink loop)"
    shown = ", ".join(str(root) for root in roots[:_ROOTS_SHOWN])
    if len(roots) > _ROOTS_SHOWN:
        shown += f" and {len(roots) - _ROOTS_SHOWN} more"
    where = f"outside {allowed}: {shown}" if roots else f"not inside {allowed}"
    message = f"{named_by}: refused image {path}{leads}: {where}{hint}"
    logger.info("%s", message)
    raise ImagePathRefusedError(message, path, resolved or path, tuple(roots))


def _resolved(path: Path) -> Path | None:
    """`path` resolved (symlinks followed, ``..`` collapsed); None on a symlink loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11, 3.12)
        return None


def _holds(root: Path, resolved: Path) -> bool:
    """True when `resolved` (a resolved path) is `root` or lies below it, `root` resolved now."""
    real_root = _resolved(root)
    return real_root is not None and resolved.is_relative_to(real_root)
