"""What the PAGE XML and ALTO readers share: the `LayoutFile` they return, parsing helpers.

One safe XML parser (no entity expansion, no network, no huge trees), number and point-list
parsing, the conversion of raw geometry into a `Line` in absolute integer pixels (see
`htr.types`), unique line ids and word confidences. Every problem with an input file is raised
as `LayoutError`, whose message names the file.

This module imports neither reader: `htr.layout.alto` and `htr.layout.pagexml` import it, and
`htr.layout.files` imports all three.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from htr.confidence import WordReading, line_confidence
from htr.document import Line, Word
from htr.errors import LayoutError
from htr.types import BBox, Point, Polygon

logger = logging.getLogger(__name__)

PAGE_NAMESPACES: tuple[str, ...] = tuple(
    f"http://schema.primaresearch.org/PAGE/gts/pagecontent/{version}"
    for version in (
        "2009-03-16",
        "2010-03-19",
        "2013-07-15",
        "2016-07-15",
        "2017-07-15",
        "2018-07-15",
        "2019-07-15",
    )
)
"""The PAGE content namespaces `htr.layout.pagexml` reads."""

ALTO_NAMESPACES: tuple[str, ...] = (
    "http://www.loc.gov/standards/alto/ns-v4#",
    "http://www.loc.gov/standards/alto/ns-v3#",
    "http://www.loc.gov/standards/alto/ns-v2#",
    "http://schema.ccs-gmbh.com/ALTO",
    "",
)
"""The ALTO namespaces `htr.layout.alto` reads ("" is the old un-namespaced ALTO)."""

PAGE_NAMESPACE_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"
"""What every PAGE content namespace starts with, before its schema version (a date)."""

_HTML_START = re.compile(
    r"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html\b|html\b)", re.IGNORECASE | re.DOTALL
)
_SNIFF_CHARACTERS = 4096
"""How much of the start of a file is decoded to recognise HTML and entity declarations."""


@dataclass(frozen=True, slots=True)
class LayoutFile:
    """The lines of one page as read from a PAGE XML or ALTO file.

    Attributes:
        path: The XML file.
        image_filename: The page image as named in the file (PAGE ``Page@imageFilename``,
            ALTO ``sourceImageInformation/fileName``), when given.
        width: Page width in pixels, when the file gives it.
        height: Page height in pixels, when the file gives it.
        lines: The text lines in reading order. `Line.text` is the transcription as written
            (not normalised; empty when there is none) and `Line.zone` the type of the
            line's region, when known.
    """

    path: Path
    image_filename: str | None
    width: int | None
    height: int | None
    lines: tuple[Line, ...]


def split_tag(tag: str) -> tuple[str, str]:
    """Splits lxml's ``{namespace}local`` tag into namespace ("" if none) and local name."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def parse_layout_xml(path: Path) -> Any:
    """Parses an XML file safely and returns its root element.

    The parser expands no entities, loads no DTD, never touches the network, refuses huge
    trees and drops comments. Documents that declare entities are refused outright, before
    parsing: PAGE and ALTO have no use for them, and expanding them is how "billion laughs"
    files exhaust memory. An HTML page saved under an XML name is named as such.

    Args:
        path: The XML file.

    Returns:
        The root element (an ``lxml.etree._Element``).

    Raises:
        LayoutError: The file cannot be read, is HTML, is not well-formed, or declares
            entities.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LayoutError(f"{path}: cannot read the file: {error}") from error
    head = _decoded_head(data)
    if declares_entities(data):
        raise LayoutError(f"{path}: {ENTITIES_REFUSED}")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        load_dtd=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        if _HTML_START.match(head):
            raise LayoutError(
                f"{path}: an HTML page, not XML (neither PAGE XML nor ALTO)"
            ) from error
        start = head.lstrip("\ufeff\x00 \t\r\n")
        if not start:
            raise LayoutError(f"{path}: not well-formed XML: the file is empty") from error
        if not start.startswith("<"):
            raise LayoutError(
                f"{path}: not well-formed XML, not XML at all (it does not start with '<')"
            ) from error
        raise LayoutError(f"{path}: not well-formed XML: {error}") from error
    if root is None:
        raise LayoutError(f"{path}: the XML document is empty")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise LayoutError(f"{path}: {ENTITIES_REFUSED}")
    return root


ENTITIES_REFUSED = (
    "the document declares XML entities, which are not allowed (entity expansion is refused: "
    "PAGE and ALTO files need none)"
)
"""Why a layout file that declares entities is refused (the message follows the file name)."""


def declares_entities(data: bytes) -> bool:
    """Tells whether an XML document declares entities in its DOCTYPE (read as text, unparsed).

    Args:
        data: The file's bytes.

    Returns:
        True when a ``<!DOCTYPE`` is followed by an ``<!ENTITY`` declaration.
    """
    text = _decoded(data)
    doctype = text.find("<!DOCTYPE")
    return doctype >= 0 and text.find("<!ENTITY", doctype) >= 0


def looks_like_html(data: bytes) -> bool:
    """Tells whether a file starts like an HTML page (``<!DOCTYPE html>`` or ``<html``).

    Args:
        data: The first bytes of the file (a few kilobytes are enough).

    Returns:
        True for an HTML (or XHTML) page.
    """
    return _HTML_START.match(_decoded_head(data)) is not None


def _decoded(data: bytes) -> str:
    """The bytes as text: UTF-16 when a byte-order mark says so, else Latin-1 (ASCII-safe)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("latin-1")


