"""Mirador 4 (bundled at /viewer) on a legajo manifest, in Debian's headless Chromium.

`legajo serve` runs on the indexed test archive; the browser opens
``/viewer?manifest=<the collection's manifest>``. The page image must be drawn, the
transcription's annotations listed in Mirador's annotation panel, and a search typed into
Mirador's search panel must list its hits and highlight them on the image. No request may
leave the server: Mirador and everything it loads come from legajo.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from legajo.server.iiif.bundle import mirador_bundled
from tests.conftest import MEMORISED_TEXTS
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS
from tests.legajo_serve import running_server
from tests.ui.archive import COLLECTION, Archive


@pytest.fixture(scope="module")
def legajo_server(
    archive: Archive, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if not mirador_bundled():
        pytest.fail("Mirador is not bundled: python -m legajo.server.iiif.bundle (make setup)")
    log = tmp_path_factory.mktemp("log") / "legajo-serve.log"
    with running_server(archive.storage.home, log) as url:
        yield url


def _viewer_pixels(page: Any) -> Any:
    """A screenshot of Mirador's image area, as a PIL image."""
    from PIL import Image

    shot = page.locator(".openseadragon-container").first.screenshot()
    return Image.open(io.BytesIO(shot)).convert("RGB")


def _count(image: Any, test: Callable[[int, int, int], bool]) -> int:
    return sum(1 for pixel in image.getdata() if test(*pixel))


def _dark(r: int, g: int, b: int) -> bool:
    return r < 100 and g < 100 and b < 100


def _highlighted(r: int, g: int, b: int) -> bool:
    """Mirador's yellow over white paper or black ink (its selected search hit)."""
    return r > 180 and g > 180 and b < 200 and r - b > 40


def _wait_for(page: Any, image_test: Callable[[Any], bool]) -> bool:
    for _ in range(STEP_TIMEOUT_MS // 250):
        if image_test(_viewer_pixels(page)):
            return True
        page.wait_for_timeout(250)
    return False


def test_mirador_shows_the_page_its_transcription_and_search_hits(
    legajo_server: str, page: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    manifest = f"{legajo_server}/iiif/{COLLECTION}/manifest.json"
    page.goto(
        f"{legajo_server}/viewer?manifest={quote(manifest, safe='')}",
        timeout=FIRST_LOAD_TIMEOUT_MS,
    )

    # the page image is drawn by OpenSeadragon from legajo's Image API
    page.locator(".openseadragon-container").first.wait_for(timeout=FIRST_LOAD_TIMEOUT_MS)
    assert _wait_for(page, lambda image: _count(image, _dark) > 500), "no page image drawn"
    assert any("/iiif/image/1/" in url and url.endswith(".jpg") for url in requests)
    assert _count(_viewer_pixels(page), _highlighted) == 0

    # the transcription's annotations are listed in the annotation panel
    expect(page.get_by_text("Showing 3 annotations")).to_be_visible()
    for line in MEMORISED_TEXTS:
        expect(page.get_by_text(line, exact=True).first).to_be_visible()
    assert any(url.endswith(f"/iiif/{COLLECTION}/annotations/1.json") for url in requests)

    # a search from Mirador's search panel lists hits and highlights them on the image
    page.get_by_role("tab", name="Search").click()
    box = page.get_by_role("combobox").first
    box.fill("dios")
    box.press("Enter")
    hits = page.locator("[class*='SearchHit-root']")
    expect(hits.first).to_be_visible()
    assert hits.count() >= 2  # folio 1 and folio 3 hold "dios"
    expect(hits.first).to_contain_text("dios")
    assert any("/iiif/search1/" in url and "q=dios" in url for url in requests)
    assert _wait_for(page, lambda image: _count(image, _highlighted) > 100), "no highlight"
    page.screenshot(path=str(screenshots / "50-mirador-search.png"))

    outside = sorted(
        {url for url in requests if urlsplit(url).scheme != "data"}
        - {url for url in requests if url.startswith(legajo_server + "/")}
    )
    assert outside == [], f"requests left the server: {outside}"
