"""Exports (PAGE XML 2019, ALTO 4.4, text, JSON): schema validity, content, round trips."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree

from htr import SOFTWARE
from htr.document import Alternative, Line, Page, ProcessingStep, Word
from htr.layout.common import LayoutFile
from htr.layout.files import read_layout_file
from indexer.transfer.formats import (
    ALTO_V4_NAMESPACE,
    PAGE_2019_NAMESPACE,
    LineCorrection,
    write_alto,
    write_json,
    write_page_xml,
    write_text,
)
from indexer.transfer.formats.words import export_words, xml_text

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "tests" / "data" / "xsd"
LAYOUT_DATA = REPO / "tests" / "data" / "layout"
P = {"p": PAGE_2019_NAMESPACE}
A = {"a": ALTO_V4_NAMESPACE}
WHEN = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
CREATED = datetime(2025, 1, 1, tzinfo=UTC)

Corrections = Mapping[str, LineCorrection]
Writer = Callable[[Page, Corrections], bytes]


def _page_writer(page: Page, corrections: Corrections) -> bytes:
    return write_page_xml(page, corrections, created=CREATED)


WRITERS = [
    pytest.param(_page_writer, id="page"),
    pytest.param(write_alto, id="alto"),
]


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {
        "page": etree.XMLSchema(etree.parse(str(XSD / "pagecontent-2019-07-15.xsd"))),
        "alto": etree.XMLSchema(etree.parse(str(XSD / "alto-4-4.local.xsd"))),
    }


def _validate(data: bytes, schemas: dict[str, etree.XMLSchema]) -> etree._Element:
    root = etree.fromstring(data)
    schema = schemas["page" if root.tag.startswith(f"{{{PAGE_2019_NAMESPACE}}}") else "alto"]
    if not schema.validate(root):
        raise AssertionError(str(schema.error_log))
    return root


def _rect(x0: int, y0: int, x1: int, y1: int) -> tuple[tuple[int, int], ...]:
    return ((x0, y0), (x1 - 1, y0), (x1 - 1, y1 - 1), (x0, y1 - 1))


def _line(
    line_id: str,
    y: int,
    words: list[tuple[str, float, int, int]],
    *,
    alternatives: tuple[Alternative, ...] = (),
    zone: str | None = "MainZone",
    text: str | None = None,
    with_words: bool = True,
) -> Line:
    bbox = (20, y, 580, y + 40)
    word_objects = tuple(Word(t, c, (x0, y + 2, x1, y + 38)) for t, c, x0, x1 in words)
    confidence = sum(w.confidence for w in word_objects) / len(word_objects) if words else 0.0
    return Line(
        id=line_id,
        bbox=bbox,
        polygon=((20, y), (300, y + 3), (579, y), (579, y + 39), (20, y + 39)),
        baseline=((20, y + 32), (579, y + 34)),
        text=text if text is not None else " ".join(t for t, *_ in words),
        confidence=confidence,
        words=word_objects if with_words else (),
        alternatives=alternatives,
        zone=zone,
    )


STEPS = (
    ProcessingStep("segmentation", SOFTWARE, settings={"method": "legajo-opencv"}),
    ProcessingStep(
        "recognition",
        SOFTWARE,
        model_id="qantev/trocr-base-spanish",
        model_revision="0123abcd",
        settings={"beams": 4, "batch_size": 8, "fp16": False, "prompt": None},
    ),
)


def _full_page() -> Page:
    first = _line(
        "eSc_line_1",
        100,
        [("q̃", 0.9, 20, 60), ("dixo", 0.7, 70, 160), ("el", 0.95, 170, 210)],
        alternatives=(
            Alternative("q̃ dixo el", 0.7),
            Alternative("q dixo el", 0.2),
            Alternative("que dixo", 0.1),
        ),
    )
    second = _line(
        "eSc_line_2",
        150,
        [("rey", 0.5, 20, 90), ("⁊", 0.8, 100, 120)],
        alternatives=(Alternative("rey ⁊", 0.6), Alternative("reyes ⁊", 0.4)),
    )
    margin = _line(
        "eSc_line_3",
        300,
        [("nota", 0.4, 20, 100)],
        zone="MarginTextZone",
        alternatives=(Alternative("nota", 0.5), Alternative("not a", 0.3)),
    )
    unzoned = _line("l4", 400, [("fin", 0.66, 20, 80)], zone=None)
    return Page("/archive/leg 1/folio_3r.jpg", 0, 600, 800, (first, second, margin, unzoned), STEPS)


def _corrections(page: Page, **texts: str) -> dict[str, LineCorrection]:
    return {
        line_id: LineCorrection(line_id, text, "ana.garcia", WHEN + timedelta(minutes=n))
        for n, (line_id, text) in enumerate(texts.items())
    }


def _reread(tmp_path: Path, data: bytes, name: str = "export.xml") -> LayoutFile:
    path = tmp_path / name
    path.write_bytes(data)
    return read_layout_file(path)


def _assert_round_trip(
    page: Page, corrections: Corrections, layout: LayoutFile, *, alto: bool
) -> None:
    assert (layout.width, layout.height) == (page.width, page.height)
    assert [line.id for line in layout.lines] == [line.id for line in page.lines]
    for original, read in zip(page.lines, layout.lines, strict=True):
        correction = corrections.get(original.id)
        text = xml_text(correction.text if correction is not None else original.text)
        words = export_words(original, correction)
        if alto and words:
            text = " ".join(text.split())  # ALTO says "one SP" between words
        assert read.text == text, original.id
        assert read.polygon == original.polygon, original.id
        assert read.baseline == original.baseline, original.id
        assert read.zone == original.zone, original.id
        assert [w.text for w in read.words] == [w.text for w in words], original.id
        assert [w.bbox for w in read.words] == [w.bbox for w in words], original.id
        for got, expected in zip(read.words, words, strict=True):
            assert got.confidence == pytest.approx(expected.confidence, abs=1e-3)


# --- validity against the official schemas ------------------------------------------------------


def _weird_page() -> Page:
    weird = "<&>\"' q̃ ꝑ ⁊ ﬁ e\u0301 😀 \x00\x01\x08\x0b\x0c\x1f\ufffe\uffff\ud800 fin"
    words = [(t, 0.5, 20 + 30 * i, 45 + 30 * i) for i, t in enumerate(weird.split())]
    line = _line(
        "weird",
        100,
        words,
        text=weird,
        zone='Zone & "quotes" <x>',
        alternatives=(Alternative(weird, 0.5), Alternative("<alt> \x07", 0.5)),
    )
    step = ProcessingStep("recognition", "legajo\x01 <0.1>", "m&m", "\x02", {"k<": "v&\x03"})
    return Page("we<ird>&.jpg", 0, 600, 800, (line,), (step,))


def _edge_page() -> Page:
    width, height = 300, 200
    inside = Line(
        "edge",
        (0, 0, width, 40),
        ((0, 0), (width - 1, 0), (width - 1, 39), (0, 39)),
        ((0, 39), (width - 1, 39)),
        "a b",
        0.5,
        (Word("a", 0.5, (0, 0, 100, 40)), Word("b", 0.5, (200, 0, width, 40))),
    )
    bottom = Line(
        "bottom",
        (0, 160, width, height),
        ((0, 160), (width - 1, 160), (width - 1, height - 1), (0, height - 1)),
        text="z",
        confidence=1.0,
        words=(Word("z", 1.0, (0, 160, width, height)),),
    )
    return Page("edge.png", 2, width, height, (inside, bottom))


def _cases() -> list[object]:
    full = _full_page()
    no_words = replace(full, lines=tuple(replace(line, words=()) for line in full.lines))
    corrected = _corrections(full, eSc_line_1="q̃ dixo el rey", eSc_line_2="Rey ⁊", l4="")
    return [
        pytest.param(full, {}, id="full"),
        pytest.param(Page("empty.jpg", 0, 100, 100), {}, id="no-lines"),
        pytest.param(replace(full, lines=(), steps=()), {}, id="no-lines-no-steps"),
        pytest.param(no_words, {}, id="lines-without-words"),
        pytest.param(full, corrected, id="corrected"),
        pytest.param(no_words, corrected, id="corrected-without-words"),
        pytest.param(_weird_page(), {}, id="weird-text"),
        pytest.param(_weird_page(), _corrections(_weird_page(), weird="\x00<x> &"), id="weird-fix"),
        pytest.param(_edge_page(), {}, id="image-edge"),
    ]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize(("page", "corrections"), _cases())
def test_exports_validate_against_the_official_schema(
    writer: Writer, page: Page, corrections: Corrections, schemas: dict[str, etree.XMLSchema]
) -> None:
    _validate(writer(page, corrections), schemas)


def test_out_of_image_geometry_is_clipped_and_still_valid(
    schemas: dict[str, etree.XMLSchema],
) -> None:
    line = Line(
        "out",
        (-5, -5, 700, 60),
        ((-5, -5), (700, -5), (700, 60), (-5, 60)),
        ((-5, 50), (700, 50)),
        "x",
        0.5,
        (Word("x", 0.5, (-5, -5, 700, 60)),),
    )
    page = Page("p.jpg", 0, 600, 50, (line,))
    for data in (write_page_xml(page), write_alto(page)):
        points = _geometry_points(_validate(data, schemas))
        assert points and (599, 49) in points
        assert all(0 <= x <= 599 and 0 <= y <= 49 for x, y in points), points


def _geometry_points(root: etree._Element) -> list[tuple[int, int]]:
    """Every point of every polygon and baseline, and the far corners of every ALTO box.

    Only geometry is read: the metadata's timestamps may hold any digits.
    """
    points: list[tuple[int, int]] = []
    for element in root.iter():
        for name in ("points", "POINTS", "BASELINE"):
            for pair in element.get(name, "").split():
                x, y = pair.split(",")
                points.append((int(x), int(y)))
        if element.get("HPOS") is not None:
            left, top = int(element.get("HPOS")), int(element.get("VPOS"))
            points.append((left, top))
            points.append(
                (left + int(element.get("WIDTH")) - 1, top + int(element.get("HEIGHT")) - 1)
            )
    return points


# --- PAGE XML content ---------------------------------------------------------------------------


def test_page_metadata_records_software_times_and_steps(
    schemas: dict[str, etree.XMLSchema],
) -> None:
    page = _full_page()
    root = _validate(write_page_xml(page, _corrections(page, l4="fin."), created=CREATED), schemas)
    assert root.findtext("p:Metadata/p:Creator", namespaces=P) == SOFTWARE
    assert root.findtext("p:Metadata/p:Created", namespaces=P) == "2025-01-01T00:00:00+00:00"
    assert root.findtext("p:Metadata/p:LastChange", namespaces=P) == WHEN.isoformat()
    items = root.findall("p:Metadata/p:MetadataItem", namespaces=P)
    assert [(i.get("type"), i.get("name")) for i in items] == [
        ("processingStep", "segmentation"),
        ("processingStep", "recognition"),
        ("processingStep", "manual-correction"),
    ]
    labels = {
        label.get("type"): label.get("value")
        for label in items[1].findall("p:Labels/p:Label", namespaces=P)
    }
    assert labels == {
        "model_id": "qantev/trocr-base-spanish",
        "model_revision": "0123abcd",
        "setting:beams": "4",
        "setting:batch_size": "8",
        "setting:fp16": "false",
        "setting:prompt": "",
    }
    assert items[1].get("value") == SOFTWARE
    assert items[2].get("date") == WHEN.isoformat()
    assert "ana.garcia" in items[2].get("value", "")
    page_element = root.find("p:Page", namespaces=P)
    assert page_element is not None
    assert page_element.attrib == {
        "imageFilename": "folio_3r.jpg",
        "imageWidth": "600",
        "imageHeight": "800",
    }


def test_page_image_filename_and_default_created() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    root = etree.fromstring(write_page_xml(_full_page(), image_filename="f/3r.tif"))
    assert root.find("p:Page", namespaces=P).get("imageFilename") == "f/3r.tif"
    created = datetime.fromisoformat(root.findtext("p:Metadata/p:Created", namespaces=P))
    assert created >= before


def test_page_regions_follow_zones() -> None:
    root = etree.fromstring(write_page_xml(_full_page()))
    regions = root.findall("p:Page/p:TextRegion", namespaces=P)
    assert [(r.get("custom"), r.get("type")) for r in regions] == [
        ("structure {type:MainZone;}", "paragraph"),
        ("structure {type:MarginTextZone;}", "marginalia"),
        (None, None),
    ]
    assert [len(r.findall("p:TextLine", namespaces=P)) for r in regions] == [2, 1, 1]
    assert regions[0].find("p:Coords", namespaces=P).get("points") == (
        "20,100 579,100 579,189 20,189"
    )


def test_page_zone_names_are_kept_readable_inside_custom(tmp_path: Path) -> None:
    line = _line("z", 100, [("a", 0.5, 20, 60)], zone="a;b {c}")
    data = write_page_xml(Page("p.jpg", 0, 600, 800, (line,)))
    root = etree.fromstring(data)
    assert root.find(".//p:TextRegion", namespaces=P).get("custom") == "structure {type:a_b _c_;}"
    assert _reread(tmp_path, data).lines[0].zone == "a_b _c_"


def _equivs(line: etree._Element) -> list[tuple[str | None, str | None, str | None, str]]:
    return [
        (e.get("index"), e.get("conf"), e.get("comments"), e.findtext("p:Unicode", namespaces=P))
        for e in line.findall("p:TextEquiv", namespaces=P)
    ]


def test_page_line_readings_machine() -> None:
    root = etree.fromstring(write_page_xml(_full_page()))
    line = root.find(".//p:TextLine[@id='eSc_line_1']", namespaces=P)
    assert [etree.QName(c).localname for c in line] == [
        "Coords",
        "Baseline",
        "Word",
        "Word",
        "Word",
        "TextEquiv",
        "TextEquiv",
        "TextEquiv",
    ]
    assert _equivs(line) == [
        ("1", "0.85", None, "q̃ dixo el"),
        ("2", "0.2", "n-best alternative 2", "q dixo el"),
        ("3", "0.1", "n-best alternative 3", "que dixo"),
    ]
    words = line.findall("p:Word", namespaces=P)
    assert words[1].get("id") == "eSc_line_1_w2"
    assert words[1].find("p:Coords", namespaces=P).get("points") == "70,102 159,102 159,137 70,137"
    assert words[1].find("p:TextEquiv", namespaces=P).get("conf") == "0.7"


def test_page_line_readings_corrected() -> None:
    page = _full_page()
    corrections = _corrections(page, eSc_line_1="q̃ dixo el rey")
    root = etree.fromstring(write_page_xml(page, corrections))
    line = root.find(".//p:TextLine[@id='eSc_line_1']", namespaces=P)
    assert _equivs(line) == [
        ("1", None, f"corrected by ana.garcia at {WHEN.isoformat()}", "q̃ dixo el rey"),
        ("2", "0.85", "machine reading", "q̃ dixo el"),
        ("3", "0.2", "n-best alternative 2", "q dixo el"),
        ("4", "0.1", "n-best alternative 3", "que dixo"),
    ]
    word_equivs = line.findall("p:Word/p:TextEquiv", namespaces=P)
    assert [e.findtext("p:Unicode", namespaces=P) for e in word_equivs] == [
        "q̃",
        "dixo",
        "el",
        "rey",
    ]
    assert all(e.get("conf") is None for e in word_equivs)


def test_corrections_of_other_lines_are_ignored() -> None:
    page = _full_page()
    stray = {"nope": LineCorrection("nope", "x", "ana", WHEN)}
    assert write_page_xml(page, stray, created=CREATED) == write_page_xml(page, created=CREATED)
    assert write_alto(page, stray) == write_alto(page)
    assert write_text(page, stray) == write_text(page)


def test_invalid_and_repeated_ids_are_made_valid_and_unique(
    schemas: dict[str, etree.XMLSchema],
) -> None:
    base = _line("x", 100, [("a", 0.5, 20, 60)])
    lines = (
        replace(base, id="1"),
        replace(base, id="r1"),
        replace(base, id="a b:c"),
        replace(base, id="block1"),
        replace(base, id="BT1", zone="Other"),
    )
    page = Page("p.jpg", 0, 600, 800, lines)
    for data, key in ((write_page_xml(page), "id"), (write_alto(page), "ID")):
        root = _validate(data, schemas)
        ids = [e.get(key) for e in root.iter() if e.get(key) is not None]
        assert len(ids) == len(set(ids))
    page_ids = [
        e.get("id") for e in etree.fromstring(write_page_xml(page)).iterfind(".//p:TextLine", P)
    ]
    assert page_ids == ["l_1", "r1", "a_b_c", "block1", "BT1"]


# --- ALTO content -------------------------------------------------------------------------------


def test_alto_header_and_provenance(schemas: dict[str, etree.XMLSchema]) -> None:
    page = _full_page()
    root = _validate(write_alto(page, _corrections(page, l4="fin.")), schemas)
    assert root.get("SCHEMAVERSION") == "4.4"
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") == (
        f"{ALTO_V4_NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
    )
    assert root.findtext("a:Description/a:MeasurementUnit", namespaces=A) == "pixel"
    assert (
        root.findtext("a:Description/a:sourceImageInformation/a:fileName", namespaces=A)
        == "folio_3r.jpg"
    )
    steps = root.findall("a:Description/a:Processing", namespaces=A)
    assert [s.findtext("a:processingStepDescription", namespaces=A) for s in steps] == [
        "segmentation",
        "recognition",
        "manual correction of 1 line",
    ]
    recognition = steps[1]
    assert recognition.findtext("a:processingCategory", namespaces=A) == "contentGeneration"
    settings = json.loads(recognition.findtext("a:processingStepSettings", namespaces=A))
    assert settings == {
        "model_id": "qantev/trocr-base-spanish",
        "model_revision": "0123abcd",
        "settings": {"beams": 4, "batch_size": 8, "fp16": False, "prompt": None},
    }
    assert recognition.findtext("a:processingSoftware/a:softwareName", namespaces=A) == "legajo"
    assert (
        recognition.findtext("a:processingSoftware/a:softwareVersion", namespaces=A)
        == SOFTWARE.split()[1]
    )
    assert steps[2].findtext("a:processingAgency", namespaces=A) == "ana.garcia"
    assert steps[2].findtext("a:processingDateTime", namespaces=A) == WHEN.isoformat()
    corrected = root.find(".//a:TextLine[@ID='l4']", namespaces=A)
    assert corrected.get("CS") == "true"
    assert corrected.get("PROCESSINGREFS") == steps[2].get("ID")
    page_element = root.find("a:Layout/a:Page", namespaces=A)
    assert (page_element.get("WIDTH"), page_element.get("HEIGHT")) == ("600", "800")
    assert page_element.get("PHYSICAL_IMG_NR") == "1"


def test_alto_zones_are_tags_and_lines_have_geometry() -> None:
    root = etree.fromstring(write_alto(_full_page()))
    tags = {t.get("ID"): t.get("LABEL") for t in root.iterfind("a:Tags/a:OtherTag", A)}
    blocks = root.findall(".//a:TextBlock", namespaces=A)
    assert [tags.get(b.get("TAGREFS")) for b in blocks] == ["MainZone", "MarginTextZone", None]
    line = root.find(".//a:TextLine[@ID='eSc_line_1']", namespaces=A)
    assert (line.get("HPOS"), line.get("VPOS"), line.get("WIDTH"), line.get("HEIGHT")) == (
        "20",
        "100",
        "560",
        "40",
    )
    assert line.get("BASELINE") == "20,132 579,134"
    assert line.find("a:Shape/a:Polygon", namespaces=A).get("POINTS") == (
        "20,100 300,103 579,100 579,139 20,139"
    )
    children = [etree.QName(c).localname for c in line]
    assert children == ["Shape", "String", "SP", "String", "SP", "String"]
    strings = line.findall("a:String", namespaces=A)
    assert [(s.get("CONTENT"), s.get("WC")) for s in strings] == [
        ("q̃", "0.9"),
        ("dixo", "0.7"),
        ("el", "0.95"),
    ]
    assert (strings[1].get("HPOS"), strings[1].get("WIDTH")) == ("70", "90")


def _alternatives(string: etree._Element) -> list[tuple[str | None, str | None]]:
    return [(a.text, a.get("PURPOSE")) for a in string.findall("a:ALTERNATIVE", namespaces=A)]


def test_alto_alternatives_of_the_same_word_count_go_on_the_words() -> None:
    root = etree.fromstring(write_alto(_full_page()))
    strings = root.findall(".//a:TextLine[@ID='eSc_line_1']/a:String", namespaces=A)
    # "q dixo el" differs in the first word only; "que dixo" has 2 words: left out.
    assert [_alternatives(s) for s in strings] == [[("q", "n-best 2 p=0.2")], [], []]
    strings = root.findall(".//a:TextLine[@ID='eSc_line_2']/a:String", namespaces=A)
    assert [_alternatives(s) for s in strings] == [[("reyes", "n-best 2 p=0.4")], []]


def test_alto_single_string_line_carries_whole_line_alternatives() -> None:
    root = etree.fromstring(write_alto(_full_page()))
    (string,) = root.findall(".//a:TextLine[@ID='eSc_line_3']/a:String", namespaces=A)
    assert string.get("CONTENT") == "nota"
    assert _alternatives(string) == [("not a", "n-best 2 p=0.3")]


def test_alto_line_without_words_is_one_string_without_box() -> None:
    page = _full_page()
    page = replace(page, lines=tuple(replace(line, words=()) for line in page.lines))
    root = etree.fromstring(write_alto(page))
    (string,) = root.findall(".//a:TextLine[@ID='eSc_line_1']/a:String", namespaces=A)
    assert string.get("CONTENT") == "q̃ dixo el"
    assert string.get("HPOS") is None
    assert string.get("WC") == "0.85"
    assert _alternatives(string) == [
        ("q dixo el", "n-best 2 p=0.2"),
        ("que dixo", "n-best 3 p=0.1"),
    ]


def test_alto_corrected_line_words_and_alternatives() -> None:
    page = _full_page()
    corrections = _corrections(page, eSc_line_1="q̃ dixo al", eSc_line_2="el rey ⁊")
    root = etree.fromstring(write_alto(page, corrections))
    strings = root.findall(".//a:TextLine[@ID='eSc_line_1']/a:String", namespaces=A)
    # Same word count: machine boxes reused, no WC (verified), machine words as alternatives.
    assert [(s.get("CONTENT"), s.get("HPOS"), s.get("WC")) for s in strings] == [
        ("q̃", "20", None),
        ("dixo", "70", None),
        ("al", "170", None),
    ]
    assert _alternatives(strings[0]) == [("q", "n-best 2 p=0.2")]
    assert _alternatives(strings[2]) == [("el", "machine reading conf=0.85")]
    strings = root.findall(".//a:TextLine[@ID='eSc_line_2']/a:String", namespaces=A)
    # Another word count: the line box split in proportion to the characters.
    boxes = [(int(s.get("HPOS")), int(s.get("WIDTH"))) for s in strings]
    assert [s.get("CONTENT") for s in strings] == ["el", "rey", "⁊"]
    assert boxes[0][0] == 20 and boxes[-1][0] + boxes[-1][1] <= 580
    assert all(a[0] + a[1] <= b[0] for a, b in pairwise(boxes))


def test_alto_empty_line_has_an_empty_string(schemas: dict[str, etree.XMLSchema]) -> None:
    line = replace(_line("e", 100, []), text="")
    root = _validate(write_alto(Page("p.jpg", 0, 600, 800, (line,))), schemas)
    strings = root.findall(".//a:String", namespaces=A)
    assert [s.get("CONTENT") for s in strings] == [""]


def test_alto_end_of_line_hyphen_is_hyp(tmp_path: Path) -> None:
    line = replace(_line("h", 100, [("Sepan", 0.9, 20, 100), ("esta", 0.8, 110, 200)]))
    line = replace(line, text="Sepan esta-")
    data = write_alto(Page("p.jpg", 0, 600, 800, (line,)))
    root = etree.fromstring(data)
    assert root.find(".//a:HYP", namespaces=A).get("CONTENT") == "-"
    read = _reread(tmp_path, data).lines[0]
    assert read.text == "Sepan esta-"
    assert [w.text for w in read.words] == ["Sepan", "esta"]


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize(("page", "corrections"), _cases())
def test_export_then_import_gives_the_same_lines(
    tmp_path: Path, writer: Writer, page: Page, corrections: Corrections
) -> None:
    layout = _reread(tmp_path, writer(page, corrections))
    _assert_round_trip(page, corrections, layout, alto=writer is write_alto)


@pytest.mark.parametrize("writer", WRITERS)
def test_round_trip_keeps_corrected_text_words_and_confidences(
    tmp_path: Path, writer: Writer
) -> None:
    page = _full_page()
    corrections = _corrections(page, eSc_line_1="q̃ dixo al", eSc_line_2="el rey ⁊")
    layout = _reread(tmp_path, writer(page, corrections))
    lines = {line.id: line for line in layout.lines}
    assert lines["eSc_line_1"].text == "q̃ dixo al"
    assert [w.bbox for w in lines["eSc_line_1"].words] == [w.bbox for w in page.lines[0].words]
    assert all(w.confidence == 1.0 for w in lines["eSc_line_2"].words)
    assert lines["eSc_line_3"].words[0].confidence == pytest.approx(0.4, abs=1e-3)
    assert lines["l4"].confidence == pytest.approx(0.66, abs=1e-3)


def _fixture_pages() -> list[object]:
    return [pytest.param(path, id=path.name) for path in sorted(LAYOUT_DATA.glob("*.xml"))]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("path", _fixture_pages())
def test_real_fixture_pages_round_trip(
    tmp_path: Path, writer: Writer, path: Path, schemas: dict[str, etree.XMLSchema]
) -> None:
    source = read_layout_file(path)
    assert source.width is not None and source.height is not None
    page = Page(source.image_filename or path.name, 0, source.width, source.height, source.lines)
    data = writer(page, {})
    _validate(data, schemas)
    layout = _reread(tmp_path, data)
    _assert_round_trip(page, {}, layout, alto=writer is write_alto)
    assert layout.image_filename == page.image
    # And the reading survives a correction of every line.
    corrections = _corrections(page, **{line.id: f"{line.text} ꝑ" for line in page.lines})
    data = writer(page, corrections)
    _validate(data, schemas)
    _assert_round_trip(page, corrections, _reread(tmp_path, data), alto=writer is write_alto)


def _shared_sample(per_corpus: int = 4) -> list[object]:
    """A few real files of each corpus in ../shared/data, spread over it; skipped without it."""
    shared = REPO.parent / "shared" / "data"
    params: list[object] = []
    for corpus in ("htromance-spain", "iforal-sample"):
        files = sorted((shared / corpus).rglob("*.xml")) if (shared / corpus).is_dir() else []
        step = max(1, len(files) // per_corpus)
        params.extend(
            pytest.param(path, id=str(path.relative_to(shared))) for path in files[::step]
        )
    if not params:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{shared} is absent"))]
    return params


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("path", _shared_sample())
def test_shared_corpus_pages_round_trip(
    tmp_path: Path, writer: Writer, path: Path, schemas: dict[str, etree.XMLSchema]
) -> None:
    source = read_layout_file(path)
    assert source.width is not None and source.height is not None
    page = Page(source.image_filename or path.name, 0, source.width, source.height, source.lines)
    data = writer(page, {})
    _validate(data, schemas)
    _assert_round_trip(page, {}, _reread(tmp_path, data), alto=writer is write_alto)


# --- text and JSON ------------------------------------------------------------------------------


def test_write_text_is_one_line_per_text_line() -> None:
    page = _full_page()
    page = replace(page, lines=(*page.lines, replace(page.lines[0], id="x", text="a\nb\r\nc")))
    corrections = _corrections(page, eSc_line_2="Rey ⁊  y")
    assert write_text(page, corrections).split("\n") == [
        "q̃ dixo el",
        "Rey ⁊  y",
        "nota",
        "fin",
        "a b c",
        "",
    ]
    assert write_text(Page("e.jpg", 0, 10, 10)) == ""


def test_write_json_is_the_page_and_its_corrections() -> None:
    page = _full_page()
    corrections = _corrections(page, eSc_line_2="Rey ⁊")
    corrections["x"] = LineCorrection(
        "x", "?", "bob", datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    )
    text = write_json(page, corrections)
    data = json.loads(text)
    assert Page.from_dict(data) == page
    assert data["software"] == SOFTWARE
    assert data["corrections"] == {
        "eSc_line_2": {
            "text": "Rey ⁊",
            "editor": "ana.garcia",
            "when": (WHEN + timedelta(minutes=0)).isoformat(),
        }
    }
    assert "⁊" in text  # not escaped


def test_write_json_replaces_non_finite_numbers() -> None:
    line = replace(_line("n", 100, [("a", float("nan"), 20, 60)]), confidence=float("inf"))
    data = json.loads(write_json(Page("p.jpg", 0, 600, 800, (line,))))
    assert data["lines"][0]["confidence"] == 0.0
    assert data["lines"][0]["words"][0]["confidence"] == 0.0


def test_naive_times_are_taken_as_utc() -> None:
    page = _full_page()
    naive = {"l4": LineCorrection("l4", "fin.", "ana", datetime(2025, 5, 1, 8, 0))}
    root = etree.fromstring(write_page_xml(page, naive, created=datetime(2025, 1, 1)))
    assert root.findtext("p:Metadata/p:Created", namespaces=P) == "2025-01-01T00:00:00+00:00"
    assert root.findtext("p:Metadata/p:LastChange", namespaces=P) == "2025-05-01T08:00:00+00:00"
    data = json.loads(write_json(page, naive))
    assert data["corrections"]["l4"]["when"] == "2025-05-01T08:00:00+00:00"
