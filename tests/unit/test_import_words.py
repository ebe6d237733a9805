"""Words read from ALTO ``String`` and PAGE ``Word`` elements into `Line.words`."""

from __future__ import annotations

from pathlib import Path

import pytest

from htr.document import Word
from htr.errors import LayoutError
from htr.layout.alto import read_alto
from htr.layout.files import read_layout_file
from htr.layout.pagexml import read_page_xml

REPO = Path(__file__).resolve().parents[2]
LAYOUT_DATA = REPO / "tests" / "data" / "layout"


def _alto(lines: str, *, unit: str = "pixel") -> str:
    return (
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">'
        f"<Description><MeasurementUnit>{unit}</MeasurementUnit></Description>"
        '<Layout><Page ID="p" PHYSICAL_IMG_NR="1" WIDTH="500" HEIGHT="100"><PrintSpace>'
        f'<TextBlock ID="b">{lines}</TextBlock>'
        "</PrintSpace></Page></Layout></alto>"
    )


def _page(lines: str, namespace: str = "2019-07-15") -> str:
    return (
        f'<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/{namespace}">'
        "<Metadata><Creator>t</Creator><Created>2024-01-01T00:00:00</Created>"
        "<LastChange>2024-01-01T00:00:00</LastChange></Metadata>"
        '<Page imageFilename="x.jpg" imageWidth="500" imageHeight="100">'
        f'<TextRegion id="r1"><Coords points="0,0 499,0 499,99 0,99"/>{lines}</TextRegion>'
        "</Page></PcGts>"
    )


_ALTO_LINE = '<TextLine ID="l1" HPOS="10" VPOS="10" WIDTH="300" HEIGHT="40">{}</TextLine>'
_PAGE_LINE = '<TextLine id="l1"><Coords points="10,10 309,10 309,49 10,49"/>{}</TextLine>'


def _word(text: str, points: str, conf: str | None = None, index: str | None = None) -> str:
    attributes = "".join(
        f' {name}="{value}"' for name, value in (("index", index), ("conf", conf)) if value
    )
    return (
        f'<Word id="w_{points.split()[0].replace(",", "_")}"><Coords points="{points}"/>'
        f"<TextEquiv{attributes}><Unicode>{text}</Unicode></TextEquiv></Word>"
    )


def _read(tmp_path: Path, text: str) -> tuple[Word, ...]:
    path = tmp_path / "file.xml"
    path.write_text(text, encoding="utf-8")
    layout = read_layout_file(path)
    assert len(layout.lines) == 1
    return layout.lines[0].words


# --- ALTO ---------------------------------------------------------------------------------------


def test_alto_strings_with_boxes_become_words(tmp_path: Path) -> None:
    strings = (
        '<String CONTENT="Sepan" HPOS="10" VPOS="10" WIDTH="50" HEIGHT="40" WC="0.75"/><SP/>'
        '<String CONTENT="q̃" HPOS="70" VPOS="12" WIDTH="20" HEIGHT="30" WC="1"/>'
    )
    path = tmp_path / "a.xml"
    path.write_text(_alto(_ALTO_LINE.format(strings)), encoding="utf-8")
    line = read_alto(path).lines[0]
    assert line.text == "Sepan q̃"
    assert line.words == (
        Word("Sepan", 0.75, (10, 10, 60, 50)),
        Word("q̃", 1.0, (70, 12, 90, 42)),
    )
    assert line.confidence == pytest.approx(0.875)


def test_alto_word_without_wc_is_verified(tmp_path: Path) -> None:
    strings = '<String CONTENT="carta" HPOS="10" VPOS="10" WIDTH="50" HEIGHT="40"/>'
    assert _read(tmp_path, _alto(_ALTO_LINE.format(strings))) == (
        Word("carta", 1.0, (10, 10, 60, 50)),
    )


def test_alto_wc_is_clipped_and_empty_wc_is_absent(tmp_path: Path) -> None:
    strings = (
        '<String CONTENT="a" HPOS="10" VPOS="10" WIDTH="5" HEIGHT="5" WC="1.5"/><SP/>'
        '<String CONTENT="b" HPOS="20" VPOS="10" WIDTH="5" HEIGHT="5" WC="-0.1"/><SP/>'
        '<String CONTENT="c" HPOS="30" VPOS="10" WIDTH="5" HEIGHT="5" WC=" "/>'
    )
    words = _read(tmp_path, _alto(_ALTO_LINE.format(strings)))
    assert [w.confidence for w in words] == [1.0, 0.0, 1.0]


