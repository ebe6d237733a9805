"""Reading PAGE XML (PRImA page content, 2009 to 2019 schemas) into text lines.

Lines are the ``TextLine`` elements of every ``TextRegion``, including regions nested in
other regions and table cells. Regions follow the ``ReadingOrder`` when the file has one,
else document order; lines follow document order within their region.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from htr.document import Line, Word
from htr.errors import LayoutError
from htr.layout.common import (
    PAGE_NAMESPACES,
    LayoutFile,
    confidence_attribute,
    layout_file,
    make_line,
    page_namespace,
    parse_layout_xml,
    parse_number,
    parse_points,
    split_tag,
    words_confidence,
)

logger = logging.getLogger(__name__)

_STRUCTURE_TYPE = re.compile(r"structure\s*\{[^}]*?\btype\s*:\s*([^;}]+)")
"""The region type in a Transkribus/eScriptorium ``custom`` attribute."""


def read_page_xml(path: Path) -> LayoutFile:
    """Reads the text lines of a PAGE XML file.

    Each line takes its outline from ``Coords@points`` (or the ``Point`` children of
    2009/2010 files), its baseline from ``Baseline@points``, its text from the line's
    ``TextEquiv`` with the lowest ``@index`` (else the first) and its zone from the
    region's ``structure {type:...}`` in ``@custom``, else ``TextRegion@type``. Lines without
    usable geometry are skipped with a warning.

    Words: when every ``Word`` of a line with a non-empty text (its ``TextEquiv`` with the
    lowest ``@index``) has ``Coords`` and a text without whitespace, each becomes a `Word`
    whose box is the bounds of its points (``(min x, min y, max x + 1, max y + 1)``, as for
    lines) and whose confidence is that ``TextEquiv@conf``, 1.0 when absent (text without a
    confidence is taken as verified, e.g. ground truth), clipped to [0, 1]; the line's
    confidence is then the mean of its word confidences. Otherwise the line has no words and
    confidence 0. ``Glyph`` elements and the other ``TextEquiv`` readings are not read.

    Args:
        path: The PAGE XML file.

    Returns:
        The page size, image name and lines in reading order.

    Raises:
        LayoutError: The file cannot be read, is not well-formed, is not PAGE XML of a known
            version, or holds bad coordinates.
    """
    root = parse_layout_xml(path)
    namespace, local = split_tag(root.tag)
    if local != "PcGts" or page_namespace(namespace) is None:
        raise LayoutError(
            f"{path}: not PAGE XML of a known version (root {root.tag!r}; "
            f"expected PcGts in one of {', '.join(PAGE_NAMESPACES)})"
        )
    ns = f"{{{namespace}}}"
    page = root.find(f"{ns}Page")
    if page is None:
        raise LayoutError(f"{path}: PAGE XML without a Page element")

    width = _optional_size(page.get("imageWidth"), path, "Page@imageWidth")
    height = _optional_size(page.get("imageHeight"), path, "Page@imageHeight")
    image_filename = page.get("imageFilename") or None

    lines: list[Line] = []
    for region in _regions_in_reading_order(page, ns, path):
        zone = _region_type(region)
        for element in region.iterchildren(f"{ns}TextLine"):
            line = _read_line(element, ns, path, zone, default_id=f"l{len(lines) + 1}")
            if line is not None:
                lines.append(line)
    return layout_file(path, image_filename, width, height, lines)


def _read_line(element: Any, ns: str, path: Path, zone: str | None, default_id: str) -> Line | None:
    line_id = element.get("id") or default_id
    what = f"TextLine {line_id}"
    coords = element.find(f"{ns}Coords")
    polygon = _coords(coords, path, f"{what} Coords") if coords is not None else []
    baseline_element = element.find(f"{ns}Baseline")
    baseline = (
        _coords(baseline_element, path, f"{what} Baseline") if baseline_element is not None else []
    )
    line = make_line(
        path,
        line_id,
        polygon,
        None,
        baseline,
        _line_text(element, ns),
        zone,
    )
    if line is None:
        return None
    words = _words(element, ns, path, what)
    if not words:
        return line
    return replace(line, words=words, confidence=words_confidence(words))


def _words(element: Any, ns: str, path: Path, what: str) -> tuple[Word, ...]:
    """The line's ``Word`` elements as words, or none (see `read_page_xml`)."""
    words: list[Word] = []
    for word in element.iterchildren(f"{ns}Word"):
        word_what = f"{what} Word {word.get('id') or len(words) + 1}"
        equiv = _main_equiv(word, ns)
        text = _equiv_text(equiv, ns)
        if not text.strip():
            continue
        if any(char.isspace() for char in text):
            return ()
        coords = word.find(f"{ns}Coords")
        points = _coords(coords, path, f"{word_what} Coords") if coords is not None else []
        if not points:
            return ()
        xs = [max(0, round(x)) for x, _ in points]
        ys = [max(0, round(y)) for _, y in points]
        conf = equiv.get("conf") if equiv is not None else None
        confidence = confidence_attribute(conf, path, f"{word_what} conf")
        words.append(Word(text, confidence, (min(xs), min(ys), max(xs) + 1, max(ys) + 1)))
    return tuple(words)


