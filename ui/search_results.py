"""The search page's results: document and page headings, hit cards, the chart, score help.

Transcripts and file names reach the browser as escaped Markdown or as plain-text widget
labels (`ui.text`), never as HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath

import streamlit as st

from indexer.store.repository import StoredLine
from ui.components import line_image, page_title, percent, transcript
from ui.config import UiSettings
from ui.hit_groups import DocumentGroup, PageGroup, PlacedHit, hits_per_document
from ui.i18n import Translator
from ui.navigation import PAGE, line_link
from ui.services import repository, search_service
from ui.text import escape_markdown

logger = logging.getLogger(__name__)

CHART_DOCUMENTS = 20
"""Most documents in the hits-per-document chart."""


@st.cache_data(show_spinner=False, ttl=120, max_entries=8)
def _page_collections(database_url: str, read_only: bool, _config: UiSettings) -> dict[int, str]:
    return {page.id: page.collection for page in repository(_config).pages()}


def page_collections(config: UiSettings, page_ids: Sequence[int]) -> dict[int, str]:
    """Each stored page's collection, by page id (cached; read again for a page it lacks)."""
    storage = config.storage
    known = _page_collections(storage.database_url, config.read_only, config)
    if any(page_id not in known for page_id in page_ids):  # indexed since it was cached
        _page_collections.clear()
        known = _page_collections(storage.database_url, config.read_only, config)
    return known


def warm_up(config: UiSettings) -> None:
    """Loads what the first search needs: the search service, its indexes, the chart library.

    A failure here is only logged: the search itself reports it to the reader.
    """
    import altair  # noqa: F401

    from htr.errors import LegajoError

    try:
        search_service(config).prepare()
    except (LegajoError, OSError) as error:
        logger.warning("could not load the search indexes ahead of a search: %s", error)


def score_help(t: Translator, mode: str) -> str:
    """What the score means in a search mode, and how it differs from a word's confidence."""
    return t(f"search.score_help.{mode}") + "\n\n" + t("search.score_help.common")


def word_confidences(placed: PlacedHit) -> str:
    """The matched words with their confidences (escaped Markdown), or a dash."""
    words = [
        f"{escape_markdown(w.text)} {percent(w.confidence)}"
        for w in placed.hit.words
        if w.confidence is not None
    ]
    return ", ".join(words) if words else "–"


def document_heading(t: Translator, group: DocumentGroup, continued: bool) -> None:
    """A document's heading: its file name, folder and counts."""
    name = escape_markdown(PurePath(group.document).name)
    if continued:
        st.markdown(f"##### {t('search.document_continued', document=name)}")
        return
    st.markdown(
        "##### "
        + t("search.document_header", document=name, hits=group.hit_count, pages=len(group.pages))
    )
    st.caption(escape_markdown(group.folder))


def page_heading(t: Translator, page: PageGroup) -> None:
    """A page's heading inside a document with several pages."""
    st.caption(t("search.page_header", frame=page.frame + 1, hits=len(page.hits)))


def hit_card(
    config: UiSettings,
    t: Translator,
    placed: PlacedHit,
    stored: StoredLine | None,
    position: int,
    *,
    mode: str,
    selected: bool,
    on_select: Callable[[int], None],
    search: Mapping[str, str] | None = None,
) -> None:
    """One hit: the line image, transcript, score beside its words' confidence, and links.

    Args:
        config: The app's settings.
        t: The translator.
        placed: The hit.
        stored: The hit's line as stored now; None if it is gone since the search.
        position: The line's number on its page, from 1.
        mode: The search mode (for the score's explanation).
        selected: Whether this is the hit the address picks out.
        on_select: Called with the line id when the user picks this hit out.
        search: The search's query parameters (`ui.search_url.request_params`): the page
            opened from the hit boxes every hit of the search on it.
    """
    hit = placed.hit
    with st.container(border=True, key=f"search-hit-{hit.line_id}"):
        if selected:
            st.badge(t("search.selected"), icon=":material/push_pin:", color="orange")
        if stored is None:
            st.caption(t("search.line_gone"))
            return
        matched = [w.bbox for w in hit.words if w.bbox is not None]
        line_image(config, stored, t, matched, box=hit.bbox)
        text_column, link_column = st.columns([5, 2], vertical_alignment="center")
        with text_column:
            if hit.text == stored.line.text:
                transcript(stored, t)
            else:  # a window of lines (search by meaning), or a line changed since
                st.markdown(escape_markdown(hit.text))
            st.caption(
                t(
                    "search.hit_scores",
                    page=escape_markdown(page_title(hit.page, hit.frame, t)),
                    line=position,
                    score=f"{hit.score:.3f}",
                    confidence=word_confidences(placed),
                ),
                help=score_help(t, mode),
            )
        with link_column:
            st.page_link(
                PAGE,
                label=t("search.open_page"),
                icon=":material/article:",
                query_params=line_link(hit.page_id, hit.line_id) | dict(search or {}),
            )
            st.button(
                t("search.select_hit"),
                icon=":material/link:",
                key=f"search.select.{hit.line_id}",
                on_click=on_select,
                args=(hit.line_id,),
                type="tertiary",
            )


def hits_chart(t: Translator, groups: Sequence[DocumentGroup]) -> None:
    """A bar chart of the hits per document (the first `CHART_DOCUMENTS`, in the groups' order)."""
    import altair as alt  # only once there are hits: keeps the page's first view light
    import pandas as pd

    counts = hits_per_document(groups)
    shown = counts[:CHART_DOCUMENTS]
    names = [PurePath(path).name for path, _ in shown]
    if len(set(names)) < len(names):  # the same file name in two folders
        names = [path for path, _ in shown]
    document, hits = t("search.chart_document"), t("search.chart_hits")
    data = pd.DataFrame(
        {"name": names, "path": [p for p, _ in shown], "hits": [n for _, n in shown]}
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("hits:Q", title=hits, axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("name:N", title=None, sort=names),
            tooltip=[
                alt.Tooltip("path:N", title=document),
                alt.Tooltip("hits:Q", title=hits),
            ],
        )
        .properties(height=alt.Step(24))
    )
    st.altair_chart(chart, width="stretch")
    if len(counts) > len(shown):
        st.caption(t("search.chart_more", shown=len(shown), total=len(counts)))