def test_alto_bad_wc_is_an_error_naming_the_file(tmp_path: Path) -> None:
    strings = '<String CONTENT="a" HPOS="10" VPOS="10" WIDTH="5" HEIGHT="5" WC="high"/>'
    path = tmp_path / "bad.xml"
    path.write_text(_alto(_ALTO_LINE.format(strings)), encoding="utf-8")
    with pytest.raises(LayoutError, match=r"bad\.xml"):
        read_alto(path)


def test_alto_zero_width_string_gets_one_pixel(tmp_path: Path) -> None:
    strings = '<String CONTENT="i" HPOS="10" VPOS="10" WIDTH="0" HEIGHT="40"/>'
    assert _read(tmp_path, _alto(_ALTO_LINE.format(strings)))[0].bbox == (10, 10, 11, 50)


@pytest.mark.parametrize(
    "strings",
    [
        pytest.param("", id="no-string"),
        pytest.param('<String CONTENT="whole line"/>', id="no-box"),
        pytest.param(
            '<String CONTENT="a" HPOS="10" VPOS="10" WIDTH="5" HEIGHT="5"/><SP/>'
            '<String CONTENT="b" HPOS="20" WIDTH="5" HEIGHT="5"/>',
            id="one-without-box",
        ),
        pytest.param(
            '<String CONTENT="que su nacion" HPOS="10" VPOS="10" WIDTH="300" HEIGHT="40"/>',
            id="whole-line-string",
        ),
    ],
)
def test_alto_lines_without_word_strings_have_no_words(tmp_path: Path, strings: str) -> None:
    path = tmp_path / "a.xml"
    path.write_text(_alto(_ALTO_LINE.format(strings)), encoding="utf-8")
    line = read_alto(path).lines[0]
    assert line.words == ()
    assert line.confidence == 0.0


def test_alto_empty_strings_are_not_words(tmp_path: Path) -> None:
    strings = (
        '<String CONTENT="" HPOS="0" VPOS="0" WIDTH="5" HEIGHT="5"/><SP/>'
        '<String CONTENT="b" HPOS="20" VPOS="10" WIDTH="5" HEIGHT="5"/>'
    )
    assert [w.text for w in _read(tmp_path, _alto(_ALTO_LINE.format(strings)))] == ["b"]


def test_alto_mm10_word_boxes_are_converted_to_pixels() -> None:
    layout = read_alto(LAYOUT_DATA / "handmade_alto2.xml")  # mm10 at 300 dpi
    first = layout.lines[0]
    assert first.text == "Sepan quantos esta-"
    assert [w.text for w in first.words] == ["Sepan", "quantos", "esta"]
    # HPOS 127 mm10 = 0.5 inch = 150 px; WIDTH 508 mm10 = 600 px.
    assert first.words[0] == Word("Sepan", 1.0, (150, 150, 750, 300))
    assert layout.lines[1].words == (Word("carta", 1.0, (150, 450, 750, 600)),)


def test_escriptorium_whole_line_strings_give_no_words() -> None:
    layout = read_layout_file(LAYOUT_DATA / "htromance_dialogos_v5.alto4.xml")
    assert layout.lines
    assert all(line.words == () for line in layout.lines)


def test_alto3_fixture_words() -> None:
    layout = read_layout_file(LAYOUT_DATA / "handmade_alto3.xml")
    assert layout.lines[0].words == (
        Word("ꝑ", 1.0, (50, 50, 70, 90)),
        Word("ende", 1.0, (80, 50, 180, 90)),
    )
    assert layout.lines[1].words == ()


def test_alto_renamed_duplicate_line_keeps_its_words(tmp_path: Path) -> None:
    line = '<TextLine ID="l1" HPOS="10" VPOS="{y}" WIDTH="300" HEIGHT="20">{s}</TextLine>'
    string = '<String CONTENT="w{n}" HPOS="10" VPOS="{y}" WIDTH="30" HEIGHT="20" WC="0.5"/>'
    lines = "".join(line.format(y=y, s=string.format(n=n, y=y)) for n, y in ((1, 10), (2, 40)))
    path = tmp_path / "dup.xml"
    path.write_text(_alto(lines), encoding="utf-8")
    layout = read_alto(path)
    assert [line.id for line in layout.lines] == ["l1", "l1_2"]
    assert [line.words[0].text for line in layout.lines] == ["w1", "w2"]
    assert layout.lines[1].confidence == 0.5


