"""The deep-zoom page viewer in a real headless Chromium.

A page opened from a search shows every line's outline and every hit of the search boxed on
the picture (checked on the overlay's SVG elements, against the hits the search service gives
for that page), the chosen line distinct; the page's text is beside it. A click on a line of
the picture opens it for correction; in a read-only workbench it only chooses the line.
Nothing the viewer loads comes from outside the app's server.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from indexer.search.service import SearchService
from tests.conftest import MEMORISED_TEXTS
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, Server, serve
from tests.e2e.test_workbench import settle, shoot
from tests.ui.archive import COLLECTION, Archive
from ui.viewer.payload import page_hits

pytestmark = pytest.mark.slow

VIEWER_FRAME = 'iframe[title="ui.viewer.component.page_viewer"]'
QUERY = "carta"  # the second line of every page


def expected_boxes(archive: Archive, query: str, page_id: int) -> list[Any]:
    """The boxes the page should show: the search service's hits on that page."""
    repository = archive.repository()
    try:
        result = SearchService(repository, archive.storage.home).search(query, limit=200)
        return page_hits(result.hits, page_id)
    finally:
        repository.database.close()


def folio(archive: Archive, name: str) -> tuple[int, list[Any]]:
    """A page's id and its stored lines."""
    repository = archive.repository()
    try:
        page = next(p for p in repository.pages(COLLECTION) if p.source_path.endswith(name))
        return page.id, repository.lines(page.id)
    finally:
        repository.database.close()


def open_viewer(page: Any, url: str) -> Any:
    """Opens an address with a page on it; returns the viewer's frame once its image shows."""
    from playwright.sync_api import expect

    page.goto(url)
    frame = page.frame_locator(VIEWER_FRAME)
    expect(frame.locator('body[data-ready="true"]')).to_be_attached(timeout=FIRST_LOAD_TIMEOUT_MS)
    expect(frame.locator("svg.overlay")).to_be_attached()
    return frame


