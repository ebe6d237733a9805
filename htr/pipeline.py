"""From a page image to a `Page`: find the lines, read them, place and score their words."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep, SettingValue, Word
from htr.errors import LayoutError
from htr.images import DEFAULT_PDF_DPI, PageImage, to_grey
from htr.layout.common import LayoutFile
from htr.layout.files import LayoutSearch, read_layout_file, search_layout_file
from htr.line_images import crop_line
from htr.recognizer import LineReading, Recognizer
from htr.segmentation import SegmentationSettings
from htr.segmentation_check import PlausibilityLimits, segment_page_checked
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
        plausibility: What a plausible result of our own segmentation looks like; a page
            whose lines are not is segmented again with safer settings, and if they still
            are not, reported (see `fail_implausible`).
        fail_implausible: When our own segmentation of a page stays implausible, raise
            `LayoutError` instead of logging a warning and reading the lines anyway.
    """

    layout: LayoutMode = LayoutMode.AUTO
    whole_image: bool = False
    segmentation: SegmentationSettings | None = None
    plausibility: PlausibilityLimits | None = None
    fail_implausible: bool = False


_NEAR_SAME_SCALE = 0.02
"""A layout file that names another image is refused when its size is within this fraction
of the image's without being equal: a different scan of about the same size, not a copy."""


def find_lines(page: PageImage, settings: PipelineSettings) -> tuple[list[Line], ProcessingStep]:
    """Finds the text lines of a page image, without reading them.

    Args:
        page: The page image.
        settings: Layout settings.

    Returns:
        The lines in reading order, and the step that found them. Its settings say how:
        ``method`` (``xml``, ``legajo-opencv`` or ``whole-image``), and when they apply
        ``pdf_dpi`` (the resolution a PDF page was rendered at), ``scale`` and
        ``declared_size`` (a layout file for a scaled copy of the image), ``declared_image``
        (the other image name a layout file gives), ``resegmented`` and ``implausible``
        (see `PipelineSettings.plausibility`).

    Raises:
        LayoutError: If `settings.layout` is XML and no usable PAGE/ALTO file exists, or the
            file found is malformed; whatever the mode, if the file found describes another
            image (`fit_layout_to_image`); if `settings.fail_implausible` and our own
            segmentation stays implausible.
    """
    width, height = page.image.size
    rendering: dict[str, SettingValue] = {} if page.pdf_dpi is None else {"pdf_dpi": page.pdf_dpi}
    if settings.whole_image:
        box: BBox = (0, 0, width, height)
        polygon = ((0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1))
        step = ProcessingStep(
            "segmentation", SOFTWARE, settings={"method": "whole-image", **rendering}
        )
        return [Line(id="l0", bbox=box, polygon=polygon)], step
    if settings.layout is not LayoutMode.OWN:
        imported = _import_layout(page, settings.layout)
        if imported is not None:
            lines, step = imported
            return lines, replace(step, settings={**step.settings, **rendering})
    lines, found = _own_segmentation(page, settings)
    step = ProcessingStep("segmentation", SOFTWARE, settings={**found, **rendering})
    return lines, step


def _own_segmentation(
    page: PageImage, settings: PipelineSettings
) -> tuple[list[Line], dict[str, SettingValue]]:
    """Segments a page ourselves, guarded; returns the lines and the step's settings."""
    result = segment_page_checked(to_grey(page.image), settings.segmentation, settings.plausibility)
    step_settings: dict[str, SettingValue] = {"method": "legajo-opencv"}
    where = f"{page.source} (frame {page.frame})"
    if result.first_try is not None:
        first_count, first_problems = result.first_try
        step_settings["resegmented"] = f"{first_count} lines: {'; '.join(first_problems)}"
        logger.warning(
            "%s: our own segmentation found %d implausible lines (%s); segmented again with "
            "safer settings: %d lines",
            where,
            first_count,
            "; ".join(first_problems),
            len(result.lines),
        )
    if result.problems:
        problems = "; ".join(result.problems)
        message = (
            f"{where}: our own segmentation found {len(result.lines)} implausible lines "
            f"({problems})"
        )
        if settings.fail_implausible:
            raise LayoutError(f"{message}; give the page a PAGE or ALTO file")
        logger.warning("%s; reading them anyway, which may take long", message)
        step_settings["implausible"] = problems
    return result.lines, step_settings


