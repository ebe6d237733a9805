"""Reading ALTO (v2, v3, v4 and the older un-namespaced and CCS variants) into text lines.

Lines are the ``TextLine`` elements of every ``TextBlock`` of the first ``Page``, in document
order. Coordinates are converted from the file's ``MeasurementUnit`` to pixels.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from htr.document import Line, Word
from htr.errors import LayoutError
from htr.layout.common import (
    ALTO_NAMESPACES,
    LayoutFile,
    alto_namespace,
    confidence_attribute,
    layout_file,
    make_line,
    parse_layout_xml,
    parse_number,
    parse_points,
    split_tag,
    words_confidence,
)

logger = logging.getLogger(__name__)

_UNITS_PER_INCH = {"mm10": 254.0, "inch1200": 1200.0}
"""Measurement units other than pixels, as units per inch."""


def read_alto(path: Path, *, dpi: float = 300.0) -> LayoutFile:
    """Reads the text lines of an ALTO file.

    Each line takes its outline from ``Shape/Polygon@POINTS`` (``"x y x y"`` or
    ``"x,y x,y"``), else the rectangle ``HPOS/VPOS/WIDTH/HEIGHT``. ``BASELINE`` is a point
    list (ALTO 4.2 and later) or a single y (older files), which becomes a horizontal line
    across the line's box. The text is the ``String@CONTENT`` values in order, with one space
    for each ``SP`` (and the ``HYP`` mark where there is one). The zone is the ``LABEL`` of
    the ``OtherTag`` that the ``TextBlock``'s ``TAGREFS`` point to (eScriptorium writes the
    zone type there), else ``TextBlock@TYPE``. Lines without usable geometry are skipped with a
    warning.

    Words: when every non-empty ``String`` of a line has a box (``HPOS/VPOS/WIDTH/HEIGHT``)
    and a ``CONTENT`` without whitespace, each becomes a `Word` with that box (``(HPOS, VPOS,
    HPOS + WIDTH, VPOS + HEIGHT)`` in pixels, at least one pixel wide and high) and ``WC`` as
    its confidence, 1.0 when ``WC`` is absent (text without a confidence is taken as
    verified, e.g. ground truth), clipped to [0, 1]; the line's confidence is then the mean
    of its word confidences. Otherwise (no ``String``, a ``String`` without a box, or one
    ``String`` holding the whole line as eScriptorium writes it) the line has no words and
    confidence 0. ``ALTERNATIVE`` readings are not read.

    Args:
        path: The ALTO file.
        dpi: Resolution used to convert ``mm10`` and ``inch1200`` units to pixels.

    Returns:
        The page size, image name and lines in document order.

    Raises:
        LayoutError: The file cannot be read, is not well-formed, is not ALTO, or holds bad
            coordinates or an unknown measurement unit.
    """
    if not dpi > 0 or dpi == float("inf"):
        raise ValueError(f"dpi must be a positive number, not {dpi!r}")
    root = parse_layout_xml(path)
    namespace, local = split_tag(root.tag)
    if local != "alto" or alto_namespace(namespace) is None:
        raise LayoutError(
            f"{path}: not ALTO (root {root.tag!r}; expected alto in one of "
            f"{', '.join(repr(ns) for ns in ALTO_NAMESPACES)})"
        )
    ns = f"{{{namespace}}}" if namespace else ""
    scale = _scale(root, ns, path, dpi)

    image_filename = None
    file_name = root.find(f"{ns}Description/{ns}sourceImageInformation/{ns}fileName")
    if file_name is not None and file_name.text and file_name.text.strip():
        image_filename = file_name.text.strip()

    pages = root.findall(f"{ns}Layout/{ns}Page")
    if not pages:
        raise LayoutError(f"{path}: ALTO without a Layout/Page element")
    if len(pages) > 1:
        logger.warning("%s: %d pages in one ALTO file; only the first is read", path, len(pages))
    page = pages[0]
    width = _optional_size(page.get("WIDTH"), scale, path, "Page@WIDTH")
    height = _optional_size(page.get("HEIGHT"), scale, path, "Page@HEIGHT")

    labels = _tag_labels(root, ns)
    lines: list[Line] = []
    for block in page.iter(f"{ns}TextBlock"):
        zone = _block_zone(block, labels)
        for element in block.iterchildren(f"{ns}TextLine"):
            line = _read_line(element, ns, path, scale, zone, default_id=f"l{len(lines) + 1}")
            if line is not None:
                lines.append(line)
    return layout_file(path, image_filename, width, height, lines)


def _scale(root: Any, ns: str, path: Path, dpi: float) -> float:
    """Pixels per unit of the file's ``MeasurementUnit`` (pixel when absent)."""
    unit_element = root.find(f"{ns}Description/{ns}MeasurementUnit")
    unit = (unit_element.text or "").strip() if unit_element is not None else ""
    if unit in ("", "pixel"):
        return 1.0
    if unit in _UNITS_PER_INCH:
        return dpi / _UNITS_PER_INCH[unit]
    raise LayoutError(
        f"{path}: unknown MeasurementUnit {unit!r} (expected pixel, mm10 or inch1200)"
    )


