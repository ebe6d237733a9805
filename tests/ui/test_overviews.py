"""The collection charts and the correcting aids through AppTest, on the indexed archive.

The collections page draws its charts (and one more once a line is corrected); the pages
chart's click opens a page; the correct page shows the neighbouring lines, a palette of the
collection's unusual characters, a refreshed select box after a save and a diff per version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from indexer.store.repository import Repository, StoredLine
from tests.conftest import MEMORISED_TEXTS
from tests.ui.archive import COLLECTION, Archive
from ui import state
from ui.navigation import COLLECTIONS, CORRECT, LINE_ID, PAGE_ID
from ui.overviews import OPEN_PAGE

Q_TILDE = "q\u0303"
RARE = "\ua757"  # ꝗ, not among the palette's common signs


@pytest.fixture
def repository(archive: Archive) -> Iterator[Repository]:
    repository = archive.repository()
    yield repository
    repository.database.close()


def first_page_lines(repository: Repository) -> list[StoredLine]:
    page = next(p for p in repository.pages(COLLECTION) if p.source_path.endswith("folio_1.png"))
    return repository.lines(page.id)


def open_line(app: AppTest, stored: StoredLine) -> AppTest:
    app.query_params[PAGE_ID] = str(stored.page_id)
    app.query_params[LINE_ID] = str(stored.id)
    return app.switch_page(CORRECT).run()


def charts(app: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]


def palette_data(app: AppTest) -> dict:
    (frame,) = app.get("iframe")
    found = re.search(r"const DATA = (.*);\n", frame.proto.srcdoc)
    assert found
    return json.loads(found.group(1))


def test_collections_chart_confidences_reviews_and_failures(
    app: AppTest, repository: Repository
) -> None:
    app.switch_page(COLLECTIONS).run()
    assert not app.exception, app.exception
    assert [t.label for t in app.tabs][:2] == ["Overview", "Pages"]
    assert len(charts(app)) == 3  # histogram, pages, failures: no review yet
    assert any("0 of 6 lines" in c.value for c in app.caption)
    assert any("No line corrected" in c.value for c in app.caption)

    stored = first_page_lines(repository)[0]
    repository.correct_line(stored.id, "en el nombre de dios", "Ana", 1)
    app.run()
    specs = charts(app)
    assert len(specs) == 4
    assert any("1 of 6 lines" in c.value for c in app.caption)
    assert "layer" in specs[2]  # the review: saves per day and lines verified so far
    pages_spec = specs[1]
    assert pages_spec["params"][0]["name"] == "page"


def test_a_click_on_a_page_bar_opens_the_page(app: AppTest, repository: Repository) -> None:
    stored = first_page_lines(repository)[0]
    app.switch_page(COLLECTIONS).run()
    app.session_state[OPEN_PAGE] = stored.page_id  # what the chart's selection callback leaves
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "folio_1.png"  # the page view of that page
    app.switch_page(COLLECTIONS).run()
    assert app.title[0].value == "Collections"  # the click is not replayed on coming back


def test_the_line_is_shown_between_its_neighbours(app: AppTest, repository: Repository) -> None:
    first, middle, _ = first_page_lines(repository)
    open_line(app, middle)
    assert not app.exception, app.exception
    captions = [c.value for c in app.caption]
    assert "Previous line (1)" in captions and "Next line (3)" in captions
    assert "en el nonbre de dios" in captions and "amen" in captions
    app.switch_page(COLLECTIONS).run()  # leaving the page drops its select box's choice
    open_line(app, first)
    captions = [c.value for c in app.caption]
    assert not any(c.startswith("Previous line") for c in captions)
    assert "Next line (2)" in captions


def test_the_palette_offers_the_collection_characters(app: AppTest, repository: Repository) -> None:
    first, middle, _ = first_page_lines(repository)
    repository.correct_line(first.id, f"en el nonbre {RARE} {Q_TILDE}e dios", "Bea", 1)
    open_line(app, middle)
    assert not app.exception, app.exception
    data = palette_data(app)
    inserts = [b["insert"] for b in data["buttons"]]
    assert inserts[:2] == sorted([RARE, Q_TILDE])  # found once each
    assert "\u0303" in inserts and "\u017f" in inserts  # its tilde alone, a common sign
    assert data["labels"][0] == "Text of the line"


def test_a_save_refreshes_the_select_box_and_the_history_shows_the_diff(
    app: AppTest, repository: Repository
) -> None:
    _, middle, _ = first_page_lines(repository)
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    open_line(app, middle)
    (choice,) = app.selectbox
    assert choice.format_func(choice.value) == f"2 · {MEMORISED_TEXTS[1]}"
    app.text_input(key=f"correct.text.{middle.id}.1").input(f"sepan {Q_TILDE}tos esta carta")
    app.button(key=f"FormSubmitter:correct.form.{middle.id}-Save correction").click().run()
    assert not app.exception, app.exception
    assert any("version 2" in s.value for s in app.success)
    (choice,) = app.selectbox
    assert choice.format_func(choice.value) == f"2 · sepan {Q_TILDE}tos esta carta"
    assert (
        app.text_input(key=f"correct.text.{middle.id}.2").value == f"sepan {Q_TILDE}tos esta carta"
    )
    changes = [c.value for c in app.caption if c.value.startswith("Changes from v1")]
    assert len(changes) == 1
    assert (
        ":red-background[~~quan~~]" in changes[0] and f":green-background[{Q_TILDE}]" in changes[0]
    )
    assert palette_data(app)["buttons"][0]["insert"] == Q_TILDE  # counted again after the save
