"""Tests for the PAGE XML and ALTO readers and for finding a page image's layout file."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from lxml import etree

from htr.errors import LayoutError
from htr.layout.alto import read_alto
from htr.layout.common import LayoutFile
from htr.layout.files import find_layout_file, read_layout_file
from htr.layout.pagexml import read_page_xml

REPO = Path(__file__).resolve().parents[2]
LAYOUT_DATA = REPO / "tests" / "data" / "layout"
SHARED_DATA = REPO / ".." / "shared" / "data"
HTROMANCE = SHARED_DATA / "htromance-spain" / "data"
IFORAL = SHARED_DATA / "iforal-sample" / "data"

ALTO_NS = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
PAGE_NS = {"p": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}

PAGE_2019_HEADER = (
    '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
    "<Metadata><Creator>t</Creator><Created>2024-01-01T00:00:00</Created>"
    "<LastChange>2024-01-01T00:00:00</LastChange></Metadata>"
)


def _page_xml(lines: str, *, width: int = 100, height: int = 100) -> str:
    return (
        f"{PAGE_2019_HEADER}"
        f'<Page imageFilename="x.jpg" imageWidth="{width}" imageHeight="{height}">'
        f'<TextRegion id="r1"><Coords points="0,0 99,0 99,99 0,99"/>{lines}</TextRegion>'
        "</Page></PcGts>"
    )


def _alto_xml(lines: str, *, unit: str = "pixel") -> str:
    return (
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">'
        f"<Description><MeasurementUnit>{unit}</MeasurementUnit></Description>"
        '<Layout><Page ID="p" WIDTH="100" HEIGHT="100"><PrintSpace>'
        f'<TextBlock ID="b">{lines}</TextBlock>'
        "</PrintSpace></Page></Layout></alto>"
    )


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _shared_files(folder: Path) -> list[object]:
    files = sorted(folder.rglob("*.xml")) if folder.is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{folder} is absent"))]
    return [pytest.param(path, id=str(path.relative_to(folder))) for path in files]


def _check_geometry(layout: LayoutFile) -> None:
    assert layout.width is not None
    assert layout.height is not None
    ids = [line.id for line in layout.lines]
    assert len(ids) == len(set(ids))
    for line in layout.lines:
        x0, y0, x1, y1 = line.bbox
        assert 0 <= x0 < x1 <= layout.width, line.id
        assert 0 <= y0 < y1 <= layout.height, line.id
        assert len(set(line.polygon)) >= 3, line.id
        for x, y in line.polygon:
            assert x0 <= x < x1
            assert y0 <= y < y1


# --- every real file in ../shared/data ---------------------------------------------------------


@pytest.mark.parametrize("path", _shared_files(HTROMANCE))
def test_reads_every_htromance_alto(path: Path) -> None:
    tree = etree.parse(str(path))
    xml_lines = [
        line
        for line in tree.iterfind(".//a:TextLine", ALTO_NS)
        if line.find("a:Shape/a:Polygon", ALTO_NS) is not None or line.get("HPOS") is not None
    ]
    layout = read_alto(path)

    assert len(layout.lines) == len(xml_lines)
    assert layout.image_filename
    _check_geometry(layout)
    for xml_line, line in zip(xml_lines, layout.lines, strict=True):
        assert line.id == xml_line.get("ID")
        contents = [s.get("CONTENT") for s in xml_line.iterfind("a:String", ALTO_NS)]
        assert line.text == " ".join(contents)
        assert line.zone is not None
    assert read_layout_file(path) == layout


@pytest.mark.parametrize("path", _shared_files(IFORAL))
def test_reads_every_iforal_page(path: Path) -> None:
    tree = etree.parse(str(path))
    xml_lines = [
        line
        for line in tree.iterfind(".//p:TextLine", PAGE_NS)
        if (line.find("p:Coords", PAGE_NS) is not None)
        and line.find("p:Coords", PAGE_NS).get("points", "").strip()
    ]
    layout = read_page_xml(path)

    assert len(layout.lines) == len(xml_lines)
    assert layout.image_filename is not None
    assert Path(layout.image_filename).stem == path.stem
    _check_geometry(layout)
    for xml_line, line in zip(xml_lines, layout.lines, strict=True):
        assert line.id == xml_line.get("id")
        assert line.text == xml_line.findtext("p:TextEquiv/p:Unicode", "", PAGE_NS)
        assert len(line.baseline) >= 2
    assert read_layout_file(path) == layout


def test_finds_the_layout_of_every_shared_image() -> None:
    images = [
        path
        for folder in (HTROMANCE, IFORAL)
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff")
    ]
    if not images:
        pytest.skip(f"{SHARED_DATA} is absent")
    for image in images:
        found = find_layout_file(image)
        if image.with_suffix(".xml").exists():
            assert found == image.with_suffix(".xml")
        else:
            assert found is None


def test_chocomufin_has_the_same_lines_as_the_reference() -> None:
    reference = HTROMANCE / "bnf-esp-229" / "laberinto_2r.xml"
    if not reference.exists():
        pytest.skip(f"{reference} is absent")
    normalised = read_layout_file(reference.with_name("laberinto_2r.chocomufin.xml"))
    original = read_layout_file(reference)
    assert [line.id for line in normalised.lines] == [line.id for line in original.lines]
    assert [line.polygon for line in normalised.lines] == [line.polygon for line in original.lines]


# --- fixtures in tests/data/layout ------------------------------------------------------------


def test_real_alto4_fixture() -> None:
    layout = read_layout_file(LAYOUT_DATA / "htromance_dialogos_v5.alto4.xml")

    assert layout.image_filename == "dialogos_grado_perfecion_v5.jpg"
    assert (layout.width, layout.height) == (3265, 2202)
    assert [line.id for line in layout.lines] == [
        "eSc_line_af7e2097",
        "eSc_line_9e2409b2",
        "eSc_line_3ddf2345",
    ]
    first = layout.lines[0]
    assert first.text == "que su nacion en la qual yo he querido dictar estos dialogos;"
    assert first.zone == "MainZone"
    assert first.bbox == (359, 343, 1494, 419)
    assert first.baseline == ((362, 370), (1494, 389))
    assert first.polygon[0] == (1462, 361)
    assert len(first.polygon) == 98
    _check_geometry(layout)


def test_real_page2019_fixture() -> None:
    layout = read_layout_file(LAYOUT_DATA / "iforal_castreicao_1217_1.page2019.xml")

    assert layout.image_filename == "1.jpg"
    assert (layout.width, layout.height) == (1532, 2002)
    assert len(layout.lines) == 5
    first = layout.lines[0]
    assert first.id == "eSc_line_1e31156f"
    assert first.text == "n nne sce ⁊ ĩdiuidue tinitatis patis ⁊ filii ⁊ sps sci uniꝰ sũmi"
    assert first.zone == "text"
    assert first.bbox == (735, 1499, 1331, 1550)
    assert first.baseline == ((738, 1530), (1331, 1533))
    # The closing point repeats the first one in the file; it is not repeated in the polygon.
    assert first.polygon[0] == (754, 1499)
    assert first.polygon[-1] == (757, 1499)
    _check_geometry(layout)


def test_page2013_reading_order_nesting_tables_and_text_equiv(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        layout = read_page_xml(LAYOUT_DATA / "handmade_page2013.xml")

    assert layout.image_filename == "handmade.png"
    assert (layout.width, layout.height) == (1000, 800)
    assert [(line.id, line.zone) for line in layout.lines] == [
        ("head1", "RunningTitleZone"),  # custom structure type wins over @type
        ("main1", "paragraph"),
        ("main2", "paragraph"),
        ("inner1", "marginalia"),  # unlisted nested region follows its listed parent
        ("cell1_l1", "other"),  # table cell, not in the reading order: last
    ]
    main1, main2 = layout.lines[1], layout.lines[2]
    assert main1.text == "q̃ dixo el rey"  # TextEquiv with the lowest @index
    assert main1.baseline == ((20, 145), (880, 145))
    assert main2.text == ""
    assert main2.bbox == (0, 160, 881, 201)  # -5 clipped to 0
    assert "nogeometry" in caplog.text


def test_page2010_point_children() -> None:
    layout = read_layout_file(LAYOUT_DATA / "handmade_page2010.xml")

    assert layout.image_filename == "old.tif"
    assert [line.id for line in layout.lines] == ["tl1", "l2"]
    assert layout.lines[0].polygon == ((20, 20), (580, 20), (580, 60), (20, 60))
    assert layout.lines[0].bbox == (20, 20, 581, 61)
    assert layout.lines[0].text == "En el nonbre de dios"
    assert layout.lines[0].baseline == ()
    assert layout.lines[1].text == "amen"


def test_alto2_mm10_numeric_baseline_and_no_shape(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        layout = read_layout_file(LAYOUT_DATA / "handmade_alto2.xml")

    # 127 mm10 = 0.5 inch = 150 px at 300 dpi.
    assert (layout.width, layout.height) == (3000, 1500)
    assert layout.image_filename == "folio_1r.tif"
    first, second = layout.lines
    assert first.id == "line1"
    assert first.polygon == ((150, 150), (2850, 150), (2850, 300), (150, 300))
    assert first.bbox == (150, 150, 2851, 301)
    assert first.baseline == ((150, 270), (2850, 270))
    assert first.text == "Sepan quantos esta-"
    assert first.zone is None
    assert second.id == "l2"
    assert second.text == "carta"
    assert "line3" in caplog.text  # zero width: skipped


def test_alto_dpi_scales_units() -> None:
    layout = read_alto(LAYOUT_DATA / "handmade_alto2.xml", dpi=150)
    assert (layout.width, layout.height) == (1500, 750)
    assert layout.lines[0].bbox == (75, 75, 1426, 151)


def test_alto3_comma_polygon_tagrefs_zone_and_empty_line() -> None:
    layout = read_layout_file(LAYOUT_DATA / "handmade_alto3.xml")

    m1, m2 = layout.lines
    assert m1.polygon == ((50, 50), (350, 55), (350, 90), (50, 90))
    assert m1.text == "ꝑ ende"
    assert m1.zone == "MarginTextZone"
    assert m2.polygon == ((50, 100), (350, 100), (350, 140), (50, 140))
    assert m2.text == ""


def test_alto_baseline_point_list_and_degenerate_polygon(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.xml",
        _alto_xml(
            '<TextLine ID="a" HPOS="10" VPOS="20" WIDTH="30" HEIGHT="10" BASELINE="10,28 40,29">'
            '<Shape><Polygon POINTS="10 20 40 20 10 20"/></Shape>'
            '<String CONTENT="x"/><SP/><SP/><String CONTENT="y"/></TextLine>'
        ),
    )
    (line,) = read_alto(path).lines
    assert line.polygon == ((10, 20), (40, 20), (40, 30), (10, 30))  # box replaces 2 points
    assert line.baseline == ((10, 28), (40, 29))
    assert line.text == "x  y"  # one space per SP


def test_page_two_corner_coords_become_a_rectangle(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "p.xml",
        _page_xml(
            '<TextLine id="a"><Coords points="10,20 40,30"/></TextLine>'
            '<TextLine id="b"><Coords points="10,20 40,20 70,20"/></TextLine>'
        ),
    )
    (line,) = read_page_xml(path).lines
    assert line.polygon == ((10, 20), (40, 20), (40, 30), (10, 30))
    assert line.bbox == (10, 20, 41, 31)


def test_page_nfd_text_is_kept_as_written(tmp_path: Path) -> None:
    text = "q\u0303 dixo"  # NFD: q + combining tilde
    path = _write(
        tmp_path / "p.xml",
        _page_xml(
            '<TextLine id="a"><Coords points="1,1 9,1 9,9 1,9"/>'
            f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
        ),
    )
    assert read_page_xml(path).lines[0].text == text


def test_page_duplicate_ids_are_made_unique(tmp_path: Path) -> None:
    line = '<TextLine id="a"><Coords points="1,1 9,1 9,9 1,9"/></TextLine>'
    path = _write(tmp_path / "p.xml", _page_xml(line * 2))
    assert [line.id for line in read_page_xml(path).lines] == ["a", "a_2"]


# --- find_layout_file -------------------------------------------------------------------------


@pytest.fixture
def page_text() -> str:
    return (LAYOUT_DATA / "iforal_castreicao_1217_1.page2019.xml").read_text(encoding="utf-8")


def test_find_same_stem(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.jpg", "")
    xml = _write(tmp_path / "X.xml", page_text)
    _write(tmp_path / "page" / "X.xml", page_text)
    assert find_layout_file(image) == xml


def test_find_upper_case_suffix(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.jpg", "")
    xml = _write(tmp_path / "X.XML", page_text)
    assert find_layout_file(image) == xml


def test_find_prefers_lower_case_suffix(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.jpg", "")
    _write(tmp_path / "X.XML", page_text)
    xml = _write(tmp_path / "X.xml", page_text)
    if (tmp_path / "X.XML").samefile(xml):
        pytest.skip("case-insensitive file system")
    assert find_layout_file(image) == xml


def test_find_in_page_and_alto_subfolders(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.tif", "")
    alto = tmp_path / "alto" / "X.xml"
    shutil.copy(LAYOUT_DATA / "handmade_alto3.xml", _write(alto, ""))
    assert find_layout_file(image) == alto
    page = _write(tmp_path / "page" / "X.xml", page_text)
    assert find_layout_file(image) == page


def test_find_ignores_chocomufin(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.jpg", "")
    _write(tmp_path / "X.chocomufin.xml", page_text)
    assert find_layout_file(image) is None


def test_find_ignores_non_layout_and_malformed_xml(tmp_path: Path, page_text: str) -> None:
    image = _write(tmp_path / "X.jpg", "")
    _write(tmp_path / "X.xml", "<metadata><title>X</title></metadata>")
    _write(tmp_path / "X.XML", "<PcGts")
    assert find_layout_file(image) is None
    page = _write(tmp_path / "page" / "X.xml", page_text)
    assert find_layout_file(image) == page


def test_find_nothing(tmp_path: Path) -> None:
    image = _write(tmp_path / "X.jpg", "")
    _write(tmp_path / "Y.xml", "")
    assert find_layout_file(image) is None
    assert find_layout_file(tmp_path / "missing" / "Z.png") is None


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<PcGts", "not well-formed"),
        ("", "not well-formed"),
        ("<html><body/></html>", "neither PAGE XML"),
        (
            '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2099-01-01"/>',
            "known version",
        ),
        ('<alto xmlns="http://example.org/alto"/>', "neither PAGE XML"),
    ],
)
def test_bad_documents_raise_layout_error(tmp_path: Path, text: str, reason: str) -> None:
    path = _write(tmp_path / "bad.xml", text)
    with pytest.raises(LayoutError, match=reason) as info:
        read_layout_file(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder_raise_layout_error(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="cannot read") as info:
        read_layout_file(tmp_path / "missing.xml")
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(LayoutError, match="cannot read"):
        read_page_xml(tmp_path)


def test_readers_refuse_the_other_format() -> None:
    with pytest.raises(LayoutError, match="not ALTO"):
        read_alto(LAYOUT_DATA / "handmade_page2010.xml")
    with pytest.raises(LayoutError, match="not PAGE XML"):
        read_page_xml(LAYOUT_DATA / "handmade_alto3.xml")


@pytest.mark.parametrize(
    "text",
    [
        _page_xml('<TextLine id="a"><Coords points="1,1 x,2 3,3"/></TextLine>'),
        _page_xml('<TextLine id="a"><Coords points="1,1 2,2 3"/></TextLine>'),
        _page_xml('<TextLine id="a"><Coords points="1,1 nan,2 3,3"/></TextLine>'),
        _page_xml("", width=-5),
        _alto_xml('<TextLine ID="a" HPOS="1" VPOS="two" WIDTH="3" HEIGHT="4"/>'),
        _alto_xml('<TextLine ID="a" HPOS="1" VPOS="2" WIDTH="3" HEIGHT="4" BASELINE="y"/>'),
        _alto_xml("", unit="furlong"),
    ],
)
def test_bad_values_raise_layout_error(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "bad.xml", text)
    with pytest.raises(LayoutError) as info:
        read_layout_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("where", ["attribute", "text"])
def test_external_entity_is_never_read(tmp_path: Path, where: str) -> None:
    secret = _write(tmp_path / "secret.txt", "TOP-SECRET")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        line = (
            '<TextLine ID="a" HPOS="1" VPOS="2" WIDTH="3" HEIGHT="4"><String CONTENT="&xxe;"/>'
            if where == "attribute"
            else '<TextLine ID="&xxe;" HPOS="1" VPOS="2" WIDTH="3" HEIGHT="4">'
        )
        text = (
            f'<?xml version="1.0"?>\n<!DOCTYPE alto [<!ENTITY xxe SYSTEM "{target}">]>\n'
            + _alto_xml(f"{line}</TextLine>").replace(
                "<Description>",
                "<Description><sourceImageInformation><fileName>&xxe;"
                "</fileName></sourceImageInformation>",
            )
        )
        path = _write(tmp_path / "xxe.xml", text)
        assert find_layout_file(_write(tmp_path / "xxe.png", "")) in (path, None)
        with pytest.raises(LayoutError) as info:
            read_layout_file(path)
        assert str(path) in str(info.value)
        assert "TOP-SECRET" not in str(info.value)
        assert "root:" not in str(info.value)


def test_internal_entities_are_refused(tmp_path: Path) -> None:
    text = '<!DOCTYPE PcGts [<!ENTITY who "el rey">]>\n' + _page_xml(
        '<TextLine id="a"><Coords points="1,1 9,1 9,9 1,9"/>'
        "<TextEquiv><Unicode>dixo &who;</Unicode></TextEquiv></TextLine>"
    )
    path = _write(tmp_path / "entity.xml", text)
    with pytest.raises(LayoutError, match="declares XML entities"):
        read_layout_file(path)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    text = f"<!DOCTYPE PcGts [{entities}]>\n" + _page_xml(
        '<TextLine id="a"><Coords points="1,1 9,1 9,9 1,9"/>'
        "<TextEquiv><Unicode>&lol9;</Unicode></TextEquiv></TextLine>"
    )
    path = _write(tmp_path / "bomb.xml", text)
    with pytest.raises(LayoutError) as info:
        read_layout_file(path)
    assert str(path) in str(info.value)
