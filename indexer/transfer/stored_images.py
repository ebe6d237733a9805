"""The page images of stored pages, opened again as they were when stored.

`legajo train --from-db` cuts verified lines from them and `legajo reread` reads their lines
again: both need a file's content unchanged (the stored polygons must still fit) and each
PDF page rendered at the resolution it was stored at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from htr.errors import ImageLoadError
from htr.images import PageImage, iter_page_images
from indexer.transfer.ingest import hash_file


def check_unchanged(path: str, hashes: set[str]) -> None:
    """Checks that a file's content is (one of) the content(s) it was stored with.

    Raises:
        ImageLoadError: If the file cannot be read, or its SHA-256 is none of `hashes`.
    """
    if not hashes:
        return
    if hash_file(Path(path)).sha256 not in hashes:
        raise ImageLoadError(
            f"{path} changed since it was stored (another SHA-256): the stored line "
            "polygons may not fit it"
        )


def stored_frames(path: str, wanted: dict[int, int]) -> Iterator[PageImage]:
    """The wanted pages of a file, each rendered as when it was stored; stops after the last.

    Args:
        path: The page file.
        wanted: Frame -> the PDF resolution it was transcribed at (`stored_pdf_dpi`), so
            that its stored polygons fit the page again; raster images ignore it.
    """
    for dpi in sorted(set(wanted.values())):
        frames = {frame for frame, frame_dpi in wanted.items() if frame_dpi == dpi}
        last = max(frames)
        pages = iter_page_images(path, pdf_dpi=dpi)
        try:
            for page in pages:
                if page.frame in frames:
                    yield page
                if page.frame >= last:
                    break
        finally:
            pages.close()
