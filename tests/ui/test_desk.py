"""The workbench's services on an indexed archive: writes, history, review, exports, images."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from indexer.errors import StaleLineError
from indexer.store.repository import Repository, StoredLine
from indexer.transfer.exporter import ExportFormat
from tests.conftest import MEMORISED_TEXTS
from tests.ui.archive import COLLECTION, Archive
from ui.corrections import CorrectionDesk, MissingEditorError, ReadOnlyError
from ui.exports import export_collection, export_file_name, export_page
from ui.images import PageImageUnavailableError, load_page_image
from ui.review import review_queue


@pytest.fixture
def repository(archive: Archive) -> Repository:
    return archive.repository()


def first_line(repository: Repository, text: str) -> StoredLine:
    for page in repository.pages(COLLECTION):
        for stored in repository.lines(page.id) if page.status == "indexed" else ():
            if stored.line.text == text:
                return stored
    raise AssertionError(f"no line reads {text!r}")


def test_read_only_desk_refuses_every_write(repository: Repository) -> None:
    stored = first_line(repository, MEMORISED_TEXTS[1])
    desk = CorrectionDesk(repository, read_only=True)
    with pytest.raises(ReadOnlyError):
        desk.save(stored.id, "sepan quantas", "Ana", stored.version)
    with pytest.raises(ReadOnlyError):
        desk.restore(stored, 1, "Ana", stored.version)
    assert repository.corrections(stored.id) == []


def test_saving_needs_an_editor_and_keeps_every_version(repository: Repository) -> None:
    stored = first_line(repository, MEMORISED_TEXTS[1])
    desk = CorrectionDesk(repository, read_only=False)
    with pytest.raises(MissingEditorError):
        desk.save(stored.id, "x", "   ", stored.version)
    first = desk.save(stored.id, "  sepan quantas esta carta ", " Ana ", stored.version)
    assert (first.line.text, first.version) == ("sepan quantas esta carta", 2)
    with pytest.raises(StaleLineError):
        desk.save(stored.id, "otra", "Bea", stored.version)
    restored = desk.restore(first, 1, "Bea", first.version)
    assert restored.line.text == MEMORISED_TEXTS[1] and restored.version == 3
    history = desk.history(restored)
    assert [(v.version, v.text, v.editor) for v in history] == [
        (1, MEMORISED_TEXTS[1], None),
        (2, "sepan quantas esta carta", "Ana"),
        (3, MEMORISED_TEXTS[1], "Bea"),
    ]


def test_corrected_words_are_stored_verified_and_placed(repository: Repository) -> None:
    stored = first_line(repository, MEMORISED_TEXTS[1])
    desk = CorrectionDesk(repository, read_only=False)
    saved = desk.save(stored.id, "sepan quantas esta carta", "Ana", stored.version)
    again = desk.line(saved.page_id, saved.id)
    assert again.line.words == saved.line.words
    assert [w.text for w in again.line.words] == ["sepan", "quantas", "esta", "carta"]
    assert all(w.confidence == 1.0 for w in again.line.words)
    assert [w.bbox for w in again.line.words] == [w.bbox for w in stored.line.words]


def test_a_confirmation_is_kept_in_the_history(repository: Repository) -> None:
    stored = first_line(repository, MEMORISED_TEXTS[1])
    with pytest.raises(ReadOnlyError):
        CorrectionDesk(repository, read_only=True).confirm(stored.id, "Ana", stored.version)
    desk = CorrectionDesk(repository, read_only=False)
    with pytest.raises(MissingEditorError):
        desk.confirm(stored.id, " ", stored.version)
    confirmed = desk.confirm(stored.id, " Ana ", stored.version)
    assert (confirmed.line.text, confirmed.version) == (stored.line.text, 2)
    assert {w.confidence for w in confirmed.line.words} == {1.0}
    assert [(v.version, v.editor, v.confirmed) for v in desk.history(confirmed)] == [
        (1, None, False),
        (2, "Ana", True),
    ]
    assert stored.id not in {item.line_id for item in review_queue(repository, COLLECTION)}


def test_review_queue_puts_the_weakest_first_and_leaves_corrected_lines_out(
    repository: Repository,
) -> None:
    queue = review_queue(repository, COLLECTION)
    assert len(queue) == 6  # 3 + 2 + 1 lines
    assert [item.weakest for item in queue] == sorted(item.weakest for item in queue)
    weakest = queue[0]
    stored = next(s for s in repository.lines(weakest.page_id) if s.id == weakest.line_id)
    assert weakest.weakest == min(w.confidence for w in stored.line.words)
    CorrectionDesk(repository, read_only=False).save(stored.id, "x", "Ana", stored.version)
    assert weakest.line_id not in {item.line_id for item in review_queue(repository, COLLECTION)}


def test_exports_carry_the_correction(repository: Repository, archive: Archive) -> None:
    stored = first_line(repository, MEMORISED_TEXTS[1])
    CorrectionDesk(repository, read_only=False).save(stored.id, "sepan quantas", "Ana", 1)
    page = next(p for p in repository.pages(COLLECTION) if p.id == stored.page_id)
    text = export_page(repository, page.id, ExportFormat.TEXT).decode("utf-8")
    assert "sepan quantas\n" in text
    xml = etree.fromstring(export_page(repository, page.id, ExportFormat.PAGE))
    assert "sepan quantas" in "".join(xml.itertext())
    assert export_file_name(page, ExportFormat.ALTO) == "folio_1.alto.xml"
    bundle = zipfile.ZipFile(
        io.BytesIO(export_collection(repository, COLLECTION, ExportFormat.ALTO))
    )
    assert sorted(bundle.namelist()) == ["folio_1.alto.xml", "folio_2.alto.xml", "folio_3.alto.xml"]


def test_page_images_come_only_from_the_recorded_file(
    repository: Repository, archive: Archive, tmp_path: Path
) -> None:
    page = repository.pages(COLLECTION)[0]
    image = load_page_image(repository, page.id)
    assert image.size == (640, 40 + 3 * 80)
    with pytest.raises(LookupError):
        load_page_image(repository, 999)


def test_a_replaced_or_missing_page_file_is_reported(
    tmp_path: Path, indexed_home: Archive, memorised_checkpoint: Path
) -> None:
    from tests.ui.archive import build_archive

    copy = build_archive(tmp_path / "home", memorised_checkpoint)
    repository = copy.repository()
    pages = {Path(p.source_path).name: p.id for p in repository.pages(COLLECTION)}
    copy.pages[0].unlink()
    with pytest.raises(PageImageUnavailableError):
        load_page_image(repository, pages["folio_1.png"])
    from PIL import Image

    Image.new("RGB", (10, 10), "white").save(copy.pages[1])
    with pytest.raises(PageImageUnavailableError, match="replaced"):
        load_page_image(repository, pages["folio_2.png"])
