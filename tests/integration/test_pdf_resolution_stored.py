"""A stored PDF page opens again at the resolution it was transcribed at (`stored_pdf_dpi`).

Pages transcribed before the resolution was recorded were rendered at 300 dpi; since then a
72-dpi scan is rendered at 72. The workbench and training must render each page as it was
stored, or its line polygons no longer fit the image.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from htr.document import Line, Page, ProcessingStep
from htr.images import load_page_images
from indexer.store.db import open_database
from indexer.store.repository import ModelKey, Repository
from indexer.transfer.ingest import hash_file
from ui.images import PageImageUnavailableError, load_page_image

SCAN_PIXELS = (1200, 900)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", SCAN_PIXELS, "white").save(path, resolution=72.0)
    return path


def _store(repository: Repository, pdf: Path, size: tuple[int, int], settings: dict) -> int:
    step = ProcessingStep("segmentation", "legajo test", settings=settings)
    line = Line(
        id="l1", polygon=((0, 0), (10, 0), (10, 10), (0, 10)), bbox=(0, 0, 11, 11), text="x"
    )
    page = Page(
        image=str(pdf), frame=0, width=size[0], height=size[1], lines=(line,), steps=(step,)
    )
    # One reading per page in a collection: each copy goes to a collection of its own.
    collection = repository.ensure_collection(f"c{len(repository.pages())}")
    repository.store_page(collection, None, hash_file(pdf), page, ModelKey("m", "r"))
    return repository.pages()[-1].id


def test_pages_open_at_their_stored_resolution(tmp_path: Path, pdf: Path) -> None:
    repository = Repository(open_database(f"sqlite:///{tmp_path / 'l.db'}"))
    try:
        native = _store(repository, pdf, SCAN_PIXELS, {"pdf_dpi": 72})
        assert load_page_image(repository, native).size == SCAN_PIXELS
        # stored before the resolution was recorded: rendered at 300 dpi then, and now
        at_300 = load_page_images(pdf, pdf_dpi=300)[0].image.size
        assert at_300[0] > 4 * SCAN_PIXELS[0]
        older = _store(repository, pdf, at_300, {})
        assert load_page_image(repository, older).size == at_300
        wrong = _store(repository, pdf, SCAN_PIXELS, {"pdf_dpi": 150})
        with pytest.raises(PageImageUnavailableError):
            load_page_image(repository, wrong)
    finally:
        repository.database.close()