def _coords(element: Any, path: Path, what: str) -> list[tuple[float, float]]:
    """Reads ``@points``, or the ``Point x= y=`` children of 2009/2010 files."""
    points = element.get("points")
    if points is not None:
        return parse_points(points, path, what)
    result: list[tuple[float, float]] = []
    for point in element:
        if split_tag(point.tag)[1] != "Point":
            continue
        x, y = point.get("x"), point.get("y")
        if x is None or y is None:
            raise LayoutError(f"{path}: {what} has a Point without x or y")
        result.append((parse_number(x, path, f"{what} x"), parse_number(y, path, f"{what} y")))
    return result


def _line_text(element: Any, ns: str) -> str:
    """The line's own ``TextEquiv/Unicode``: lowest ``@index``, else the first; "" if none."""
    return _equiv_text(_main_equiv(element, ns), ns)


def _main_equiv(element: Any, ns: str) -> Any | None:
    """The element's own ``TextEquiv`` with the lowest ``@index``, else the first, or None."""
    equivs = _by_index(element.iterchildren(f"{ns}TextEquiv"))
    return equivs[0] if equivs else None


def _equiv_text(equiv: Any | None, ns: str) -> str:
    """The ``Unicode`` text of a ``TextEquiv``; "" for none."""
    if equiv is None:
        return ""
    unicode = equiv.find(f"{ns}Unicode")
    if unicode is None:
        return ""
    return "".join(unicode.itertext())


def _region_type(region: Any) -> str | None:
    custom = region.get("custom")
    if custom:
        match = _STRUCTURE_TYPE.search(custom)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return region.get("type") or None


def _regions_in_reading_order(page: Any, ns: str, path: Path) -> Iterator[Any]:
    """Yields every TextRegion once: those the ReadingOrder names, in its order, then the rest.

    A region the ReadingOrder leaves out comes right after its nearest listed ancestor region
    when it has one, else after all listed regions, in document order.
    """
    regions = list(page.iter(f"{ns}TextRegion"))
    by_id = {region.get("id"): region for region in regions if region.get("id")}
    order: list[Any] = []
    listed: set[int] = set()
    for ref in _reading_order_refs(page, ns):
        region = by_id.get(ref)
        if region is None:
            if ref not in by_id:
                logger.debug("%s: ReadingOrder names %s, which is no TextRegion", path, ref)
            continue
        if id(region) not in listed:
            listed.add(id(region))
            order.append(region)

    def listed_ancestor(region: Any) -> Any | None:
        for ancestor in region.iterancestors(f"{ns}TextRegion"):
            if id(ancestor) in listed:
                return ancestor
        return None

    followers: dict[int, list[Any]] = {}
    rest: list[Any] = []
    for region in regions:
        if id(region) in listed:
            continue
        ancestor = listed_ancestor(region)
        if ancestor is None:
            rest.append(region)
        else:
            followers.setdefault(id(ancestor), []).append(region)
    for region in order:
        yield region
        yield from followers.get(id(region), ())
    yield from rest


def _reading_order_refs(page: Any, ns: str) -> list[str]:
    """The region ids of the ReadingOrder, flattened; empty when there is none."""
    reading_order = page.find(f"{ns}ReadingOrder")
    if reading_order is None:
        return []
    refs: list[str] = []
    for group in reading_order:
        _collect_refs(group, refs)
    return refs


def _collect_refs(element: Any, refs: list[str]) -> None:
    """Appends the region refs under a group: indexed children by ``@index``, others in order."""
    if not isinstance(element.tag, str):
        return
    region_ref = element.get("regionRef")
    if region_ref:
        refs.append(region_ref)
    children = [child for child in element if isinstance(child.tag, str)]
    if split_tag(element.tag)[1].startswith("OrderedGroup"):
        children = _by_index(children)
    for child in children:
        _collect_refs(child, refs)


def _by_index(elements: Iterable[Any]) -> list[Any]:
    """Sorts elements by ``@index``; those without a valid one last; ties in document order."""

    def key(item: tuple[int, Any]) -> tuple[bool, int, int]:
        position, element = item
        index = _int_or_none(element.get("index"))
        return (index is None, index or 0, position)

    return [element for _, element in sorted(enumerate(elements), key=key)]


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _optional_size(value: str | None, path: Path, what: str) -> int | None:
    if value is None or not value.strip():
        return None
    size = round(parse_number(value, path, what))
    if size < 0:
        raise LayoutError(f"{path}: {what} is negative: {value!r}")
    return size or None
