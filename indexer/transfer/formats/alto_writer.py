"""Writing a page as ALTO v4 (schema version 4.4, pixel units).

The document validates against the official schema (``tests/data/xsd``). What goes where:

- ``Description``: ``MeasurementUnit`` pixel, ``sourceImageInformation/fileName``, and one
  ``Processing`` per `ProcessingStep` (ALTO 4's generic provenance element):
  ``processingCategory`` (``contentGeneration`` for segmentation and recognition, else
  ``other``), ``processingStepDescription`` the step kind, ``processingStepSettings`` a JSON
  object of the model id, model revision and settings, ``processingSoftware`` the software
  name and version. Corrections add one ``Processing`` (``contentModification``, dated by
  the latest correction, ``processingAgency`` the editors), referenced by the corrected lines'
  ``PROCESSINGREFS``; those lines also carry ``CS="true"`` (ALTO's correction status).
- ``Tags``: one ``OtherTag`` per zone (``LABEL`` the zone), referenced by ``TAGREFS`` of the
  ``TextBlock``, as eScriptorium does and as `htr.layout.alto` reads it.
- ``Layout/Page`` (``PHYSICAL_IMG_NR`` is the frame + 1) > ``PrintSpace`` (the whole image) >
  one ``TextBlock`` per run of consecutive lines of the same zone > ``TextLine`` with its box,
  ``BASELINE`` as a point list (ALTO 4.2+) and ``Shape/Polygon``.
- Words: a line whose words spell its main reading gets one ``String`` per word (its box;
  ``WC`` the word confidence, left out for a human correction, which `htr.layout.alto` reads back as
  a verified 1.0) with ``SP`` between them. A line without such words gets a single ``String``
  holding the whole reading, without a box (so that it is not read back as a word), ``WC``
  the line confidence. ALTO needs at least one ``String`` per line, so an empty line gets
  one with an empty ``CONTENT``. Whitespace inside a reading is written as single ``SP``
  elements, so runs of spaces come back as one. A reading that ends in a hyphen the last word
  lacks (``esta-`` read as the word ``esta``) gets it as ``HYP``.

**Alternative readings.** ALTO only has ``ALTERNATIVE`` inside a ``String``, for that
string. The other readings of a line (see `indexer.transfer.formats.words`) go there when the schema
can say them: on a line written as one ``String`` every reading is an ``ALTERNATIVE`` of it;
on a line of several words, a reading with the same number of words gives each word that
differs an ``ALTERNATIVE``. Readings with another number of words cannot be placed on words
faithfully and are left out of ALTO (PAGE XML and JSON keep them all). ``PURPOSE`` says what
the alternative is: ``"machine reading conf=<c>"`` or ``"n-best <rank> p=<probability>"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from pathlib import Path

from lxml import etree

from htr import SOFTWARE
from htr.confidence import word_spans
from htr.document import Line, Page, ProcessingStep, Word
from htr.types import BBox, Point
from indexer.transfer.formats.words import (
    IdRegistry,
    LineCorrection,
    Reading,
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

ALTO_V4_NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA_VERSION = "4.4"
_SCHEMA_LOCATION = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NS = f"{{{ALTO_V4_NAMESPACE}}}"
_GENERATING_STEPS = frozenset({"segmentation", "recognition"})
_HYPHENS = frozenset("-\u00ac\u2010\u2e17=")
"""End-of-line hyphens written as ``HYP`` after the last word: - ¬ ‐ ⸗ =."""


def write_alto(
    page: Page,
    corrections: Mapping[str, LineCorrection] | None = None,
    *,
    image_filename: str | None = None,
) -> bytes:
    """Writes a page as ALTO 4.4 (see the module docstring for what goes where).

    Args:
        page: The page.
        corrections: The latest human correction of each corrected line, by line id; lines
            of other pages are ignored.
        image_filename: ``sourceImageInformation/fileName``; by default the file name of
            `Page.image`.

    Returns:
        The document, UTF-8 encoded, with an XML declaration.
    """
    root = etree.Element(f"{_NS}alto", nsmap={None: ALTO_V4_NAMESPACE, "xsi": _XSI})
    root.set(f"{{{_XSI}}}schemaLocation", f"{ALTO_V4_NAMESPACE} {_SCHEMA_LOCATION}")
    root.set("SCHEMAVERSION", ALTO_SCHEMA_VERSION)
    ids = IdRegistry()
    line_ids = [ids.claim(line.id, "l") for line in page.lines]  # lines keep their ids first

    description = _sub(root, "Description")
    _sub(description, "MeasurementUnit").text = "pixel"
    name = image_filename if image_filename is not None else Path(page.image).name
    _sub(_sub(description, "sourceImageInformation"), "fileName").text = xml_text(name)
    for n, step in enumerate(page.steps, start=1):
        _processing(description, step, ids.claim(f"proc{n}", "proc"))
    applied = page_corrections(page, corrections)
    correction_ref = None
    if applied:
        correction_ref = ids.claim("proc_correction", "proc")
        _correction_processing(description, applied, correction_ref)

    zones = list(dict.fromkeys(line.zone for line in page.lines if line.zone is not None))
    tag_ids = {zone: ids.claim(f"BT{n}", "BT") for n, zone in enumerate(zones, start=1)}
    if zones:
        tags = _sub(root, "Tags")
        for zone in zones:
            label = xml_text(zone)
            _sub(tags, "OtherTag", ID=tag_ids[zone], LABEL=label, DESCRIPTION=f"block type {label}")

    layout = _sub(root, "Layout")
    page_element = _sub(
        layout,
        "Page",
        ID=ids.claim(f"page{page.frame + 1}", "page"),
        PHYSICAL_IMG_NR=str(page.frame + 1),
        WIDTH=str(page.width),
        HEIGHT=str(page.height),
    )
    space = _sub(page_element, "PrintSpace")
    _set_box(space, (0, 0, page.width, page.height))
    numbered = list(zip(line_ids, page.lines, strict=True))
    for block_number, (zone, group) in enumerate(
        groupby(numbered, key=lambda item: item[1].zone), start=1
    ):
        members = list(group)
        boxes = [clip_box(line.bbox, page.width, page.height) for _, line in members]
        block = _sub(space, "TextBlock", ID=ids.claim(f"block{block_number}", "block"))
        _set_box(block, union_box(boxes))
        if zone is not None:
            block.set("TAGREFS", tag_ids[zone])
        for line_id, line in members:
            correction = correction_of(line, corrections)
            element = _line(block, line, line_id, correction, page, ids)
            if correction is not None and correction_ref is not None:
                element.set("CS", "true")
                element.set("PROCESSINGREFS", correction_ref)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _line(
    block: etree._Element,
    line: Line,
    line_id: str,
    correction: LineCorrection | None,
    page: Page,
    ids: IdRegistry,
) -> etree._Element:
    element = _sub(block, "TextLine", ID=line_id)
    _set_box(element, clip_box(line.bbox, page.width, page.height))
    baseline = _distinct([clip_point(p, page.width, page.height) for p in line.baseline])
    if len(baseline) >= 2:
        element.set("BASELINE", _points(baseline))
    outline = _distinct([clip_point(p, page.width, page.height) for p in line.polygon])
    if len(set(outline)) >= 3:
        _sub(_sub(element, "Shape"), "Polygon", POINTS=_points(outline))

    text = main_text(line, correction)
    readings = other_readings(line, correction)
    words = export_words(line, correction)
    tokens = [text[start:end] for start, end in word_spans(text)]
    hyphen = _hyphen(tokens, words)
    if tokens and ([w.text for w in words] == tokens or hyphen):
        _word_strings(element, line_id, words, readings, correction is not None, page, ids)
        if hyphen:
            _sub(element, "HYP", CONTENT=hyphen)
    else:
        string = _sub(element, "String", ID=ids.claim(f"{line_id}_s1", "s"), CONTENT=text)
        if correction is None:
            string.set("WC", format_confidence(line.confidence))
        for reading in readings:
            _alternative(string, reading.text, reading)
    return element


def _hyphen(tokens: list[str], words: tuple[Word, ...]) -> str:
    """The end-of-line hyphen that the reading has after its last word, or ""."""
    if not tokens or len(tokens) != len(words) or not words:
        return ""
    if [w.text for w in words[:-1]] != tokens[:-1]:
        return ""
    last, word = tokens[-1], words[-1].text
    if len(last) == len(word) + 1 and last.startswith(word) and last[-1] in _HYPHENS:
        return last[-1]
    return ""


def _word_strings(
    element: etree._Element,
    line_id: str,
    words: tuple[Word, ...],
    readings: list[Reading],
    corrected: bool,
    page: Page,
    ids: IdRegistry,
) -> None:
    """One ``String`` per word, ``SP`` between, alternatives placed as the module says."""
    per_word: list[list[tuple[str, Reading]]] = [[] for _ in words]
    for reading in readings:
        alternative_words = reading.text.split()
        if len(words) == 1:
            per_word[0].append((reading.text, reading))
        elif len(alternative_words) == len(words):
            for slot, word, alternative in zip(per_word, words, alternative_words, strict=True):
                if alternative != word.text and all(alternative != a for a, _ in slot):
                    slot.append((alternative, reading))
    for n, (word, alternatives) in enumerate(zip(words, per_word, strict=True), start=1):
        if n > 1:
            _sub(element, "SP")
        string = _sub(element, "String", ID=ids.claim(f"{line_id}_w{n}", "w"), CONTENT=word.text)
        _set_box(string, clip_box(word.bbox, page.width, page.height))
        if not corrected:
            string.set("WC", format_confidence(word.confidence))
        for text, reading in alternatives:
            _alternative(string, text, reading)


def _alternative(string: etree._Element, text: str, reading: Reading) -> None:
    if reading.rank == 0:
        purpose = f"machine reading conf={format_confidence(reading.confidence)}"
    else:
        purpose = f"n-best {reading.rank} p={format_confidence(reading.confidence)}"
    _sub(string, "ALTERNATIVE", PURPOSE=purpose).text = text


def _processing(description: etree._Element, step: ProcessingStep, step_id: str) -> None:
    processing = _sub(description, "Processing", ID=step_id)
    category = "contentGeneration" if step.kind in _GENERATING_STEPS else "other"
    _sub(processing, "processingCategory").text = category
    _sub(processing, "processingStepDescription").text = xml_text(step.kind)
    settings = {
        "model_id": step.model_id,
        "model_revision": step.model_revision,
        "settings": dict(step.settings),
    }
    _sub(processing, "processingStepSettings").text = xml_text(
        json.dumps(settings, ensure_ascii=False, sort_keys=True, default=str)
    )
    software = _sub(processing, "processingSoftware")
    name, _, version = step.software.rpartition(" ")
    if name and version[:1].isdigit():
        _sub(software, "softwareName").text = xml_text(name)
        _sub(software, "softwareVersion").text = xml_text(version)
    else:
        _sub(software, "softwareName").text = xml_text(step.software)


def _correction_processing(
    description: etree._Element, applied: list[LineCorrection], step_id: str
) -> None:
    processing = _sub(description, "Processing", ID=step_id)
    _sub(processing, "processingCategory").text = "contentModification"
    latest: datetime = max(utc(c.when) for c in applied)
    _sub(processing, "processingDateTime").text = latest.isoformat()
    editors = sorted({c.editor for c in applied})
    _sub(processing, "processingAgency").text = xml_text(", ".join(editors))
    _sub(
        processing, "processingStepDescription"
    ).text = f"manual correction of {len(applied)} line{'' if len(applied) == 1 else 's'}"
    software = _sub(processing, "processingSoftware")
    name, _, version = SOFTWARE.rpartition(" ")
    _sub(software, "softwareName").text = name
    _sub(software, "softwareVersion").text = version


def _set_box(element: etree._Element, box: BBox) -> None:
    x0, y0, x1, y1 = box
    element.set("HPOS", str(x0))
    element.set("VPOS", str(y0))
    element.set("WIDTH", str(x1 - x0))
    element.set("HEIGHT", str(y1 - y0))


def _points(points: list[Point]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _distinct(points: list[Point]) -> list[Point]:
    result: list[Point] = []
    for point in points:
        if not result or result[-1] != point:
            result.append(point)
    return result


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{_NS}{tag}", attributes)


__all__ = ["ALTO_SCHEMA_VERSION", "ALTO_V4_NAMESPACE", "write_alto"]
