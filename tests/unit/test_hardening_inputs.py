"""Hardening against odd inputs (issue 11, points 2, 3, 6 and 8), on real files written here.

- A layout file for another image is an error naming both, unless it describes a scaled copy.
- PDF pages are rendered at the native resolution of their scan, recorded in the provenance.
- Messages say what is wrong with a layout file (entities, HTML, PAGE namespace variants);
  a hub name that cannot be loaded fails at once when the hub is out of reach.
- Our own segmentation is checked: implausible pages are segmented again or reported.
"""

from __future__ import annotations

import io
import logging
import random
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from htr.confidence import WordReading
from htr.document import Alternative, Line, ProcessingStep
from htr.errors import LayoutError, ModelLoadError
from htr.images import PageImage, load_page_images, pdf_page_dpi
from htr.layout.files import find_layout_file, read_layout_file, search_layout_file
from htr.pipeline import (
    LayoutMode,
    PipelineSettings,
    find_lines,
    fit_layout_to_image,
    stored_pdf_dpi,
    transcribe_page,
)
from htr.reading import RecognizerSettings
from htr.recognizer import LineReading, load_recognizer
from htr.segmentation import segment_page
from htr.segmentation_check import PlausibilityLimits, check_segmentation, segment_page_checked

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
PAGE_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
KRAKEN_PAGE_2013 = "https://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
WORDS = ("en", "el", "nonbre", "de", "dios", "amen", "sepan", "quantos", "carta", "rey")


