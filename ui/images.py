"""Page images, read only from the files the database records for its pages.

Nothing in the UI opens a path that came from the browser: a page is asked for by its
database id, and the file is the one stored for that page when it was indexed (a relative path
is taken from the working directory, as `legajo index` was given it). The image of an imported
page was named by a PAGE or ALTO file, so it is opened only while it lies inside the folder its
import allowed (`indexer.transfer.importer.stored_image_path`); a refused one is unavailable,
and the refusal is logged for the operator, never shown as the page.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from PIL import Image

from htr.errors import ImageLoadError, LegajoError
from htr.images import iter_page_images
from htr.pipeline import stored_pdf_dpi
from indexer.errors import ImagePathRefusedError
from indexer.store.repository import Repository
from indexer.transfer.transcriptions import stored_image_path

logger = logging.getLogger(__name__)


class PageImageUnavailableError(LegajoError):
    """The file of a stored page is gone, unreadable, or no longer the page that was indexed."""


def load_page_image(repository: Repository, page_id: int) -> Image.Image:
    """Loads the image of a stored page (its frame of the file recorded for it).

    Raises:
        LookupError: If there is no page with that id.
        PageImageUnavailableError: If the file cannot be read, lacks the frame, has another
            size than the indexed page (the file was replaced since), or is refused (an
            imported page's image outside the folder its import allowed).
    """
    page = repository.load_page(page_id)
    path = Path(page.image)
    try:
        path = stored_image_path(page.image, page.steps)
        frames = iter_page_images(path, pdf_dpi=stored_pdf_dpi(page.steps))
        found = next(itertools.islice(frames, page.frame, None), None)
        frames.close()
    except ImagePathRefusedError as error:  # where it leads is for the log, not the browser
        logger.warning("page %d: %s", page_id, error)
        raise PageImageUnavailableError(
            f"{page.image}: refused, it lies outside the folder its import allowed images in "
            "(the server's log says where it leads)"
        ) from error
    except ImageLoadError as error:
        raise PageImageUnavailableError(str(error)) from error
    if found is None:
        raise PageImageUnavailableError(f"{path} has no frame {page.frame} any more")
    if found.image.size != (page.width, page.height):
        raise PageImageUnavailableError(
            f"{path} is {found.image.width}x{found.image.height} pixels, the indexed page "
            f"was {page.width}x{page.height}: the file was replaced since it was indexed"
        )
    logger.debug("loaded page %d from %s [frame %d]", page_id, path, page.frame)
    return found.image