def _decoded_head(data: bytes) -> str:
    return _decoded(data[: 2 * _SNIFF_CHARACTERS])[:_SNIFF_CHARACTERS]


def page_namespace(namespace: str) -> str | None:
    """The PAGE content namespace a root element's namespace spells, in its canonical form.

    Writers differ in small ways: kraken writes ``https://`` instead of ``http://``, some
    tools add a trailing slash or surrounding spaces. Those variants are accepted.

    Args:
        namespace: The namespace as written in the file.

    Returns:
        One of `PAGE_NAMESPACES`, or None when `namespace` is none of them (another version,
        or not PAGE at all).
    """
    canonical = _canonical_namespace(namespace)
    return canonical if canonical in PAGE_NAMESPACES else None


def is_page_namespace_family(namespace: str) -> bool:
    """Tells whether a namespace is a PAGE content namespace of any version, known or not."""
    return _canonical_namespace(namespace).startswith(PAGE_NAMESPACE_PREFIX)


def alto_namespace(namespace: str) -> str | None:
    """The ALTO namespace a root element's namespace spells (see `page_namespace`).

    Args:
        namespace: The namespace as written in the file ("" for un-namespaced ALTO).

    Returns:
        One of `ALTO_NAMESPACES`, or None.
    """
    canonical = _canonical_namespace(namespace)
    if canonical in ALTO_NAMESPACES:
        return canonical
    return canonical + "#" if canonical + "#" in ALTO_NAMESPACES else None


def _canonical_namespace(namespace: str) -> str:
    """Strips spaces and a trailing slash, and writes an ``https`` scheme as ``http``."""
    text = namespace.strip().rstrip("/")
    if text.lower().startswith("https://"):
        text = "http://" + text[len("https://") :]
    elif text.lower().startswith("http://"):
        text = "http://" + text[len("http://") :]
    return text


def parse_number(value: str, path: Path, what: str) -> float:
    """Parses one finite number from an attribute.

    Args:
        value: The attribute text.
        path: The file, for the error message.
        what: What the number is, for the error message.

    Returns:
        The number.

    Raises:
        LayoutError: The text is not a finite number.
    """
    try:
        number = float(value)
    except ValueError as error:
        raise LayoutError(f"{path}: {what} is not a number: {value!r}") from error
    if not math.isfinite(number):
        raise LayoutError(f"{path}: {what} is not a finite number: {value!r}")
    return number


def parse_points(value: str, path: Path, what: str) -> list[tuple[float, float]]:
    """Parses a point list written ``"x,y x,y ..."`` or ``"x y x y ..."``.

    Args:
        value: The attribute text.
        path: The file, for the error message.
        what: What the points are, for the error message.

    Returns:
        The points as (x, y) pairs; empty for an empty text.

    Raises:
        LayoutError: A coordinate is not a number, or there is an odd number of them.
    """
    numbers = [parse_number(token, path, what) for token in value.replace(",", " ").split()]
    if len(numbers) % 2:
        raise LayoutError(f"{path}: {what} has an odd number of coordinates: {value!r}")
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def make_line(
    path: Path,
    line_id: str,
    polygon: Sequence[tuple[float, float]],
    box: tuple[float, float, float, float] | None,
    baseline: Sequence[tuple[float, float]],
    text: str,
    zone: str | None,
) -> Line | None:
    """Turns raw geometry into a `Line` in integer pixels, or None when there is none usable.

    Coordinates are rounded and negatives clipped to 0. A polygon of fewer than 3 distinct
    points, or without area, is replaced by the rectangle of `box` (or, without a box, of the
    polygon's own bounds, e.g. two opposite corners) when that has an area.

    Args:
        path: The file, for the log message.
        line_id: The line's id.
        polygon: The outline in pixels (may be empty).
        box: A box (x, y, width, height) in pixels, when the file gives one.
        baseline: The baseline points in pixels (may be empty).
        text: The transcription.
        zone: The region type.

    Returns:
        The line, or None (with a warning logged) when it has no usable geometry.
    """
    outline = distinct_points(_to_pixels(polygon))
    if len(set(outline)) < 3 or not _has_area(outline):
        outline = _rectangle(box if box is not None else _bounds(polygon))
        if not outline:
            logger.warning("%s: line %s has no usable geometry; skipped", path, line_id)
            return None
    return Line(
        id=line_id,
        bbox=_bbox(outline),
        polygon=outline,
        baseline=tuple(distinct_points(_to_pixels(baseline), closed=False)),
        text=text,
        zone=zone,
    )


