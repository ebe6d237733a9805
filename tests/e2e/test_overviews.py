"""The collection charts and the correcting palette in a real headless Chromium.

The collections page's Overview tab draws its charts (Vega-Lite, bundled with Streamlit: no
network), and a click on a page's bar opens that page. On the correct page a click on a
palette button inserts its character at the cursor of the line's field, and Enter saves the
text with it. Screenshots go to tests/e2e/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MEMORISED_TEXTS
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, Server
from tests.e2e.test_workbench import settle, shoot
from tests.ui.archive import COLLECTION

pytestmark = pytest.mark.slow

Q_TILDE = "q\u0303"
INSERT_Q_TILDE = "Insert LATIN SMALL LETTER Q + COMBINING TILDE"
INSERT_MACRON = "Insert COMBINING MACRON"


def test_collection_charts_render(server: Server, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/collections")
    expect(page.get_by_role("heading", name="Collections")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT_MS
    )
    expect(page.get_by_role("tab", name="Overview")).to_have_attribute("aria-selected", "true")
    # confidence histogram, pages by mean confidence, failed files (no review yet)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts).to_have_count(3)
    for index in range(3):
        drawn = charts.nth(index).locator("canvas, svg.marks")
        expect(drawn.first).to_be_visible()
        box = drawn.first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    expect(page.get_by_text("Failed files by reason")).to_be_visible()
    shoot(page, screenshots, "20-overview.png")


def test_a_click_on_a_page_bar_opens_the_page(server: Server, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/collections")
    chart = page.locator('[data-testid="stVegaLiteChart"]').nth(1)
    bars = chart.locator("g.mark-rect path")  # Vega draws SVG: one path per page
    expect(bars).to_have_count(3, timeout=FIRST_LOAD_TIMEOUT_MS)
    settle(page)
    bars.nth(1).click()
    expect(page.get_by_role("heading", name=re.compile(r"^folio_\d\.png"))).to_be_visible()
    assert "/page?" in page.url and "page_id=" in page.url


def test_a_palette_click_inserts_its_character_at_the_cursor(
    server: Server, page: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    repository = server.archive.repository()
    folio = next(p for p in repository.pages(COLLECTION) if p.source_path.endswith("folio_1.png"))
    target = repository.lines(folio.id)[1]
    repository.database.close()
    assert target.line.text == MEMORISED_TEXTS[1]  # "sepan quantos esta carta"

    page.goto(f"{server.url}/correct?page_id={target.page_id}&line_id={target.id}")
    expect(page.get_by_role("heading", name="Correct a line")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT_MS
    )
    editor = page.get_by_role("textbox", name="Your name")
    editor.fill("Ana")
    editor.press("Enter")
    settle(page)
    expect(page.get_by_text("Previous line (1)")).to_be_visible()
    expect(page.get_by_text("Next line (3)")).to_be_visible()
    line = page.get_by_role("textbox", name="Text of the line")
    expect(line).to_have_value(MEMORISED_TEXTS[1])

    line.click()
    line.evaluate("(field) => field.setSelectionRange(6, 10)")  # "quan"
    palette = page.frame_locator('[data-testid="stIFrame"]')
    palette.get_by_role("button", name=INSERT_Q_TILDE).click()
    expect(line).to_have_value(f"sepan {Q_TILDE}tos esta carta")
    expect(line).to_be_focused()  # the cursor is back in the field, after the character
    line.press("End")
    palette.get_by_role("button", name=INSERT_MACRON).click()  # a lone combining mark
    expect(line).to_have_value(f"sepan {Q_TILDE}tos esta carta\u0304")
    shoot(page, screenshots, "21-palette.png")

    line.press("Enter")  # Streamlit took the inserted characters like typed ones
    expect(page.get_by_text("Saved as version 2")).to_be_visible()
    expect(page.get_by_text("Changes from v1")).to_be_visible()
    repository = server.archive.repository()
    (saved,) = repository.corrections(target.id)
    repository.database.close()
    assert saved.new_text == f"sepan {Q_TILDE}tos esta carta\u0304"
    shoot(page, screenshots, "22-saved.png")