def _import_layout(page: PageImage, mode: LayoutMode) -> tuple[list[Line], ProcessingStep] | None:
    """Reads the page's PAGE/ALTO lines; None means "segment it ourselves".

    In AUTO mode a missing file, or one that cannot be read (logged), falls back to our own
    segmentation; in XML mode both are errors. A file that describes another image is an
    error in both modes.
    """
    search = search_layout_file(page.source) if page.frame == 0 else LayoutSearch(None)
    if search.found is None:
        if mode is LayoutMode.XML:
            raise LayoutError(_no_layout_message(page, search))
        for rejected in search.rejected:
            logger.warning("%s; segmenting %s ourselves", rejected.reason, page.source)
        return None
    layout_path = search.found
    try:
        layout = read_layout_file(layout_path)
    except LayoutError as error:
        if mode is LayoutMode.XML:
            raise
        logger.warning("%s; segmenting %s ourselves", error, page.source)
        return None
    width, height = page.image.size
    lines, fitted = fit_layout_to_image(layout, page.source.name, width, height)
    step = ProcessingStep(
        "layout-import",
        SOFTWARE,
        settings={"method": "xml", "file": layout_path.name, **fitted},
    )
    return lines, step


def _no_layout_message(page: PageImage, search: LayoutSearch) -> str:
    where = f"{page.source} (frame {page.frame})"
    if page.frame:
        return (
            f"{where}: no PAGE or ALTO file with the image's name next to it "
            "(XML layouts apply to frame 0 only)"
        )
    if search.rejected:
        reasons = "; ".join(rejected.reason for rejected in search.rejected)
        return f"{where}: no usable PAGE or ALTO file next to it: {reasons}"
    return f"{where}: no PAGE or ALTO file with the image's name next to it"


def fit_layout_to_image(
    layout: LayoutFile, image_name: str, width: int, height: int
) -> tuple[list[Line], dict[str, SettingValue]]:
    """Checks that a layout file describes an image, and scales its lines to it if needed.

    The image a layout file describes is known by the name it gives (PAGE
    ``Page@imageFilename``, ALTO ``sourceImageInformation/fileName``) and by its size. The
    names match when their stems are equal ignoring letter case: the file name only (any
    folder or URL path before it is dropped), without its extension, because exports from
    Transkribus and eScriptorium name the file that was uploaded, often a TIFF or a copy
    under another extension. A size matches when it is equal, or a uniform scaling of the
    image's (both sides in the same ratio, to a pixel of rounding): the layout was made on a
    larger or smaller copy of the image, and its lines are scaled.

    - Same size: the lines are used as they are, whatever name the file gives (a renamed
      image; the other name is recorded as ``declared_image``).
    - Uniformly scaled size: the lines are scaled (``scale``, ``declared_size``), unless the
      name differs too and the ratio is within 2 % of 1: that is another scan of about the
      same size, not a copy.
    - Any other size: an error, with or without the same name; the lines cannot be placed.

    A file without a size is used as it is.

    Args:
        layout: The layout file read.
        image_name: The image file's name.
        width: The image's width in pixels.
        height: The image's height in pixels.

    Returns:
        The lines in the image's pixels, and what to record in the provenance:
        ``declared_image`` when the names differ, ``scale`` and ``declared_size`` when the
        lines were scaled.

    Raises:
        LayoutError: The file describes another image; the message names both files and
            both sizes.
    """
    declared = _declared_name(layout.image_filename)
    same_name = declared is None or _stem(declared) == _stem(image_name)
    recorded: dict[str, SettingValue] = {} if same_name else {"declared_image": declared}
    if not layout.width or not layout.height or (layout.width, layout.height) == (width, height):
        if not same_name:
            logger.info(
                "%s names the image %s, not %s; used as the sizes agree",
                layout.path,
                declared,
                image_name,
            )
        return list(layout.lines), recorded
    sx, sy = width / layout.width, height / layout.height
    uniform = _is_uniform_scaling(layout.width, layout.height, width, height)
    if not uniform or (not same_name and abs((sx + sy) / 2 - 1) < _NEAR_SAME_SCALE):
        described = f"{declared} of " if declared is not None else "an image of "
        why = (
            "not a uniform scaling of its size"
            if not uniform
            else "about the same size but another name"
        )
        raise LayoutError(
            f"{layout.path} describes another image: {described}{layout.width}x{layout.height} "
            f"pixels, while {image_name} is {width}x{height} pixels ({why}); its lines "
            f"cannot be placed on {image_name}"
        )
    logger.info(
        "%s describes a %dx%d copy of %s; scaling to %dx%d",
        layout.path,
        layout.width,
        layout.height,
        image_name,
        width,
        height,
    )
    recorded["scale"] = round((sx + sy) / 2, 6)
    recorded["declared_size"] = f"{layout.width}x{layout.height}"
    return _scaled_lines(layout.lines, sx, sy, width, height), recorded


