"""Every page of the workbench through Streamlit's AppTest, on a real indexed archive.

Search shows hits; a correction saves a row and the next search finds it; a conflicting save
shows both texts and loses neither; read-only refuses edits on the server; HTML in a
transcript stays text; review, page view, collections and the language switch work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button, Node

from indexer.store.repository import Repository, StoredLine
from tests.conftest import MEMORISED_TEXTS
from tests.ui.archive import COLLECTION, Archive
from ui import state
from ui.config import READ_ONLY_VARIABLE
from ui.navigation import COLLECTIONS, CORRECT, LINE_ID, PAGE, PAGE_ID, REVIEW, SEARCH

HOSTILE = '<b>negrita</b> <script>alert("x")</script> [enlace](javascript:alert(1)) **fuerte**'


@pytest.fixture
def repository(archive: Archive) -> Iterator[Repository]:
    repository = archive.repository()
    yield repository
    repository.database.close()


def line_reading(repository: Repository, text: str, page_index: int = 0) -> StoredLine:
    """The line reading `text` on the `page_index`-th page that has one."""
    found = [
        stored
        for page in repository.pages(COLLECTION)
        if page.status == "indexed"
        for stored in repository.lines(page.id)
        if stored.line.text == text
    ]
    return found[page_index]


def button(app: AppTest | Node, label: str) -> Button:
    matches = [b for b in app.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in app.button]}"
    return matches[0]


def search(app: AppTest, query: str) -> AppTest:
    app.switch_page(SEARCH).run()
    app.text_input(key="search.query").input(query)
    return app.button(key="search.submit").click().run()


def open_line(app: AppTest, page: str, stored: StoredLine) -> AppTest:
    app.query_params[PAGE_ID] = str(stored.page_id)
    app.query_params[LINE_ID] = str(stored.id)
    return app.switch_page(page).run()


def hit_lines(app: AppTest) -> list[str]:
    """The query parameters of the hits' "open the page" links."""
    return [link.proto.query_string for link in app.page_link]


def test_search_shows_hits_with_image_transcript_and_link(app: AppTest) -> None:
    assert not app.exception
    search(app, "quantos")
    assert not app.exception, app.exception
    transcripts = [m.value for m in app.markdown if "quantos" in m.value]
    assert transcripts == [MEMORISED_TEXTS[1]] * 2  # folio_1 and folio_2
    assert len(app.get("image")) == 2  # one line image per hit
    assert len(app.get("page_link")) == 2
    assert any("Hits 1–2 of 2" in c.value for c in app.caption)
    assert [d.label for d in app.download_button] == ["CSV", "JSON"]


def test_search_without_hits_and_with_a_bad_query(app: AppTest) -> None:
    search(app, "zzzzqqq")
    assert any("No hits" in w.value for w in app.warning)
    search(app, '"unclosed')
    assert not app.exception
    assert app.error or app.warning


