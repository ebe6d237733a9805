"""Hardening against odd inputs (issue 11), through the command line and on real pages.

- `legajo index` fails a page whose layout file describes another image (exit code 3),
  naming both, and indexes the others.
- The plausibility guard of our own segmentation flags none of the real manuscript pages of
  the densest manuscripts in ``../shared/data``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from htr.images import load_page_images, to_grey
from htr.segmentation_check import segment_page_checked
from legajo.cli.main import main
from tests.conftest import render_line

FAST = ("--beams", "1", "--n-best", "1")
PAGE_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
DENSE_MANUSCRIPTS = (
    "htromance-spain/data/bnf-esp-65",  # spreads of 4 columns, 132 lines each
    "htromance-spain/data/bnf-esp-440",  # main text with glosses around it
    "iforal-sample/data/foral_de_evora_1218",  # the most lines per page height (70)
)


def _page_xml(image_name: str, width: int, height: int) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts xmlns="{PAGE_2019}">'
        f'<Page imageFilename="{image_name}" imageWidth="{width}" imageHeight="{height}">'
        '<TextRegion id="r1"><TextLine id="l1"><Coords points="20,20 400,20 400,60 20,60"/>'
        "</TextLine></TextRegion></Page></PcGts>"
    )


def _written_page(path: Path, size: tuple[int, int], text: str) -> Path:
    image = Image.new("RGB", size, "white")
    image.paste(render_line(text), (20, 20))
    image.save(path)
    return path


def test_index_fails_a_page_whose_layout_describes_another_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    good = _written_page(pages / "good.png", (600, 400), "en el nonbre de dios")
    (pages / "good.xml").write_text(_page_xml("good.png", 600, 400), encoding="utf-8")
    copy = _written_page(pages / "copy.png", (600, 400), "sepan quantos esta carta")
    (pages / "copy.xml").write_text(_page_xml("IMG_1.tif", 1200, 800), encoding="utf-8")
    other = _written_page(pages / "X.png", (1532, 2002), "amen")
    (pages / "X.xml").write_text(_page_xml("3.jpg", 1496, 2008), encoding="utf-8")
    assert good.exists() and copy.exists() and other.exists()

    home = tmp_path / "home"
    code = main(["index", str(pages), "--home", str(home), "--model", str(tiny_checkpoint), *FAST])
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    for part in ("X.png", "X.xml", "3.jpg", "1496x2008", "1532x2002"):
        assert part in err
    assert "good.png" not in err and "copy.png" not in err
    assert "indexed 2 pages" in out


@pytest.mark.parametrize("manuscript", DENSE_MANUSCRIPTS)
def test_real_pages_are_not_flagged(shared_data: Path, manuscript: str) -> None:
    """Measured on all 114 pages of ../shared/data: none flagged, none segmented again."""
    images = sorted((shared_data / manuscript).glob("*.jpg"))
    assert images
    for image in images:
        (page,) = load_page_images(image)
        result = segment_page_checked(to_grey(page.image))
        assert result.lines, image.name
        assert result.problems == () and not result.resegmented, (image.name, result.problems)