def _declared_name(image_filename: str | None) -> str | None:
    """The file name in an image reference: a path's (either slash) or a URL's last part."""
    if not image_filename or not image_filename.strip():
        return None
    path = image_filename.strip().replace("\\", "/")
    if "://" in path:  # a URL: its query and fragment are no part of the name
        path = path.split("?", 1)[0].split("#", 1)[0]
    name = PurePosixPath(path).name
    return name or None


def _stem(name: str) -> str:
    return PurePosixPath(name).stem.casefold()


def _is_uniform_scaling(from_w: int, from_h: int, to_w: int, to_h: int) -> bool:
    """Whether ``to`` is ``from`` scaled by one factor, to a pixel of rounding on each side.

    The tolerance is one pixel of the scaled image plus one pixel of the original, scaled.
    """
    sx, sy = to_w / from_w, to_h / from_h
    return abs(from_h * sx - to_h) <= 1 + sy and abs(from_w * sy - to_w) <= 1 + sx


def stored_pdf_dpi(steps: Sequence[ProcessingStep]) -> int:
    """The resolution to render a stored page's PDF at, so that its coordinates fit again.

    Coordinates are pixels of the page as rendered when it was transcribed. Its provenance
    records that resolution (``pdf_dpi``, see `find_lines`); pages transcribed before it was
    recorded were rendered at `htr.images.DEFAULT_PDF_DPI`. Pass the result as ``pdf_dpi``
    to `htr.images.iter_page_images` when opening a stored page again; raster images ignore
    it.

    Args:
        steps: The page's provenance (`Page.steps`).

    Returns:
        The recorded resolution, else `DEFAULT_PDF_DPI`.
    """
    for step in steps:
        value = step.settings.get("pdf_dpi")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return int(value)
    return DEFAULT_PDF_DPI


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
    return transcribe_pages([page], recognizer, settings)[0]


def transcribe_pages(
    pages: Sequence[PageImage], recognizer: Recognizer, settings: PipelineSettings | None = None
) -> list[Page]:
    """Finds the lines of several page images and reads them all in one batch.

    The same pages as `transcribe_page` gives one by one, but the recognizer gets the lines
    of all pages in one `Recognizer.recognize` call, so it can batch lines of similar width
    across pages: what makes a folder of line images (`PipelineSettings.whole_image`, one
    line per image) fast.

    Args:
        pages: The page images.
        recognizer: The line recognizer.
        settings: Layout settings.

    Returns:
        One `Page` per page image, in order (see `transcribe_page`).

    Raises:
        LayoutError: See `find_lines`; no page is read then.
    """
    settings = settings or PipelineSettings()
    found = [find_lines(page, settings) for page in pages]
    crops = [
        [crop_line(page.image, line) for line in lines]
        for page, (lines, _) in zip(pages, found, strict=True)
    ]
    readings = recognizer.recognize([crop for page_crops in crops for crop in page_crops])
    recognition = recognizer.processing_step()
    transcribed = []
    start = 0
    for page, (lines, layout_step), page_crops in zip(pages, found, crops, strict=True):
        page_readings = readings[start : start + len(lines)]
        start += len(lines)
        read = tuple(
            _with_reading(line, crop, reading)
            for line, crop, reading in zip(lines, page_crops, page_readings, strict=True)
        )
        transcribed.append(
            Page(
                image=str(page.source),
                frame=page.frame,
                width=page.image.width,
                height=page.image.height,
                lines=read,
                steps=(layout_step, recognition),
            )
        )
    return transcribed


def read_lines(
    image: Image.Image, lines: Sequence[Line], recognizer: Recognizer
) -> tuple[Line, ...]:
    """Reads lines whose place on a page image is known (`transcribe_page`, `legajo reread`).

    Args:
        image: The page image.
        lines: The lines, with their polygons and boxes.
        recognizer: The line recognizer.

    Returns:
        The lines with text, confidence, words (placed inside each line's box) and
        alternative readings; geometry, ids and zones as given.
    """
    crops = [crop_line(image, line) for line in lines]
    readings = recognizer.recognize(crops)
    return tuple(
        _with_reading(line, crop, reading)
        for line, crop, reading in zip(lines, crops, readings, strict=True)
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


def _scaled_lines(
    lines: tuple[Line, ...], sx: float, sy: float, width: int, height: int
) -> list[Line]:
    """The lines with every coordinate scaled by (sx, sy) and kept inside the image."""

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
    for line in lines:
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
