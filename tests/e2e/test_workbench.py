"""The workbench in a real headless Chromium, served by `legajo ui` on an indexed archive.

Search a word, open its page, correct a word, search the corrected word and see the hit; HTML
in a transcript shows as text; the review goes on by keyboard (after Enter the next line's
box has the focus); a read-only server offers no editing. Every step leaves a
screenshot in tests/e2e/screenshots/, and the first-load and search times go to timings.json
there.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MEMORISED_TEXTS
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, Server, serve
from tests.ui.archive import COLLECTION, PAGE_TEXTS, Archive

pytestmark = pytest.mark.slow

CORRECTED = "sepan quantas esta carta"
HOSTILE = '<b>negrita</b> <img src=x onerror="alert(1)"> [enlace](javascript:alert(1))'


def settle(page: Any) -> None:
    """Waits until the app's script run is over and every image on the page has loaded.

    Streamlit marks the run's state on the app root. Not Playwright's ``networkidle``: after
    the search page has put a search in the address (``history.pushState``), an ``st.iframe``
    drawn later (the correction page's palette) kept it from ever firing.
    """
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_function("() => Array.from(document.images).every((image) => image.complete)")


def shoot(page: Any, folder: Path, name: str) -> None:
    settle(page)
    page.screenshot(path=str(folder / name), full_page=True)


def submit_search(page: Any, words: str, timeout_ms: float = STEP_TIMEOUT_MS) -> float:
    """Types a query, presses Enter and returns the seconds until the first hit shows."""
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Words to find")
    box.fill(words)
    started = time.perf_counter()
    box.press("Enter")
    expect(page.get_by_text("Hits 1–")).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_role("link", name="Open the page").first).to_be_visible()
    return time.perf_counter() - started


def test_search_open_correct_and_find_the_correction(
    server: Server, page: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    started = time.perf_counter()
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Search the archive")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT_MS
    )
    expect(page.get_by_role("textbox", name="Words to find")).to_be_editable()
    first_load_s = time.perf_counter() - started
    shoot(page, screenshots, "01-start.png")
    # the editor's name, typed first: the reruns of the search make sure the server has it
    editor = page.get_by_role("textbox", name="Your name")
    editor.fill("Ana")
    editor.press("Enter")

    first_search_s = submit_search(page, "quantos")
    expect(page.get_by_text("Hits 1–2 of 2")).to_be_visible()
    expect(page.get_by_text(MEMORISED_TEXTS[1], exact=True)).to_have_count(2)
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(2)
    shoot(page, screenshots, "02-search.png")

    page.get_by_role("link", name="Open the page").first.click()
    heading = page.get_by_role("heading", name=re.compile(r"^folio_\d\.png$"))
    expect(heading).to_be_visible()
    expect(page.get_by_text("Alternative readings")).to_be_visible()
    assert "page_id=" in page.url and "line_id=" in page.url
    # the page in the viewer with its outlines, the line's image, and two tables (words,
    # readings) drawn
    viewer = page.frame_locator('iframe[title="ui.viewer.component.page_viewer"]')
    expect(viewer.locator('body[data-ready="true"]')).to_be_attached()
    # The two hits of "quantos" read alike; either page may come first.
    expect(viewer.locator("polygon.line")).to_have_count(len(PAGE_TEXTS[heading.inner_text()]))
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(1)
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables).to_have_count(2)
    for index in range(2):
        expect(tables.nth(index).locator("canvas").first).to_be_visible()
    shoot(page, screenshots, "03-page.png")

    page.get_by_role("button", name="Correct this line").click()
    expect(page.get_by_role("heading", name="Correct a line")).to_be_visible()
    line = page.get_by_role("textbox", name="Text of the line")
    expect(line).to_have_value(MEMORISED_TEXTS[1])
    line.fill(CORRECTED)
    shoot(page, screenshots, "04-correct.png")
    line.press("Enter")
    expect(page.get_by_text("Saved as version 2")).to_be_visible()
    shoot(page, screenshots, "05-saved.png")

    page.get_by_role("link", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Search the archive")).to_be_visible()
    corrected_search_s = submit_search(page, "quantas")
    transcripts = page.locator('[data-testid="stMarkdownContainer"] p').filter(
        has_text=re.compile(r"^sepan qua")
    )
    expect(transcripts.first).to_have_text(CORRECTED)  # the best hit is the corrected line
    shoot(page, screenshots, "06-found.png")

    repository = server.archive.repository()
    corrections = [
        c
        for p in repository.pages(COLLECTION)
        for s in repository.lines(p.id)
        for c in repository.corrections(s.id)
    ]
    assert [(c.new_text, c.editor) for c in corrections] == [(CORRECTED, "Ana")]
    (screenshots / "timings.json").write_text(
        json.dumps(
            {
                "first_load_s": round(first_load_s, 3),
                "first_search_s": round(first_search_s, 3),
                "search_after_correction_s": round(corrected_search_s, 3),
            },
            indent=2,
        )
    )


def test_html_in_a_transcript_shows_as_text(server: Server, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    repository = server.archive.repository()
    target = next(
        s
        for p in repository.pages(COLLECTION)
        for s in repository.lines(p.id)
        if s.line.text == "amen"
    )
    repository.correct_line(target.id, HOSTILE, "Eve", target.version)
    dialogs: list[str] = []

    def refuse(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.goto(f"{server.url}/page?page_id={target.page_id}&line_id={target.id}")
    expect(page.get_by_text(HOSTILE, exact=True).first).to_be_visible(timeout=FIRST_LOAD_TIMEOUT_MS)
    markdown = page.locator('[data-testid="stMarkdownContainer"]')
    expect(markdown.locator("b")).to_have_count(0)
    expect(markdown.locator("img")).to_have_count(0)
    expect(markdown.locator('a[href^="javascript"]')).to_have_count(0)
    shoot(page, screenshots, "07-html-as-text.png")
    assert dialogs == []


def test_review_by_keyboard_and_collections(server: Server, page: Any, screenshots: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/review")
    expect(page.get_by_role("heading", name="Review doubtful lines")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT_MS
    )
    editor = page.get_by_role("textbox", name="Your name")  # a confirmation records who
    editor.fill("Bea")
    editor.press("Enter")
    settle(page)
    box = page.get_by_role("textbox", name="Text of the line (Enter saves and goes on)")
    expect(page.get_by_text("Line 1 of")).to_be_visible()
    shoot(page, screenshots, "09-review.png")
    box.press("Enter")  # unchanged: confirmed
    expect(page.get_by_text("reviewed 1 · corrected 0")).to_be_visible()
    repository = server.archive.repository()
    confirmations = [
        c
        for p in repository.pages(COLLECTION)
        for s in repository.lines(p.id)
        for c in repository.corrections(s.id)
        if c.confirmed
    ]
    repository.database.close()
    assert [c.editor for c in confirmations] == ["Bea"]
    expect(page.get_by_text("Line 2 of")).to_be_visible()
    settle(page)
    focused = page.evaluate("document.activeElement?.getAttribute('aria-label') ?? ''")
    (screenshots / "review-focus.txt").write_text(f"focus after Enter: {focused!r}\n")
    expect(box).to_be_focused()  # the next line's text box: the review goes on by keyboard
    page.keyboard.press("Alt+PageDown")  # skip, typing or not (the focus is still in the box)
    expect(page.get_by_text("Line 3 of")).to_be_visible()

    page.get_by_role("link", name="Collections").click()
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    page.get_by_role("tab", name="Failed files").click()
    # the grid draws its cells on a canvas; its accessible copy holds the text
    expect(page.get_by_role("tabpanel").get_by_text("ImageLoadError")).to_have_count(1)
    shoot(page, screenshots, "10-collections.png")


def test_read_only_server_offers_no_editing(
    archive: Archive, chromium: Path, page: Any, screenshots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with serve(archive, tmp_path / "read-only.log", "--read-only", "--language", "es") as server:
        page.goto(f"{server.url}/page")
        expect(page.get_by_text("Solo lectura")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT_MS)
        expect(page.get_by_role("heading", name="folio_1.png")).to_be_visible()
        expect(page.get_by_role("link", name="Corregir")).to_have_count(0)
        expect(page.get_by_role("button", name="Corregir esta línea")).to_have_count(0)
        expect(page.get_by_role("textbox", name="Su nombre")).to_have_count(0)
        shoot(page, screenshots, "08-read-only-es.png")
        page.goto(f"{server.url}/correct")  # not served: the app falls back to the search page
        expect(page.get_by_role("heading", name="Buscar en el archivo")).to_be_visible()