# --- PAGE ---------------------------------------------------------------------------------------


def test_page_words_with_coords_and_conf(tmp_path: Path) -> None:
    words = _word("q̃", "10,10 39,10 39,49 10,49", conf="0.9") + _word(
        "dixo", "50,12 99,12 99,40 50,40", conf="0.6"
    )
    line_equiv = "<TextEquiv><Unicode>q̃ dixo</Unicode></TextEquiv>"
    path = tmp_path / "p.xml"
    path.write_text(_page(_PAGE_LINE.format(words + line_equiv)), encoding="utf-8")
    line = read_page_xml(path).lines[0]
    assert line.text == "q̃ dixo"
    assert line.words == (
        Word("q̃", 0.9, (10, 10, 40, 50)),
        Word("dixo", 0.6, (50, 12, 100, 41)),
    )
    assert line.confidence == pytest.approx(0.75)


def test_page_word_without_conf_is_verified(tmp_path: Path) -> None:
    words = _word("carta", "10,10 39,10 39,49 10,49")
    assert _read(tmp_path, _page(_PAGE_LINE.format(words)))[0].confidence == 1.0


def test_page_word_text_is_the_lowest_index(tmp_path: Path) -> None:
    word = (
        '<Word id="w1"><Coords points="10,10 39,10 39,49 10,49"/>'
        '<TextEquiv index="2" conf="0.2"><Unicode>otro</Unicode></TextEquiv>'
        '<TextEquiv index="1" conf="0.8"><Unicode>ꝑ</Unicode></TextEquiv></Word>'
    )
    assert _read(tmp_path, _page(_PAGE_LINE.format(word))) == (Word("ꝑ", 0.8, (10, 10, 40, 50)),)


def test_page_2010_word_points(tmp_path: Path) -> None:
    word = (
        '<Word id="w1"><Coords><Point x="10" y="10"/><Point x="39" y="10"/>'
        '<Point x="39" y="49"/><Point x="10" y="49"/></Coords>'
        "<TextEquiv><Unicode>carta</Unicode></TextEquiv></Word>"
    )
    line = '<TextLine id="l1"><Coords points="10,10 309,10 309,49 10,49"/>{}</TextLine>'
    text = _page(line.format(word), namespace="2010-03-19")
    assert _read(tmp_path, text) == (Word("carta", 1.0, (10, 10, 40, 50)),)


@pytest.mark.parametrize(
    "words",
    [
        pytest.param("", id="no-word"),
        pytest.param(
            '<Word id="w1"><TextEquiv><Unicode>a</Unicode></TextEquiv></Word>', id="no-coords"
        ),
        pytest.param(_word("two words", "10,10 39,10 39,49 10,49"), id="whitespace"),
    ],
)
def test_page_lines_without_usable_words_have_none(tmp_path: Path, words: str) -> None:
    path = tmp_path / "p.xml"
    path.write_text(_page(_PAGE_LINE.format(words)), encoding="utf-8")
    line = read_page_xml(path).lines[0]
    assert line.words == ()
    assert line.confidence == 0.0


def test_page_words_without_text_are_skipped(tmp_path: Path) -> None:
    words = _word("", "1,1 5,1 5,5 1,5") + _word("b", "10,10 39,10 39,49 10,49", conf="0.5")
    assert [w.text for w in _read(tmp_path, _page(_PAGE_LINE.format(words)))] == ["b"]


def test_page_bad_word_conf_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    words = _word("a", "10,10 39,10 39,49 10,49", conf="nan")
    path.write_text(_page(_PAGE_LINE.format(words)), encoding="utf-8")
    with pytest.raises(LayoutError, match=r"bad\.xml"):
        read_page_xml(path)


def test_page_fixture_without_words_keeps_none() -> None:
    layout = read_layout_file(LAYOUT_DATA / "iforal_castreicao_1217_1.page2019.xml")
    assert all(line.words == () for line in layout.lines)