def test_a_correction_is_saved_with_its_editor_and_found_by_the_next_search(
    app: AppTest, repository: Repository
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    open_line(app, CORRECT, stored)
    assert not app.exception, app.exception
    app.text_input(key=f"correct.text.{stored.id}.1").input("sepan quantas esta carta")
    button(app, "Save correction").click().run()
    assert any("type your name" in e.value.lower() for e in app.error)
    assert repository.corrections(stored.id) == []

    app.sidebar.text_input(key=state.EDITOR).input("Ana").run()
    app.text_input(key=f"correct.text.{stored.id}.1").input("sepan quantas esta carta")
    button(app, "Save correction").click().run()
    assert any("version 2" in s.value for s in app.success)
    (row,) = repository.corrections(stored.id)
    assert (row.old_text, row.new_text, row.editor, row.version) == (
        MEMORISED_TEXTS[1],
        "sepan quantas esta carta",
        "Ana",
        2,
    )
    assert [c.value for c in app.code][:2] == ["sepan quantas esta carta", MEMORISED_TEXTS[1]]

    search(app, "quantas")
    assert [m.value for m in app.markdown if "quantas" in m.value] == ["sepan quantas esta carta"]
    assert f"{LINE_ID}={stored.id}" in hit_lines(app)[0]


def test_history_restores_an_earlier_version(app: AppTest, repository: Repository) -> None:
    stored = line_reading(repository, "amen")
    repository.correct_line(stored.id, "amén", "Bea", 1)
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    open_line(app, CORRECT, stored)
    app.button(key=f"correct.restore.{stored.id}.1").click().run()
    assert not app.exception, app.exception
    history = repository.corrections(stored.id)
    assert [(c.new_text, c.editor, c.version) for c in history] == [
        ("amén", "Bea", 2),
        ("amen", "Ana", 3),
    ]


def test_history_shows_who_confirmed_a_line(app: AppTest, repository: Repository) -> None:
    stored = line_reading(repository, "amen")
    repository.confirm_line(stored.id, "Bea", 1)
    open_line(app, CORRECT, stored)
    assert not app.exception, app.exception
    assert any(c.value.startswith("confirmed by Bea · ") for c in app.caption)


def test_page_view_shows_the_stored_words_of_a_corrected_line(
    app: AppTest, repository: Repository
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    repository.correct_line(stored.id, "sepan quantas", "Bea", 1)
    open_line(app, PAGE, stored)
    assert not app.exception, app.exception
    words = app.dataframe[0].value
    assert list(words.iloc[:, 0]) == ["sepan", "quantas"]
    assert list(words.iloc[:, 1]) == [1.0, 1.0]


def test_a_conflicting_save_shows_both_versions_and_loses_neither(
    app: AppTest, repository: Repository
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[0])
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    open_line(app, CORRECT, stored)
    app.text_input(key=f"correct.text.{stored.id}.1").input("en el nonbre de Dios")
    repository.correct_line(stored.id, "en el nombre de dios", "Bea", 1)  # meanwhile
    button(app, "Save correction").click().run()
    assert not app.exception, app.exception

    assert any("Someone saved this line" in w.value for w in app.warning)
    codes = [c.value for c in app.code]
    assert codes[:2] == ["en el nonbre de Dios", "en el nombre de dios"]  # mine, theirs
    assert any("Bea" in m.value and "version 2" in m.value for m in app.markdown)
    assert [c.editor for c in repository.corrections(stored.id)] == ["Bea"]

    merged_key = f"conflict.text.{stored.id}.2"
    assert app.text_input(key=merged_key).value == "en el nonbre de Dios"
    app.text_input(key=merged_key).input("en el nombre de Dios")
    button(app, "Save this text").click().run()
    history = repository.corrections(stored.id)
    assert [(c.new_text, c.editor) for c in history] == [
        ("en el nombre de dios", "Bea"),
        ("en el nombre de Dios", "Ana"),
    ]
    assert not app.warning


def test_keeping_their_version_drops_mine(app: AppTest, repository: Repository) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[0])
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    open_line(app, CORRECT, stored)
    app.text_input(key=f"correct.text.{stored.id}.1").input("mío")
    repository.correct_line(stored.id, "suyo", "Bea", 1)
    button(app, "Save correction").click().run()
    button(app, "Keep their version").click().run()
    assert not app.warning
    assert app.text_input(key=f"correct.text.{stored.id}.2").value == "suyo"
    assert [c.new_text for c in repository.corrections(stored.id)] == ["suyo"]


def test_read_only_shows_no_editing_control(
    app: AppTest, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(READ_ONLY_VARIABLE, "1")
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    open_line(app, PAGE, stored)
    assert not app.exception, app.exception
    assert any("Read-only" in i.value for i in app.sidebar.info)
    assert not app.sidebar.text_input
    assert "Correct this line" not in [b.label for b in app.button]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(CORRECT).run()  # the editing pages are not registered at all


def test_read_only_server_refuses_a_form_drawn_before(
    app: AppTest, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    open_line(app, CORRECT, stored)
    app.text_input(key=f"correct.text.{stored.id}.1").input("sepan quantas")
    monkeypatch.setenv(READ_ONLY_VARIABLE, "1")  # the server restarts read-only
    button(app, "Save correction").click().run()
    assert any("read-only" in e.value for e in app.error)
    assert repository.corrections(stored.id) == []
    assert repository.lines(stored.page_id)[1].line.text == MEMORISED_TEXTS[1]


def assert_no_html(app: AppTest) -> None:
    """No Markdown may render HTML, and none holds an unescaped ``<``."""
    for markdown in app.markdown:
        assert not markdown.proto.allow_html
        assert re.search(r"(?<!\\)<", markdown.value) is None, markdown.value


def test_html_in_a_transcript_stays_text(app: AppTest, repository: Repository) -> None:
    stored = line_reading(repository, "amen")
    repository.correct_line(stored.id, HOSTILE, "Eve", 1)
    escaped = (
        r"\<b\>negrita\<\/b\> \<script\>alert\(\"x\"\)\<\/script\> "
        r"\[enlace\]\(javascript\:alert\(1\)\) \*\*fuerte\*\*"
    )
    for page in (PAGE, CORRECT):
        open_line(app, page, stored)
        assert not app.exception, app.exception
        assert escaped in [m.value for m in app.markdown]
        assert_no_html(app)
    assert HOSTILE in [c.value for c in app.code]  # the history shows it as code
    search(app, "negrita")
    assert escaped in [m.value for m in app.markdown]
    assert_no_html(app)
    assert not app.get("html")


def test_page_view_shows_the_chosen_line_words_and_readings(
    app: AppTest, repository: Repository
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    open_line(app, PAGE, stored)
    assert not app.exception, app.exception
    assert app.title[0].value == "folio_1.png"
    assert app.selectbox(key=f"page.line.{stored.page_id}").value == 1  # the second line
    words, readings = (d.value for d in app.dataframe)
    assert list(words.iloc[:, 0]) == MEMORISED_TEXTS[1].split()
    assert readings.iloc[0, 0] == MEMORISED_TEXTS[1]
    assert len(app.get("image")) == 1  # the line; the page is in the viewer
    (viewer,) = app.get("component_instance")
    data = json.loads(viewer.proto.json_args)["data"]
    assert [line["id"] for line in data["lines"]] == [
        s.id for s in repository.lines(stored.page_id)
    ]
    assert data["selected"] == stored.id
    assert data["image"].startswith("data:image/jpeg;base64,")
    button(app, "Correct this line").click().run()
    assert app.title[0].value == "Correct a line"


def test_a_page_can_be_chosen_without_a_link(app: AppTest) -> None:
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    assert app.selectbox(key="page.picker.collection").value == COLLECTION
    assert len(app.get("component_instance")) == 1
    assert len(app.get("image")) == 1


def test_a_link_with_a_search_boxes_its_hits_on_the_page(
    app: AppTest, repository: Repository
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    app.query_params["q"] = "quantos"
    open_line(app, PAGE, stored)
    assert not app.exception, app.exception
    (viewer,) = app.get("component_instance")
    hits = json.loads(viewer.proto.json_args)["data"]["hits"]
    word = stored.line.words[1]  # "quantos"
    assert hits == [{"line_id": stored.id, "box": list(word.bbox)}]
    assert any("Hits of «quantos» on this page: 1 lines" in m.value for m in app.markdown)


def test_without_the_bundled_viewer_the_page_is_a_still_picture(
    app: AppTest, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.viewer.component.viewer_available", lambda: False)
    open_line(app, PAGE, line_reading(repository, MEMORISED_TEXTS[1]))
    assert not app.exception, app.exception
    assert not app.get("component_instance")
    assert len(app.get("image")) == 2  # the page with its outlines, and the line
    assert any("python -m ui.viewer.bundle" in i.value for i in app.info)


def test_an_unknown_page_is_an_error_not_a_crash(app: AppTest) -> None:
    app.query_params[PAGE_ID] = "999"
    app.switch_page(PAGE).run()
    assert not app.exception
    assert any("no page 999" in e.value for e in app.error)


def test_review_goes_through_the_doubtful_lines(app: AppTest, repository: Repository) -> None:
    app.sidebar.text_input(key=state.EDITOR).input("Ana")
    app.switch_page(REVIEW).run()
    assert not app.exception, app.exception
    assert "Line 1 of 6" in app.get("progress")[0].proto.text
    session = app.session_state[state.REVIEW]
    first = session.items[0]
    app.text_input(key="review.text").input("corregida")
    button(app, "Save and next").click().run()
    assert "reviewed 1 · corrected 1" in app.get("progress")[0].proto.text
    assert [c.new_text for c in repository.corrections(first.line_id)] == ["corregida"]
    button(app, "Save and next").click().run()  # unchanged: confirmed
    assert "Line 3 of 6 · reviewed 2 · corrected 1" in app.get("progress")[0].proto.text
    second = session.items[1]
    (confirmation,) = repository.corrections(second.line_id)
    assert confirmation.confirmed and confirmation.editor == "Ana"
    button(app, "Skip").click().run()
    assert "Line 4 of 6 · reviewed 2" in app.get("progress")[0].proto.text
    button(app, "Previous").click().run()
    assert "Line 3 of 6" in app.get("progress")[0].proto.text


def test_collections_show_counts_failures_and_runs(app: AppTest) -> None:
    app.switch_page(COLLECTIONS).run()
    assert not app.exception, app.exception
    stats = app.dataframe[0].value
    assert list(stats.iloc[0])[:4] == [COLLECTION, 3, 6, 20]
    frames = [d.value for d in app.dataframe]
    failures = frames[2]
    assert failures.iloc[0, 0].endswith("roto.png")
    assert failures.iloc[0, 2] == "ImageLoadError"
    runs = frames[3]
    assert "memorised" in runs.iloc[0, 1]
    labels = [d.label for d in app.download_button]
    assert labels == ["PAGE XML", "ALTO", "Text", "JSON"] + [
        f"{f} (ZIP)" for f in ("PAGE XML", "ALTO", "Text", "JSON")
    ]


def test_the_interface_speaks_spanish(app: AppTest) -> None:
    app.sidebar.segmented_control[0].set_value("es").run()
    assert app.title[0].value == "Buscar en el archivo"
    search(app, "amen")
    assert any("Resultados 1–" in c.value for c in app.caption)
    app.switch_page(COLLECTIONS).run()
    assert app.title[0].value == "Colecciones"


def summary(app: AppTest) -> tuple[int, int, int]:
    """First, last and total hits from the summary caption."""
    for caption in app.caption:
        found = re.match(r"Hits (\d+)–(\d+) of (\d+)", caption.value)
        if found:
            first, last, total = (int(g) for g in found.groups())
            return first, last, total
    raise AssertionError("no summary")


def test_results_come_in_pages(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ui.components.HITS_PER_PAGE", 3)
    search(app, "amen OR dios")  # two lines of each, and more in the n-best readings
    first, last, total = summary(app)
    assert (first, last) == (1, 3) and total >= 4
    assert len(app.page_link) == 3
    assert button(app, "Previous").disabled
    button(app, "Next").click().run()
    assert summary(app) == (4, min(6, total), total)
    assert any("Results page 2 of" in c.value for c in app.caption)
    button(app, "Previous").click().run()
    assert summary(app) == (1, 3, total)