def _read_line(
    element: Any, ns: str, path: Path, scale: float, zone: str | None, default_id: str
) -> Line | None:
    line_id = element.get("ID") or default_id
    what = f"TextLine {line_id}"

    box = None
    values = [element.get(name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
    if all(value is not None and value.strip() for value in values):
        x, y, width, height = (
            parse_number(value, path, f"{what} {name}") * scale
            for value, name in zip(values, ("HPOS", "VPOS", "WIDTH", "HEIGHT"), strict=True)
        )
        box = (x, y, width, height)

    polygon: list[tuple[float, float]] = []
    polygon_element = element.find(f"{ns}Shape/{ns}Polygon")
    if polygon_element is not None:
        raw = parse_points(polygon_element.get("POINTS") or "", path, f"{what} Polygon@POINTS")
        polygon = [(x * scale, y * scale) for x, y in raw]

    baseline = _baseline(element.get("BASELINE"), box, path, what, scale)
    line = make_line(path, line_id, polygon, box, baseline, _line_text(element, ns), zone)
    if line is None:
        return None
    words = _words(element, ns, path, scale, what)
    if not words:
        return line
    return replace(line, words=words, confidence=words_confidence(words))


def _words(element: Any, ns: str, path: Path, scale: float, what: str) -> tuple[Word, ...]:
    """The line's ``String`` elements as words, or none (see `read_alto`)."""
    words: list[Word] = []
    for string in element.iterchildren(f"{ns}String"):
        content = string.get("CONTENT") or ""
        if not content.strip():
            continue
        if any(char.isspace() for char in content):
            return ()
        values = [string.get(name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
        if not all(value is not None and value.strip() for value in values):
            return ()
        x, y, width, height = (
            parse_number(str(value), path, f"{what} String {name}") * scale
            for value, name in zip(values, ("HPOS", "VPOS", "WIDTH", "HEIGHT"), strict=True)
        )
        x0, y0 = max(0, round(x)), max(0, round(y))
        x1, y1 = max(x0 + 1, round(x + width)), max(y0 + 1, round(y + height))
        confidence = confidence_attribute(string.get("WC"), path, f"{what} String@WC")
        words.append(Word(content, confidence, (x0, y0, x1, y1)))
    return tuple(words)


def _baseline(
    value: str | None,
    box: tuple[float, float, float, float] | None,
    path: Path,
    what: str,
    scale: float,
) -> list[tuple[float, float]]:
    """Reads ``BASELINE``: a point list, or one y across the box (pixels; empty if unknown)."""
    if value is None or not value.strip():
        return []
    tokens = value.replace(",", " ").split()
    if len(tokens) == 1:
        y = parse_number(tokens[0], path, f"{what} BASELINE") * scale
        if box is None:
            return []
        x, _, width, _ = box
        return [(x, y), (x + width, y)]
    return [(x * scale, y * scale) for x, y in parse_points(value, path, f"{what} BASELINE")]


def _line_text(element: Any, ns: str) -> str:
    """``String@CONTENT`` values in order, one space per ``SP``, ``HYP@CONTENT`` kept."""
    parts: list[str] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = child.tag[len(ns) :] if ns and child.tag.startswith(ns) else child.tag
        if local in ("String", "HYP"):
            parts.append(child.get("CONTENT") or "")
        elif local == "SP":
            parts.append(" ")
    return "".join(parts)


def _tag_labels(root: Any, ns: str) -> dict[str, str]:
    """Maps the ids of the ``Tags`` children (``OtherTag`` and the like) to their labels."""
    labels: dict[str, str] = {}
    tags = root.find(f"{ns}Tags")
    if tags is None:
        return labels
    for tag in tags:
        if not isinstance(tag.tag, str):
            continue
        tag_id, label = tag.get("ID"), tag.get("LABEL")
        if tag_id and label:
            labels[tag_id] = label
    return labels


def _block_zone(block: Any, labels: dict[str, str]) -> str | None:
    for ref in (block.get("TAGREFS") or "").split():
        if ref in labels:
            return labels[ref]
    return block.get("TYPE") or None


def _optional_size(value: str | None, scale: float, path: Path, what: str) -> int | None:
    if value is None or not value.strip():
        return None
    size = round(parse_number(value, path, what) * scale)
    if size < 0:
        raise LayoutError(f"{path}: {what} is negative: {value!r}")
    return size or None