def click_line(page: Any, frame: Any, line_id: int) -> None:
    """Clicks the middle of a line's outline on the picture."""
    outline = frame.locator(f'polygon.line[data-line-id="{line_id}"]')
    box = outline.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 5
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_every_hit_of_the_search_is_boxed_on_the_page(
    server: Server, page: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    page_id, lines = folio(server.archive, "folio_1.png")
    chosen = lines[1]
    boxes = expected_boxes(server.archive, QUERY, page_id)
    assert boxes, "the search finds the query on the page"
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    query = urlencode({"page_id": page_id, "line_id": chosen.id, "q": QUERY})
    frame = open_viewer(page, f"{server.url}/page?{query}")

    # every line outlined, every hit boxed where the search says, the chosen line distinct
    expect(frame.locator("polygon.line")).to_have_count(len(lines))
    hits = frame.locator("rect.hit")
    expect(hits).to_have_count(len(boxes))
    drawn = [
        (int(hits.nth(i).get_attribute("data-line-id") or 0), _rect(hits.nth(i)))
        for i in range(len(boxes))
    ]
    assert sorted(drawn) == sorted((b.line_id, _grown(b.box)) for b in boxes)
    selected = frame.locator("polygon.line.selected")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-line-id", str(chosen.id))
    on_chosen = sum(1 for b in boxes if b.line_id == chosen.id)
    expect(frame.locator("rect.hit.selected")).to_have_count(on_chosen)
    # each hit box is drawn over the picture, inside the viewer
    viewer = frame.locator("#osd").bounding_box()
    first = hits.first.bounding_box()
    assert viewer is not None and first is not None and first["width"] > 0
    assert viewer["x"] <= first["x"] <= viewer["x"] + viewer["width"]

    # the page's text beside it: one entry per line, the found word marked
    entries = frame.locator("#text-lines li")
    expect(entries).to_have_count(len(lines))
    expect(entries.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    expect(entries.nth(1).locator("span.hit-word")).to_have_text([QUERY])
    expect(page.get_by_text(f"Hits of «{QUERY}» on this page")).to_be_visible()
    shoot(page, screenshots, "30-page-viewer.png")

    # the wheel zooms in, around the pointer, and the boxes follow the picture
    before = float(frame.locator("body").get_attribute("data-zoom") or 0)
    page.mouse.move(viewer["x"] + viewer["width"] / 2, viewer["y"] + viewer["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, -300)
    expect(frame.locator("body")).not_to_have_attribute("data-zoom", f"{before:.3f}")
    page.wait_for_timeout(1500)  # the zoom's animation
    zoomed = float(frame.locator("body").get_attribute("data-zoom") or 0)
    assert zoomed > before * 1.5
    grown = hits.first.bounding_box()
    assert grown is not None and grown["width"] > first["width"] * 1.5

    # nothing from outside the app's own server
    own = urlparse(server.url).netloc
    outside = [u for u in requests if urlparse(u).scheme in ("http", "https")]
    outside = [u for u in outside if urlparse(u).netloc != own]
    assert not outside


def test_a_click_on_a_line_opens_it_for_correction(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page_id, lines = folio(server.archive, "folio_1.png")
    target = lines[2]
    assert target.line.text == MEMORISED_TEXTS[2] == "amen"
    query = urlencode({"page_id": page_id, "line_id": lines[0].id, "q": QUERY})
    frame = open_viewer(page, f"{server.url}/page?{query}")
    settle(page)
    click_line(page, frame, target.id)

    expect(page.get_by_role("heading", name="Correct a line")).to_be_visible()
    expect(page.get_by_role("textbox", name="Text of the line")).to_have_value(target.line.text)
    params = parse_qs(urlparse(page.url).query)
    assert params["line_id"] == [str(target.id)] and params["page_id"] == [str(page_id)]
    assert params["q"] == [QUERY]  # the way back to the page keeps its hits


def test_a_click_in_the_text_panel_opens_its_line(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page_id, lines = folio(server.archive, "folio_1.png")
    frame = open_viewer(page, f"{server.url}/page?page_id={page_id}")
    expect(frame.locator("rect.hit")).to_have_count(0)  # no search, nothing boxed
    settle(page)
    frame.locator("#text-lines li").nth(1).click()
    expect(page.get_by_role("heading", name="Correct a line")).to_be_visible()
    expect(page.get_by_role("textbox", name="Text of the line")).to_have_value(lines[1].line.text)


def test_read_only_a_click_chooses_the_line(
    archive: Archive, chromium: Path, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page_id, lines = folio(archive, "folio_1.png")
    with serve(archive, tmp_path / "read-only.log", "--read-only") as read_only:
        frame = open_viewer(page, f"{read_only.url}/page?page_id={page_id}&line_id={lines[0].id}")
        expect(frame.locator("polygon.line.selected")).to_have_attribute(
            "data-line-id", str(lines[0].id)
        )
        settle(page)
        click_line(page, frame, lines[2].id)
        expect(frame.locator("polygon.line.selected")).to_have_attribute(
            "data-line-id", str(lines[2].id)
        )
        expect(page.get_by_role("heading", name="Correct a line")).to_have_count(0)
        transcript = page.get_by_role("paragraph").filter(has_text=re.compile(r"^amen$"))
        expect(transcript).to_be_visible()  # the chosen line's details below
        assert parse_qs(urlparse(page.url).query)["line_id"] == [str(lines[2].id)]


def _rect(locator: Any) -> tuple[int, int, int, int]:
    x, y = int(locator.get_attribute("x")), int(locator.get_attribute("y"))
    width, height = int(locator.get_attribute("width")), int(locator.get_attribute("height"))
    return (x, y, x + width, y + height)


def _grown(box: tuple[int, int, int, int], pixels: int = 2) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return (x0 - pixels, y0 - pixels, x1 + pixels, y1 + pixels)