def _page_xml(
    image_name: str, width: int, height: int, namespace: str = PAGE_2019, doctype: str = ""
) -> str:
    """A PAGE file with two lines, polygons in a `width` x `height` image."""
    lines = "".join(
        f'<TextLine id="l{i}"><Coords points="{width // 10},{top} {width // 2},{top} '
        f'{width // 2},{top + height // 20} {width // 10},{top + height // 20}"/>'
        f"<TextEquiv><Unicode>linea {i}</Unicode></TextEquiv></TextLine>"
        for i, top in enumerate((height // 5, height // 2))
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}'
        f'<PcGts xmlns="{namespace}"><Page imageFilename="{image_name}" '
        f'imageWidth="{width}" imageHeight="{height}"><TextRegion id="r1">{lines}'
        "</TextRegion></Page></PcGts>"
    )


def _image(path: Path, size: tuple[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)
    return path


def _only_page(path: Path, **options: int) -> PageImage:
    (page,) = load_page_images(path, **options)
    return page


class OneWordRecognizer:
    """Reads every line as "rey"."""

    model_id = "fake"

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        word = (WordReading("rey", 0.9, 0, 3),)
        return [LineReading("rey", 0.9, word, (Alternative("rey", 1.0),)) for _ in images]

    def processing_step(self) -> ProcessingStep:
        return ProcessingStep("recognition", "test", model_id="fake")


# --- point 2: a layout file for another image ------------------------------------------------


def test_layout_for_another_page_is_an_error_naming_both(tmp_path: Path) -> None:
    """The case of the issue: X.xml names 3.jpg at 1496 x 2008, X.jpg is 1532 x 2002."""
    image = _image(tmp_path / "X.jpg", (1532, 2002))
    (tmp_path / "X.xml").write_text(_page_xml("3.jpg", 1496, 2008), encoding="utf-8")
    page = _only_page(image)
    for mode in (LayoutMode.AUTO, LayoutMode.XML):
        with pytest.raises(LayoutError) as info:
            find_lines(page, PipelineSettings(layout=mode))
        message = str(info.value)
        for part in ("X.xml", "3.jpg", "1496x2008", "X.jpg", "1532x2002"):
            assert part in message


def test_same_name_but_another_shape_is_an_error(tmp_path: Path) -> None:
    image = _image(tmp_path / "X.jpg", (1532, 2002))
    (tmp_path / "X.xml").write_text(_page_xml("X.jpg", 1496, 2008), encoding="utf-8")
    with pytest.raises(LayoutError, match="not a uniform scaling"):
        find_lines(_only_page(image), PipelineSettings())


def test_layout_of_a_scaled_copy_is_scaled_and_recorded(tmp_path: Path) -> None:
    image = _image(tmp_path / "folio_12r.jpg", (1500, 2000))
    xml = tmp_path / "folio_12r.xml"
    xml.write_text(_page_xml("IMG_0042.tif", 3000, 4000), encoding="utf-8")
    lines, step = find_lines(_only_page(image), PipelineSettings())
    original = read_layout_file(xml).lines
    for line, full in zip(lines, original, strict=True):
        assert line.bbox == pytest.approx([v / 2 for v in full.bbox], abs=1)
    assert step.settings["scale"] == 0.5
    assert step.settings["declared_size"] == "3000x4000"
    assert step.settings["declared_image"] == "IMG_0042.tif"


def test_same_size_under_another_name_is_used_and_recorded(tmp_path: Path) -> None:
    image = _image(tmp_path / "renamed.jpg", (800, 1000))
    (tmp_path / "renamed.xml").write_text(_page_xml("upload.png", 800, 1000), encoding="utf-8")
    lines, step = find_lines(_only_page(image), PipelineSettings(layout=LayoutMode.XML))
    assert len(lines) == 2
    assert step.settings["declared_image"] == "upload.png" and "scale" not in step.settings


@pytest.mark.parametrize(
    "declared",
    ["X.jpg", "x.TIF", "C:\\scans\\X.tiff", "/data/export/X.png", "https://iiif.example/X.jpg?x=1"],
)
def test_names_match_ignoring_case_folder_and_extension(tmp_path: Path, declared: str) -> None:
    layout = read_layout_file(_write_layout(tmp_path, declared, 800, 1000))
    lines, recorded = fit_layout_to_image(layout, "X.jpg", 800, 1000)
    assert recorded == {} and len(lines) == 2


def test_another_name_at_about_the_same_size_is_refused(tmp_path: Path) -> None:
    """A neighbouring scan of almost the same size is not a scaled copy."""
    layout = read_layout_file(_write_layout(tmp_path, "3.jpg", 1503, 2004))
    with pytest.raises(LayoutError, match="about the same size"):
        fit_layout_to_image(layout, "X.jpg", 1500, 2000)
    _, recorded = fit_layout_to_image(layout, "X.jpg", 1503, 2004)
    assert recorded == {"declared_image": "3.jpg"}


def test_rounding_of_a_scaled_copy_is_tolerated(tmp_path: Path) -> None:
    layout = read_layout_file(_write_layout(tmp_path, "X.jpg", 3001, 4001))
    lines, recorded = fit_layout_to_image(layout, "X.jpg", 1500, 2000)
    assert recorded["scale"] == pytest.approx(0.4998, abs=1e-3)
    assert all(0 <= x < 1500 and 0 <= y < 2000 for line in lines for x, y in line.polygon)


def _write_layout(folder: Path, name: str, width: int, height: int) -> Path:
    path = folder / "layout.xml"
    path.write_text(_page_xml(name, width, height), encoding="utf-8")
    return path


# --- point 3: PDF resolution -----------------------------------------------------------------


def test_pdf_saved_at_72_dpi_is_rendered_at_72_dpi(tmp_path: Path) -> None:
    """The issue's page: 4303 x 3000 pixels at 72 dpi, 17930 x 12500 at 300 dpi (refused)."""
    path = tmp_path / "scan72.pdf"
    Image.new("RGB", (4303, 3000), "white").save(path, resolution=72.0)
    page = _only_page(path)
    assert page.pdf_dpi == 72
    assert page.image.size == (4303, 3000)
    with pytest.raises(Exception, match="too large"):
        load_page_images(path, pdf_dpi=300)


@pytest.mark.parametrize(("saved", "rendered"), [(150, 150), (200, 200), (600, 300)])
def test_pdf_rendered_at_the_scan_resolution_at_most_300(
    tmp_path: Path, saved: int, rendered: int
) -> None:
    path = tmp_path / f"scan{saved}.pdf"
    size = (round(8.27 * saved), round(11.69 * saved))  # A4
    Image.new("L", size, 200).save(path, resolution=float(saved))
    page = _only_page(path)
    assert page.pdf_dpi == rendered
    assert abs(page.image.width - round(size[0] * rendered / saved)) <= 1


def test_pdf_page_without_a_scan_gets_the_highest_dpi_that_fits(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    path = tmp_path / "blank.pdf"
    pdf = pdfium.PdfDocument.new()
    pdf.new_page(4303, 3000)
    pdf.new_page(595, 842)
    pdf.save(path)
    pdf.close()
    pdf = pdfium.PdfDocument(path)
    try:
        assert pdf_page_dpi(pdf[0]) == 267  # at 300 dpi: 224 million pixels, over the limit
        assert pdf_page_dpi(pdf[1]) == 300
    finally:
        pdf.close()
    big, a4 = load_page_images(path, max_pixels=10_000_000)
    assert big.pdf_dpi == 63 and big.image.width * big.image.height <= 10_000_000
    assert a4.pdf_dpi == 300 and a4.image.size == (2480, 3509)


def test_a_small_image_on_a_page_does_not_set_its_resolution(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    stamp = tmp_path / "stamp.jpg"
    Image.new("RGB", (60, 60), "red").save(stamp)
    path = tmp_path / "typed.pdf"
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    image = pdfium.PdfImage.new(pdf)
    image.load_jpeg(str(stamp), pages=[page])
    image.set_matrix(pdfium.PdfMatrix().scale(60, 60).translate(50, 700))  # 60 px on 60 pt
    page.insert_obj(image)
    page.gen_content()
    pdf.save(path)
    pdf.close()
    assert _only_page(path).pdf_dpi == 300  # not the stamp's 72


def test_pdf_resolution_is_recorded_in_the_provenance(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (600, 800), "white").save(path, resolution=100.0)
    page = transcribe_page(
        _only_page(path), OneWordRecognizer(), PipelineSettings(whole_image=True)
    )
    assert page.steps[0].settings == {"method": "whole-image", "pdf_dpi": 100}
    jpeg = _image(tmp_path / "scan.jpg", (600, 800))
    raster = _only_page(jpeg)
    assert raster.pdf_dpi is None
    _, step = find_lines(raster, PipelineSettings(whole_image=True))
    assert "pdf_dpi" not in step.settings


def test_stored_page_is_rendered_again_at_its_recorded_resolution(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (600, 800), "white").save(path, resolution=100.0)
    page = transcribe_page(
        _only_page(path), OneWordRecognizer(), PipelineSettings(whole_image=True)
    )
    again = _only_page(path, pdf_dpi=stored_pdf_dpi(page.steps))
    assert again.image.size == (page.width, page.height)
    legacy = (ProcessingStep("segmentation", "legajo 0.1.0", settings={"method": "xml"}),)
    assert stored_pdf_dpi(legacy) == 300  # what every PDF page was rendered at before


def test_explicit_pdf_dpi_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (720, 720), "white").save(path, resolution=72.0)
    page = _only_page(path, pdf_dpi=144)
    assert page.pdf_dpi == 144 and page.image.size == (1440, 1440)


# --- point 6: messages -----------------------------------------------------------------------


def _billion_laughs() -> str:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    return _page_xml("X.jpg", 300, 200, doctype=f"<!DOCTYPE PcGts [{entities}]>\n").replace(
        "linea 0", "&lol9;"
    )


def test_billion_laughs_next_to_an_image_is_named_as_such(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = _image(tmp_path / "X.jpg", (300, 200))
    (tmp_path / "X.xml").write_text(_billion_laughs(), encoding="utf-8")
    page = _only_page(image)
    with pytest.raises(LayoutError) as info:
        find_lines(page, PipelineSettings(layout=LayoutMode.XML))
    assert "X.xml" in str(info.value) and "entities" in str(info.value)
    assert "no PAGE or ALTO file with the image's name" not in str(info.value)
    with caplog.at_level(logging.WARNING):
        _, step = find_lines(page, PipelineSettings())
    assert step.kind == "segmentation" and "entities" in caplog.text


def test_html_next_to_an_image_is_named_as_such(tmp_path: Path) -> None:
    image = _image(tmp_path / "X.jpg", (300, 200))
    html = "<!DOCTYPE html>\n<html><head><title>Login</title></head><body><p>Sign in<br></body>"
    (tmp_path / "X.xml").write_text(html, encoding="utf-8")
    with pytest.raises(LayoutError, match=r"X\.xml: an HTML page, not XML"):
        find_lines(_only_page(image), PipelineSettings(layout=LayoutMode.XML))
    xhtml = tmp_path / "page.xml"
    xhtml.write_text('<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "utf-8")
    with pytest.raises(LayoutError, match="HTML page"):
        read_layout_file(xhtml)
    binary = tmp_path / "binary.xml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(LayoutError, match="not XML at all"):
        read_layout_file(binary)


@pytest.mark.parametrize(
    "namespace",
    [
        KRAKEN_PAGE_2013,
        PAGE_2019 + "/",
        "https://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15",
    ],
)
def test_page_namespace_variants_are_read(tmp_path: Path, namespace: str) -> None:
    image = _image(tmp_path / "X.jpg", (300, 200))
    xml = tmp_path / "X.xml"
    xml.write_text(_page_xml("X.jpg", 300, 200, namespace=namespace), encoding="utf-8")
    assert find_layout_file(image) == xml
    assert [line.text for line in read_layout_file(xml).lines] == ["linea 0", "linea 1"]
    lines, step = find_lines(_only_page(image), PipelineSettings(layout=LayoutMode.XML))
    assert len(lines) == 2 and step.kind == "layout-import"


def test_pcgts_in_a_foreign_namespace_says_so(tmp_path: Path) -> None:
    image = _image(tmp_path / "X.jpg", (300, 200))
    (tmp_path / "X.xml").write_text(
        _page_xml("X.jpg", 300, 200, namespace="http://example.org/page"), encoding="utf-8"
    )
    (rejected,) = search_layout_file(image).rejected
    assert "not a PAGE content namespace" in rejected.reason


def test_offline_unknown_hub_name_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match="offline") as info:
        load_recognizer("nobody-legajo/no-such-model")
    assert time.monotonic() - start < 2.0
    assert "nobody-legajo/no-such-model" in str(info.value)


def test_unreachable_hub_fails_at_once_without_retries(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import huggingface_hub.constants

    import htr.trocr

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(htr.trocr, "_hub_unreachable", lambda endpoint: "no route to host")
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match="cannot be reached"):
        load_recognizer("nobody-legajo/no-such-model")
    assert time.monotonic() - start < 2.0
    assert "Retrying" not in caplog.text


def test_hub_probe_reports_a_dead_endpoint_quickly() -> None:
    import htr.trocr

    start = time.monotonic()
    reason = htr.trocr._hub_unreachable("http://127.0.0.1:9")  # the discard port: closed
    assert reason is not None and time.monotonic() - start < htr.trocr.HUB_PROBE_SECONDS + 1


def test_cached_hub_name_loads_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path
) -> None:
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--legajo-test--cached"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_checkpoint, repo / "snapshots" / commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recognizer = load_recognizer("legajo-test/cached", RecognizerSettings(device="cpu"))
    assert recognizer.model_id == "legajo-test/cached"


def test_hub_warnings_are_printed_once(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError):
        load_recognizer("nobody-legajo/no-such-model")
    application = io.StringIO()
    handler = logging.StreamHandler(application)
    logging.getLogger().addHandler(handler)
    try:
        logging.getLogger("huggingface_hub.utils._http").warning("hub warning 7d1f")
    finally:
        logging.getLogger().removeHandler(handler)
    printed = application.getvalue() + capfd.readouterr().err
    assert printed.count("hub warning 7d1f") == 1


# --- point 8: pathological pages -------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size)


def _writing(
    size: tuple[int, int], columns: Sequence[tuple[int, int]], rows: int, spacing: int, font: int
) -> np.ndarray:
    """Rows of words in each (x, width) column, black on light grey."""
    rng = random.Random(3)
    image = Image.new("L", size, 235)
    draw = ImageDraw.Draw(image)
    face = _font(font)
    for x, width in columns:
        for row in range(rows):
            text = ""
            while True:
                candidate = f"{text} {rng.choice(WORDS)}".strip()
                if draw.textlength(candidate, font=face) > width:
                    break
                text = candidate
            draw.text((x, 20 + row * spacing), text, font=face, fill=30)
    return np.asarray(image)


def _line(y: int, x0: int, x1: int, height: int) -> Line:
    return Line(
        id=f"l{y}",
        bbox=(x0, y, x1, y + height),
        polygon=((x0, y), (x1 - 1, y), (x1 - 1, y + height - 1), (x0, y + height - 1)),
    )


def test_a_normal_page_is_plausible() -> None:
    lines = [_line(100 + 60 * i, 100, 1300, 68) for i in range(30)]
    assert check_segmentation(lines, 60.0, (1400, 2000)) == ()
    grey = _writing((1400, 1800), [(150, 1100)], 18, 64, 30)
    result = segment_page_checked(grey)
    assert len(result.lines) == 18 and result.problems == () and not result.resegmented


@pytest.mark.parametrize(
    ("lines", "spacing", "expected"),
    [
        ([_line(10 * i, 0, 1000, 12) for i in range(450)], 10.0, "450 lines (at most 400)"),
        ([_line(10 * i, 0, 1000, 12) for i in range(100)], 10.0, "fits 300.0 lines"),
        ([_line(300 * i, 0, 2000, 8) for i in range(9)], 300.0, "median line height 8 px"),
        ([_line(300 * i, 0, 2900, 40) for i in range(9)], 300.0, "72 times longer than high"),
        ([_line(18 * i, 0, 300, 15) for i in range(160)], 100.0, "160 lines where 30 fit"),
    ],
)
def test_implausible_measures_are_named(lines: list[Line], spacing: float, expected: str) -> None:
    problems = check_segmentation(lines, spacing, (3000, 3000))
    assert any(expected in problem for problem in problems), problems


def test_reading_work_has_a_limit() -> None:
    lines = [_line(50 * i, 0, 2900, 50) for i in range(70)]  # 70 lines, 58 heights long each
    problems = check_segmentation(lines, 50.0, (3000, 3600))
    assert problems == ("4060 line heights of text to read (at most 4000)",)
    assert (
        check_segmentation(lines, 50.0, (3000, 3600), PlausibilityLimits(max_reading_work=1e4))
        == ()
    )


def _stripes(height: int, width: int, period: int) -> np.ndarray:
    """Noisy horizontal stripes `period` px apart: laid paper, a screen, a fabric."""
    rng = np.random.default_rng(0)
    grey = np.full((height, width), 220, np.int16)
    for y in range(0, height, period):
        grey[y : y + 3] = 90
    return np.clip(grey + rng.integers(-40, 40, grey.shape), 0, 255).astype(np.uint8)


def test_fine_texture_is_segmented_again_or_reported() -> None:
    """A fine texture taken for the line period; measured: 55 lines -> 30, and 176 reported."""
    grey = _stripes(2600, 2000, 9)
    first = segment_page(grey)
    result = segment_page_checked(grey)
    assert result.resegmented and result.problems == ()
    assert result.first_try is not None and result.first_try[0] == len(first)
    assert len(result.lines) < len(first)
    assert any("lines in the page height" in problem for problem in result.first_try[1])

    reported = segment_page_checked(_stripes(2000, 1500, 7))
    assert len(reported.lines) > 100 and not reported.resegmented
    assert any("lines in the page height (at most 120)" in p for p in reported.problems)


def test_thin_lines_across_a_long_scroll_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    grey = _writing((16000, 1400), [(100, 15800)], 10, 120, 56)
    result = segment_page_checked(grey)
    assert len(result.lines) == 10 and not result.resegmented
    assert any("times longer than high" in problem for problem in result.problems)

    path = tmp_path / "rotulo.png"
    Image.fromarray(grey).save(path)
    page = _only_page(path)
    with caplog.at_level(logging.WARNING, logger="htr.pipeline"):
        lines, step = find_lines(page, PipelineSettings(layout=LayoutMode.OWN))
    assert len(lines) == 10
    assert re.search(r"rotulo\.png \(frame 0\).*10 implausible lines", caplog.text)
    assert "times longer than high" in str(step.settings["implausible"])
    with pytest.raises(LayoutError, match=r"rotulo\.png"):
        find_lines(page, PipelineSettings(layout=LayoutMode.OWN, fail_implausible=True))


def test_own_segmentation_step_of_a_normal_page_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "folio.png"
    Image.fromarray(_writing((1400, 1800), [(150, 1100)], 18, 64, 30)).save(path)
    _, step = find_lines(_only_page(path), PipelineSettings())
    assert step.settings == {"method": "legajo-opencv"}


def test_page_of_many_short_fragments_is_segmented_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ledger: 8 columns of 125 short entries; measured: 738 lines, then none."""
    path = tmp_path / "libro_de_cuentas.png"
    grey = _writing((2400, 3000), [(30 + 296 * c, 200) for c in range(8)], 125, 23, 14)
    Image.fromarray(grey).save(path)
    with caplog.at_level(logging.WARNING, logger="htr.pipeline"):
        lines, step = find_lines(_only_page(path), PipelineSettings())
    assert "libro_de_cuentas.png (frame 0)" in caplog.text
    assert "segmented again with safer settings" in caplog.text
    first_try = str(step.settings["resegmented"])
    assert "lines (at most 400)" in first_try
    assert len(lines) < int(first_try.split()[0]) and int(first_try.split()[0]) > 400
