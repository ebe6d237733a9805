"""Layout choice and word placement of the pipeline, with a fake recognizer (fast)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from htr.confidence import WordReading
from htr.document import Alternative, ProcessingStep
from htr.errors import LayoutError
from htr.images import load_page_images
from htr.layout.files import read_layout_file
from htr.pipeline import (
    LayoutMode,
    PipelineSettings,
    find_lines,
    transcribe_page,
    transcribe_pages,
)
from htr.recognizer import LineReading
from tests.conftest import SAMPLES

ALTO_PAGE = SAMPLES / "bnf-esp-285_linaje_ayala_v2.jpg"


class TwoWordRecognizer:
    """Reads every line as "de dios" — enough to check the pipeline's plumbing."""

    model_id = "fake"

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        words = (WordReading("de", 0.9, 0, 2), WordReading("dios", 0.5, 3, 7))
        return [LineReading("de dios", 0.7, words, (Alternative("de dios", 1.0),)) for _ in images]

    def processing_step(self) -> ProcessingStep:
        return ProcessingStep("recognition", "test", model_id="fake")


@pytest.fixture
def page_copy(tmp_path: Path) -> Path:
    image = tmp_path / "folio.jpg"
    shutil.copy(ALTO_PAGE, image)
    shutil.copy(ALTO_PAGE.with_suffix(".xml"), tmp_path / "folio.xml")
    return image


def test_auto_uses_the_xml_next_to_the_image(page_copy: Path) -> None:
    (page,) = load_page_images(page_copy)
    lines, step = find_lines(page, PipelineSettings())
    expected = read_layout_file(page_copy.with_suffix(".xml")).lines
    assert [line.polygon for line in lines] == [line.polygon for line in expected]
    assert step.kind == "layout-import" and step.settings["file"] == "folio.xml"


def test_own_ignores_the_xml(page_copy: Path) -> None:
    (page,) = load_page_images(page_copy)
    lines, step = find_lines(page, PipelineSettings(layout=LayoutMode.OWN))
    assert step.kind == "segmentation" and lines


def test_auto_falls_back_on_a_broken_xml_but_xml_mode_fails(
    page_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page_copy.with_suffix(".xml").write_text("<alto><Layout>", encoding="utf-8")
    (page,) = load_page_images(page_copy)
    lines, step = find_lines(page, PipelineSettings())
    assert step.kind == "segmentation" and lines
    assert "folio.xml" in caplog.text
    with pytest.raises(LayoutError, match=re.escape("folio.xml")):
        find_lines(page, PipelineSettings(layout=LayoutMode.XML))


def test_xml_mode_without_a_file_names_the_image(tmp_path: Path) -> None:
    image = tmp_path / "sin xml.jpg"
    Image.new("RGB", (300, 200), "white").save(image)
    (page,) = load_page_images(image)
    with pytest.raises(LayoutError, match=re.escape("sin xml.jpg")):
        find_lines(page, PipelineSettings(layout=LayoutMode.XML))


def test_xml_for_a_larger_copy_of_the_image_is_scaled(page_copy: Path) -> None:
    with Image.open(page_copy) as full:
        full.resize((full.width // 2, full.height // 2)).save(page_copy)
    (page,) = load_page_images(page_copy)
    lines, _ = find_lines(page, PipelineSettings())
    original = read_layout_file(page_copy.with_suffix(".xml")).lines
    for line, full_size in zip(lines, original, strict=True):
        assert line.bbox[0] == pytest.approx(full_size.bbox[0] / 2, abs=1)
        assert line.bbox[3] <= page.image.height


def test_transcribed_page_keeps_order_ids_and_places_words(page_copy: Path) -> None:
    (page_image,) = load_page_images(page_copy)
    page = transcribe_page(page_image, TwoWordRecognizer())
    expected = read_layout_file(page_copy.with_suffix(".xml")).lines
    assert [line.id for line in page.lines] == [line.id for line in expected]
    assert [step.kind for step in page.steps] == ["layout-import", "recognition"]
    for line in page.lines:
        assert line.text == "de dios" and line.zone is not None
        first, second = line.words
        x0, y0, x1, y1 = line.bbox
        for word in line.words:
            assert x0 <= word.bbox[0] <= word.bbox[2] <= x1
            assert y0 <= word.bbox[1] <= word.bbox[3] <= y1
        assert first.bbox[2] <= second.bbox[0]


def test_whole_image_is_one_line(tmp_path: Path) -> None:
    image = tmp_path / "line.png"
    Image.new("RGB", (400, 50), "white").save(image)
    (page_image,) = load_page_images(image)
    page = transcribe_page(page_image, TwoWordRecognizer(), PipelineSettings(whole_image=True))
    (line,) = page.lines
    assert line.bbox == (0, 0, 400, 50)
    assert page.steps[0].settings["method"] == "whole-image"


class WidthRecognizer(TwoWordRecognizer):
    """Reads each line as its width in pixels, and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        self.calls.append(len(images))
        return [
            LineReading(str(im.width), 1.0, (WordReading(str(im.width), 1.0, 0, 3),))
            for im in images
        ]


def test_pages_are_read_in_one_batch_and_come_back_in_order(
    tmp_path: Path, page_copy: Path
) -> None:
    pages = []
    for width in (300, 120, 640):
        path = tmp_path / f"line-{width}.png"
        Image.new("RGB", (width, 40), "white").save(path)
        pages += load_page_images(path)
    pages += load_page_images(page_copy)
    recognizer = WidthRecognizer()
    read = transcribe_pages(pages, recognizer, PipelineSettings(whole_image=True))
    assert recognizer.calls == [4]
    assert [page.lines[0].text for page in read[:3]] == ["300", "120", "640"]
    one_by_one = [
        transcribe_page(p, WidthRecognizer(), PipelineSettings(whole_image=True)) for p in pages
    ]
    assert read == one_by_one
    laid_out = transcribe_pages(pages[2:], recognizer)  # the page with its XML: many lines
    xml_lines = len(read_layout_file(page_copy.with_suffix(".xml")).lines)
    assert len(laid_out[1].lines) == xml_lines
    assert recognizer.calls[-1] == sum(len(p.lines) for p in laid_out)
    assert [p.image for p in laid_out] == [p.image for p in read[2:]]
