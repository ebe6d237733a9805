"""From a page image to a `Page`: find the lines, read them, place and score their words."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from PIL import Image

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep, Word
from htr.errors import LayoutError
from htr.images import PageImage, to_grey
from htr.layout.common import LayoutFile
from htr.layout.files import find_layout_file, read_layout_file
from htr.line_images import crop_line
from htr.recognizer import LineReading, Recognizer
from htr.segmentation import SegmentationSettings, segment_page
from htr.types import BBox
from htr.word_boxes import word_boxes

logger = logging.getLogger(__name__)


class LayoutMode(StrEnum):
    """Where the line polygons come from.

    AUTO uses a PAGE or ALTO file with the image's stem when there is one, else our own
    segmentation; XML requires such a file; OWN always segments.
    """

    AUTO = "auto"
    XML = "xml"
    OWN = "own"


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How pages are turned into lines before recognition.

    Attributes:
        layout: Where line polygons come from (see `LayoutMode`).
        whole_image: Treat every image as one text line (no layout analysis).
        segmentation: Settings of our own segmentation.
    """

    layout: LayoutMode = LayoutMode.AUTO
    whole_image: bool = False
    segmentation: SegmentationSettings | None = None


def find_lines(page: PageImage, settings: PipelineSettings) -> tuple[list[Line], ProcessingStep]:
    """Finds the text lines of a page image, without reading them.

    Args:
        page: The page image.
        settings: Layout settings.

    Returns:
        The lines in reading order, and the step that found them.

    Raises:
        LayoutError: If `settings.layout` is XML and no usable PAGE/ALTO file exists, or the
            file found is malformed.
    """
    width, height = page.image.size
    if settings.whole_image:
        box: BBox = (0, 0, width, height)
        polygon = ((0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1))
        step = ProcessingStep("segmentation", SOFTWARE, settings={"method": "whole-image"})
        return [Line(id="l0", bbox=box, polygon=polygon)], step
    if settings.layout is not LayoutMode.OWN:
        imported = _import_layout(page, settings.layout)
        if imported is not None:
            return imported
    segmentation = settings.segmentation or SegmentationSettings()
    lines = segment_page(to_grey(page.image), segmentation)
    step = ProcessingStep("segmentation", SOFTWARE, settings={"method": "legajo-opencv"})
    return lines, step


def _import_layout(page: PageImage, mode: LayoutMode) -> tuple[list[Line], ProcessingStep] | None:
    """Reads the page's PAGE/ALTO lines; None means "segment it ourselves".

    In AUTO mode a missing file, or one that cannot be read (logged), falls back to our own
    segmentation; in XML mode both are errors.
    """
    layout_path = find_layout_file(page.source) if page.frame == 0 else None
    if layout_path is None:
        if mode is LayoutMode.XML:
            only_first = " (XML layouts apply to frame 0 only)" if page.frame else ""
            raise LayoutError(
                f"{page.source} (frame {page.frame}): no PAGE or ALTO file with the image's "
                f"name next to it{only_first}"
            )
        return None
    try:
        layout = read_layout_file(layout_path)
    except LayoutError as error:
        if mode is LayoutMode.XML:
            raise
        logger.warning("%s; segmenting %s ourselves", error, page.source)
        return None
    step = ProcessingStep(
        "layout-import", SOFTWARE, settings={"method": "xml", "file": layout_path.name}
    )
    width, height = page.image.size
    return _fit_to_image(layout, width, height), step


def transcribe_page(
    page: PageImage, recognizer: Recognizer, settings: PipelineSettings | None = None
) -> Page:
    """Finds and reads the lines of one page image.

    Args:
        page: The page image.
        recognizer: The line recognizer.
        settings: Layout settings.

    Returns:
        The page with one `Line` per line found, each with text, words (confidences, boxes)
        and alternative readings; provenance in `Page.steps`.

    Raises:
        LayoutError: See `find_lines`.
    """
    settings = settings or PipelineSettings()
    lines, layout_step = find_lines(page, settings)
    crops = [crop_line(page.image, line) for line in lines]
    readings = recognizer.recognize(crops)
    read_lines = tuple(
        _with_reading(line, crop, reading)
        for line, crop, reading in zip(lines, crops, readings, strict=True)
    )
    return Page(
        image=str(page.source),
        frame=page.frame,
        width=page.image.width,
        height=page.image.height,
        lines=read_lines,
        steps=(layout_step, recognizer.processing_step()),
    )


def _with_reading(line: Line, crop: Image.Image, reading: LineReading) -> Line:
    """Attaches a reading to a line, with each word placed inside the line's box."""
    boxes = _place_words(line, crop, [w.text for w in reading.words])
    words = tuple(
        Word(w.text, w.confidence, box) for w, box in zip(reading.words, boxes, strict=True)
    )
    return replace(
        line,
        text=reading.text,
        confidence=reading.confidence,
        words=words,
        alternatives=reading.alternatives,
    )


def _place_words(line: Line, crop: Image.Image, texts: list[str]) -> list[BBox]:
    if not texts:
        return []
    if crop.width == 0 or crop.height == 0:
        return [line.bbox] * len(texts)
    x0, y0 = max(0, line.bbox[0]), max(0, line.bbox[1])
    boxes = word_boxes(np.asarray(crop.convert("L")), texts)
    return [(a + x0, b + y0, c + x0, d + y0) for a, b, c, d in boxes]


def _fit_to_image(layout: LayoutFile, width: int, height: int) -> list[Line]:
    """Scales layout coordinates when the XML describes a differently sized copy of the image."""
    if not layout.width or not layout.height or (layout.width, layout.height) == (width, height):
        return list(layout.lines)
    sx, sy = width / layout.width, height / layout.height
    logger.info(
        "%s describes a %dx%d image; scaling to %dx%d",
        layout.path,
        layout.width,
        layout.height,
        width,
        height,
    )

    def point(p: tuple[int, int]) -> tuple[int, int]:
        return (min(width - 1, round(p[0] * sx)), min(height - 1, round(p[1] * sy)))

    def box_of(box: BBox) -> BBox:
        x0, y0, x1, y1 = box
        return (
            round(x0 * sx),
            round(y0 * sy),
            min(width, round(x1 * sx)),
            min(height, round(y1 * sy)),
        )

    scaled = []
    for line in layout.lines:
        words = tuple(replace(w, bbox=box_of(w.bbox)) for w in line.words)
        scaled.append(
            replace(
                line,
                bbox=box_of(line.bbox),
                polygon=tuple(point(p) for p in line.polygon),
                baseline=tuple(point(p) for p in line.baseline),
                words=words,
            )
        )
    return scaled
