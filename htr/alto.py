"""Reading ALTO (v2, v3, v4 and the older un-namespaced and CCS variants) into text lines.

Lines are the ``TextLine`` elements of every ``TextBlock`` of the first ``Page``, in document
order. Coordinates are converted from the file's ``MeasurementUnit`` to pixels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from htr.document import Line
from htr.errors import LayoutError
from htr.layout_files import (
    ALTO_NAMESPACES,
    LayoutFile,
    make_line,
    parse_layout_xml,
    parse_number,
    parse_points,
    split_tag,
    unique_ids,
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
    if local != "alto" or namespace not in ALTO_NAMESPACES:
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
    logger.debug("%s: %d lines read", path, len(lines))
    return LayoutFile(
        path=path,
        image_filename=image_filename,
        width=width,
        height=height,
        lines=unique_ids(lines, path),
    )


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
    return make_line(path, line_id, polygon, box, baseline, _line_text(element, ns), zone)


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
