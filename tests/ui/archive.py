"""A small indexed archive for the UI tests: synthetic pages read by the memorised model.

The pages hold the lines `tests.conftest.MEMORISED_TEXTS`, so recognition is real (segmentation,
TrOCR, word boxes, n-best) and its output predictable. One file that cannot be read gives the
collections page a failure to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from htr.recognizer import RecognizerSettings, load_recognizer
from indexer.settings import StorageSettings, resolve_storage
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.transfer.ingest import IndexSettings, index_paths
from tests.conftest import MEMORISED_TEXTS, render_line

COLLECTION = "cartas"


@dataclass(frozen=True, slots=True)
class Archive:
    """An indexed temporary home.

    Attributes:
        storage: Its home folder and database URL.
        pages: The page image files, in the order they were written.
    """

    storage: StorageSettings
    pages: tuple[Path, ...]

    def repository(self) -> Repository:
        """A new repository on the archive's database."""
        return Repository(open_database(self.storage.database_url))


_PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"


def write_page(texts: Sequence[str], path: Path, width: int = 640) -> None:
    """Writes a white page with one rendered line per text, and its PAGE XML layout beside it.

    The layout file makes the line polygons exact, so the tests do not depend on segmentation.
    """
    rendered = [render_line(text) for text in texts]
    height = 40 + sum(line.height + 40 for line in rendered)
    image = Image.new("RGB", (width, height), "white")
    lines_xml = []
    y = 30
    for number, line in enumerate(rendered, start=1):
        image.paste(line, (30, y))
        x0, y0, x1, y1 = 30, y, 30 + line.width, y + line.height
        lines_xml.append(
            f'<TextLine id="l{number}"><Coords points="{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"/>'
            "</TextLine>"
        )
        y += line.height + 40
    image.save(path)
    path.with_suffix(".xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{_PAGE_NS}">'
        "<Metadata><Creator>legajo tests</Creator><Created>2024-01-01T00:00:00</Created>"
        "<LastChange>2024-01-01T00:00:00</LastChange></Metadata>"
        f'<Page imageFilename="{path.name}" imageWidth="{width}" imageHeight="{height}">'
        f'<TextRegion id="r1"><Coords points="0,0 {width},0 {width},{height} 0,{height}"/>'
        + "".join(lines_xml)
        + "</TextRegion></Page></PcGts>",
        encoding="utf-8",
    )


PAGE_TEXTS = {
    "folio_1.png": MEMORISED_TEXTS,
    "folio_2.png": MEMORISED_TEXTS[1:],
    "folio_3.png": MEMORISED_TEXTS[:1],
}
"""The lines of each page of `build_archive`: "sepan quantos esta carta" is on two pages."""


def build_archive(home: Path, checkpoint: Path) -> Archive:
    """Writes three pages and a broken file under `home`/scans and indexes them.

    Args:
        home: An empty folder: the archive's legajo home.
        checkpoint: The memorised model (`tests.conftest.memorised_checkpoint`).
    """
    scans = home / "scans"
    scans.mkdir(parents=True)
    pages = tuple(scans / name for name in PAGE_TEXTS)
    for path, texts in zip(pages, PAGE_TEXTS.values(), strict=True):
        write_page(texts, path)
    (scans / "roto.png").write_bytes(b"not an image")
    storage = resolve_storage(home, None, environ={})
    archive = Archive(storage=storage, pages=pages)
    repository = archive.repository()
    recognizer = load_recognizer(checkpoint, RecognizerSettings(beams=2, n_best=2))
    try:
        index_paths([scans], repository, recognizer, IndexSettings(collection=COLLECTION))
    finally:
        repository.database.close()
    return archive
