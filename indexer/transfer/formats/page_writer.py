"""Writing a page as PAGE XML 2019 (PRImA page content ``2019-07-15``).

The document validates against the official schema (``tests/data/xsd``). What goes where:

- ``Metadata``: ``Creator`` is legajo and its version; ``Created`` the export time (or the
  `created` argument) and ``LastChange`` the later of it and the latest correction. Each
  `ProcessingStep` becomes a ``MetadataItem type="processingStep"`` (``name`` the step kind,
  ``value`` the software) whose ``Labels`` (``externalModel="legajo"``) carry the model id,
  the model revision and each setting (``type="setting:<name>"``). Corrections add one more
  item, ``name="manual-correction"``, dated by the latest one, naming the editors.
- ``Page``: the image file name and size; for a page that is not the first of its file
  (a TIFF frame, a PDF page), ``custom="frame {index:<frame>;}"``, the 0-based frame, which
  PAGE has no attribute for (`indexer.transfer.importer` reads it back). Consecutive lines of the
  same zone share a ``TextRegion`` whose ``Coords`` are the rectangle around them; the zone
  is written as ``custom="structure {type:<zone>;}"`` (as eScriptorium does, and as
  `htr.layout.pagexml` reads it) and, where the zone maps onto PAGE's own region types, as
  ``@type`` too.
- ``TextLine``: ``Coords`` (the polygon; the box's rectangle when the polygon spans no
  area), ``Baseline`` (when it has two points or more), one ``Word`` per word (``Coords``
  the word box's rectangle, ``TextEquiv@conf`` its confidence) and then the line's
  ``TextEquiv`` readings (see `indexer.transfer.formats.words`):

  - ``index="1"``: the main reading. A machine reading carries the line confidence as
    ``conf``. A human correction carries **no** ``conf`` (it is not a recogniser's estimate)
    and ``comments="corrected by <editor> at <ISO time>"``; its words have no ``conf``
    either, which `htr.layout.pagexml` reads back as a verified 1.0.
  - ``index="2"``, ``"3"``...: the other readings, each with its ``conf`` (the machine
    reading of a corrected line with the line confidence, n-best alternatives with their
    probability) and ``comments`` saying which it is.

Coordinates are clipped to the image. Ids that are not valid XML names are rewritten (see
`IdRegistry`), so they round-trip unchanged only when they are valid, as PAGE requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from lxml import etree

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep
from htr.layout.common import distinct_points
from htr.types import BBox, Point
from indexer.transfer.formats.words import (
    IdRegistry,
    LineCorrection,
    clip_box,
    clip_point,
    correction_of,
    export_words,
    format_confidence,
    main_text,
    other_readings,
    page_corrections,
    union_box,
    utc,
    xml_text,
)
from indexer.transfer.page_custom import FRAME_CUSTOM_TAG

PAGE_2019_NAMESPACE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NS = f"{{{PAGE_2019_NAMESPACE}}}"

_REGION_TYPES = frozenset(
    {
        "paragraph",
        "heading",
        "caption",
        "header",
        "footer",
        "page-number",
        "drop-capital",
        "credit",
        "floating",
        "signature-mark",
        "catch-word",
        "marginalia",
        "footnote",
        "footnote-continued",
        "endnote",
        "TOC-entry",
        "list-label",
        "other",
    }
)
"""The values of PAGE's ``TextTypeSimpleType``."""

_ZONE_TYPES = {
    "MainZone": "paragraph",
    "MarginTextZone": "marginalia",
    "NumberingZone": "page-number",
    "RunningTitleZone": "header",
    "DropCapitalZone": "drop-capital",
    "QuireMarksZone": "catch-word",
}
"""SegmOnto zones (eScriptorium, HTRomance) that have a PAGE region type."""