def unique_ids(lines: Iterable[Line], path: Path) -> tuple[Line, ...]:
    """Makes line ids unique within a page, renaming repeats as ``<id>_2``, ``<id>_3``...

    Args:
        lines: The lines in order.
        path: The file, for the log message.

    Returns:
        The lines, repeats renamed (with a warning logged).
    """
    seen: set[str] = set()
    result: list[Line] = []
    for line in lines:
        line_id = line.id
        for n in itertools.count(2):
            if line_id not in seen:
                break
            line_id = f"{line.id}_{n}"
        if line_id != line.id:
            logger.warning("%s: line id %s appears twice; renamed %s", path, line.id, line_id)
            line = dataclasses.replace(line, id=line_id)
        seen.add(line_id)
        result.append(line)
    return tuple(result)


def layout_file(
    path: Path, image_filename: str | None, width: int | None, height: int | None, lines: list[Line]
) -> LayoutFile:
    """The `LayoutFile` of the lines read from `path`, their ids made unique (`unique_ids`)."""
    logger.debug("%s: %d lines read", path, len(lines))
    return LayoutFile(
        path=path,
        image_filename=image_filename,
        width=width,
        height=height,
        lines=unique_ids(lines, path),
    )


def words_confidence(words: tuple[Word, ...]) -> float:
    """A line's confidence from its words, by `htr.confidence.line_confidence` (the mean)."""
    return line_confidence([WordReading(w.text, w.confidence, 0, len(w.text)) for w in words])


def confidence_attribute(value: str | None, path: Path, what: str) -> float:
    """A confidence attribute (ALTO ``WC``, PAGE ``conf``) clipped to [0, 1].

    Absent or empty means the text carries no recogniser's estimate (ground truth, a human
    correction): 1.0.

    Args:
        value: The attribute text, or None when the attribute is absent.
        path: The file, for the error message.
        what: What the confidence belongs to, for the error message.

    Returns:
        The confidence in [0, 1].

    Raises:
        LayoutError: The value is not a finite number.
    """
    if value is None or not value.strip():
        return 1.0
    return min(1.0, max(0.0, parse_number(value, path, what)))


def _to_pixels(points: Iterable[tuple[float, float]]) -> list[Point]:
    return [(max(0, round(x)), max(0, round(y))) for x, y in points]


def distinct_points(points: Sequence[Point], *, closed: bool = True) -> Polygon:
    """Drops repeated consecutive points and, for outlines (`closed`), a closing copy of the first.

    Shared by the readers here and the PAGE writer, so both see one polygon the same way.
    """
    result: list[Point] = []
    for point in points:
        if not result or result[-1] != point:
            result.append(point)
    if closed and len(result) > 1 and result[0] == result[-1]:
        result.pop()
    return tuple(result)


def _has_area(points: Sequence[Point]) -> bool:
    xs = {x for x, _ in points}
    ys = {y for _, y in points}
    return len(xs) > 1 and len(ys) > 1


def _rectangle(box: tuple[float, float, float, float] | None) -> Polygon:
    if box is None:
        return ()
    x, y, width, height = box
    if width <= 0 or height <= 0:
        return ()
    corners = _to_pixels([(x, y), (x + width, y), (x + width, y + height), (x, y + height)])
    outline = distinct_points(corners)
    return outline if len(set(outline)) >= 3 and _has_area(outline) else ()


def _bounds(points: Sequence[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    """The (x, y, width, height) box around some points, or None for no points."""
    if not points:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def _bbox(points: Sequence[Point]) -> BBox:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
