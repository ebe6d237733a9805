"""The search page as a reading room, through AppTest: the address reproduces a search.

A search writes its view into the address; a new session opened on that address shows the
same hits. Hits come grouped by document with counts, in relevance or document order; facets
filter them; each hit shows its score beside its words' confidence; bad address values are
reported, escaped, and do not break the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.ui.archive import Archive
from tests.ui.conftest import APP, TIMEOUT_S
from tests.ui.test_pages import assert_no_html, hit_lines, search, summary


@pytest.fixture
def opened(archive: Archive) -> Iterator[AppTest]:
    """The app on the archive copy, not run yet: a test sets its address first."""
    test = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    yield test
    st.cache_data.clear()
    st.cache_resource.clear()


def headings(app: AppTest) -> list[str]:
    """The document headings (escaped Markdown, without the heading marks)."""
    return [m.value.removeprefix("##### ") for m in app.markdown if m.value.startswith("#####")]


def open_address(app: AppTest, params: dict[str, str | list[str]]) -> AppTest:
    for name, value in params.items():
        app.query_params[name] = value
    return app.run()


def test_a_search_address_reproduces_the_results(app: AppTest, opened: AppTest) -> None:
    search(app, "amen OR dios")
    assert not app.exception, app.exception
    assert app.query_params["q"] == "amen OR dios"
    link = app.code[-1].value
    assert link.endswith("/?q=amen+OR+dios")
    open_address(opened, dict(app.query_params))
    assert not opened.exception, opened.exception
    assert opened.text_input(key="search.query").value == "amen OR dios"
    assert hit_lines(opened) == hit_lines(app)
    assert summary(opened) == summary(app)
    assert headings(opened) == headings(app)


def test_hits_are_grouped_by_document_with_counts(app: AppTest) -> None:
    search(app, "amen OR dios")
    first, last, total = summary(app)
    found = [re.match(r"folio\\_(\d)\\\.png · hits: (\d+) · pages: 1$", h) for h in headings(app)]
    assert all(found), headings(app)
    assert sum(int(f.group(2)) for f in found if f) == total
    assert len(app.page_link) == last - first + 1
    assert any(c.value.startswith("Hits") for c in app.caption)

    order = next(c for c in app.segmented_control if c.label == "Order")
    order.set_value("document").run()
    assert app.query_params["sort"] == "document"
    assert [h[:11] for h in headings(app)] == sorted(h[:11] for h in headings(app))


def test_a_facet_filters_the_hits_and_goes_into_the_address(app: AppTest) -> None:
    search(app, "amen OR dios")
    _, _, total = summary(app)
    band = next(m for m in app.multiselect if m.label == "Word confidence")
    counts = {option: int(re.search(r"\((\d+)\)$", option).group(1)) for option in band.options}
    assert sum(counts.values()) == total
    chosen = next(iter(band.options))
    band.select(chosen).run()
    assert not app.exception, app.exception
    assert summary(app)[2] == counts[chosen]
    assert "band" in app.query_params


def test_each_hit_shows_its_score_beside_its_word_confidence(app: AppTest) -> None:
    search(app, "quantos")
    captions = [c.value for c in app.main.caption if " · score " in c.value]
    assert len(captions) == 2
    for caption in captions:
        assert re.search(r"score \d\.\d{3} · word confidence quantos \d+ %$", caption), caption
    help_texts = [m.value for m in app.markdown if "probability that the line holds" in m.value]
    assert help_texts  # the score's meaning in this mode (auto), under its expander


def test_an_address_picks_out_a_hit(app: AppTest, opened: AppTest) -> None:
    search(app, "amen OR dios")
    line_id = int(re.search(r"line_id=(\d+)", hit_lines(app)[-1]).group(1))
    open_address(opened, {"q": "amen OR dios", "hit": str(line_id)})
    assert not opened.exception, opened.exception
    assert any("Selected hit" in m.value for m in opened.markdown)
    assert opened.query_params["hit"] == str(line_id)


def test_bad_address_values_are_reported_escaped(opened: AppTest) -> None:
    open_address(
        opened,
        {"q": "amen", "mode": "<b>x</b>", "results_page": "zero", "collection": "<i>nada</i>"},
    )
    assert not opened.exception, opened.exception
    warnings = [w.value for w in opened.warning]
    assert len(warnings) == 3, warnings
    assert any(r"\<b\>x\<\/b\>" in w for w in warnings)
    assert_no_html(opened)
    assert summary(opened)[0] == 1  # the search still runs, with the defaults
    assert opened.query_params == {"q": "amen"}  # and the address is made sound again