def write_page_xml(
    page: Page,
    corrections: Mapping[str, LineCorrection] | None = None,
    *,
    image_filename: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """Writes a page as PAGE XML 2019 (see the module docstring for what goes where).

    Args:
        page: The page.
        corrections: The latest human correction of each corrected line, by line id; lines
            of other pages are ignored.
        image_filename: ``Page@imageFilename``; by default the file name of `Page.image`.
        created: ``Metadata/Created``; by default now.

    Returns:
        The document, UTF-8 encoded, with an XML declaration.
    """
    created_at = utc(created) if created is not None else datetime.now(UTC)
    applied = page_corrections(page, corrections)
    last_change = max([created_at, *(utc(c.when) for c in applied)])

    root = etree.Element(f"{_NS}PcGts", nsmap={None: PAGE_2019_NAMESPACE, "xsi": _XSI})
    root.set(
        f"{{{_XSI}}}schemaLocation",
        f"{PAGE_2019_NAMESPACE} {PAGE_2019_NAMESPACE}/pagecontent.xsd",
    )
    metadata = _sub(root, "Metadata")
    _sub(metadata, "Creator").text = SOFTWARE
    _sub(metadata, "Created").text = created_at.isoformat()
    _sub(metadata, "LastChange").text = last_change.isoformat()
    for step in page.steps:
        _processing_step(metadata, step)
    if applied:
        _correction_item(metadata, applied)

    name = image_filename if image_filename is not None else Path(page.image).name
    page_element = _sub(
        root,
        "Page",
        imageFilename=xml_text(name),
        imageWidth=str(page.width),
        imageHeight=str(page.height),
    )
    if page.frame > 0:
        page_element.set("custom", f"{FRAME_CUSTOM_TAG} {{index:{page.frame};}}")
    ids = IdRegistry()
    line_ids = [ids.claim(line.id, "l") for line in page.lines]  # lines keep their ids first
    numbered = list(zip(line_ids, page.lines, strict=True))
    for zone, group in groupby(numbered, key=lambda item: item[1].zone):
        members = list(group)
        region = _sub(page_element, "TextRegion", id=ids.claim(f"r{len(page_element) + 1}", "r"))
        if zone is not None:
            label = _zone_label(zone)
            region.set("custom", f"structure {{type:{label};}}")
            region_type = label if label in _REGION_TYPES else _ZONE_TYPES.get(label)
            if region_type is not None:
                region.set("type", region_type)
        boxes = [clip_box(line.bbox, page.width, page.height) for _, line in members]
        _sub(region, "Coords", points=_box_points(union_box(boxes)))
        for line_id, line in members:
            _line(region, line, line_id, correction_of(line, corrections), page, ids)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _line(
    region: etree._Element,
    line: Line,
    line_id: str,
    correction: LineCorrection | None,
    page: Page,
    ids: IdRegistry,
) -> None:
    element = _sub(region, "TextLine", id=line_id)
    _sub(element, "Coords", points=_polygon_points(line, page.width, page.height))
    baseline = distinct_points(
        [clip_point(p, page.width, page.height) for p in line.baseline], closed=False
    )
    if len(baseline) >= 2:
        _sub(element, "Baseline", points=_points(baseline))
    for n, word in enumerate(export_words(line, correction), start=1):
        word_element = _sub(element, "Word", id=ids.claim(f"{line_id}_w{n}", "w"))
        box = clip_box(word.bbox, page.width, page.height)
        _sub(word_element, "Coords", points=_box_points(box))
        conf = None if correction is not None else format_confidence(word.confidence)
        _text_equiv(word_element, word.text, conf=conf)
    if correction is None:
        _text_equiv(
            element, main_text(line, None), index=1, conf=format_confidence(line.confidence)
        )
    else:
        when = utc(correction.when).isoformat()
        comments = f"corrected by {xml_text(correction.editor)} at {when}"
        _text_equiv(element, main_text(line, correction), index=1, comments=comments)
    for index, reading in enumerate(other_readings(line, correction), start=2):
        what = "machine reading" if reading.rank == 0 else f"n-best alternative {reading.rank}"
        _text_equiv(
            element,
            reading.text,
            index=index,
            conf=format_confidence(reading.confidence),
            comments=what,
        )


def _text_equiv(
    parent: etree._Element,
    text: str,
    *,
    index: int | None = None,
    conf: str | None = None,
    comments: str | None = None,
) -> None:
    equiv = _sub(parent, "TextEquiv")
    if index is not None:
        equiv.set("index", str(index))
    if conf is not None:
        equiv.set("conf", conf)
    if comments is not None:
        equiv.set("comments", comments)
    _sub(equiv, "Unicode").text = text


def _processing_step(metadata: etree._Element, step: ProcessingStep) -> None:
    item = _sub(
        metadata,
        "MetadataItem",
        type="processingStep",
        name=xml_text(step.kind),
        value=xml_text(step.software),
    )
    labels: list[tuple[str, str]] = []
    if step.model_id is not None:
        labels.append(("model_id", step.model_id))
    if step.model_revision is not None:
        labels.append(("model_revision", step.model_revision))
    labels.extend((f"setting:{key}", _setting(value)) for key, value in step.settings.items())
    if labels:
        group = _sub(item, "Labels", externalModel="legajo")
        for label_type, value in labels:
            _sub(group, "Label", type=xml_text(label_type), value=xml_text(value))


def _correction_item(metadata: etree._Element, applied: list[LineCorrection]) -> None:
    editors = sorted({c.editor for c in applied})
    latest = max(utc(c.when) for c in applied)
    item = _sub(
        metadata,
        "MetadataItem",
        type="processingStep",
        name="manual-correction",
        value=xml_text(
            f"{len(applied)} line{'' if len(applied) == 1 else 's'} corrected by "
            + ", ".join(editors)
        ),
        date=latest.isoformat(),
    )
    group = _sub(item, "Labels", externalModel="legajo")
    for editor in editors:
        _sub(group, "Label", type="editor", value=xml_text(editor))


def _setting(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _zone_label(zone: str) -> str:
    """The zone as it can stand inside ``structure {type:...;}`` (no ``;``, ``{`` or ``}``)."""
    cleaned = xml_text(zone)
    for char in ";{}":
        cleaned = cleaned.replace(char, "_")
    return cleaned.strip() or "_"


def _polygon_points(line: Line, width: int, height: int) -> str:
    outline = distinct_points([clip_point(p, width, height) for p in line.polygon])
    xs = {x for x, _ in outline}
    ys = {y for _, y in outline}
    if len(set(outline)) >= 3 and len(xs) > 1 and len(ys) > 1:
        return _points(outline)
    return _box_points(clip_box(line.bbox, width, height))


def _box_points(box: BBox) -> str:
    """The rectangle of a box (x1, y1 exclusive) as its four corner pixels."""
    x0, y0, x1, y1 = box
    right, bottom = max(x0, x1 - 1), max(y0, y1 - 1)
    return _points([(x0, y0), (right, y0), (right, bottom), (x0, bottom)])


def _points(points: Sequence[Point]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{_NS}{tag}", attributes)


__all__ = ["FRAME_CUSTOM_TAG", "PAGE_2019_NAMESPACE", "write_page_xml"]
