"""Search: a query, a mode and filters; the hits as cards with the line cut from its page."""

from __future__ import annotations

import streamlit as st

from indexer.errors import UnknownCollectionError
from indexer.search.service import MODES, QuerySyntaxError, SearchResult, SearchTimeoutError
from ui import components, services, state
from ui.components import EXPORT_LIMIT, HITS_PER_PAGE
from ui.downloads import hits_csv, hits_json
from ui.text import escape_markdown

ALL = ""  # the collection filter's "every collection" choice (no docstring: magic prints it)

config = services.settings()
t = components.translator()
repository = services.repository(config)
st.title(t("search.title"))

previous = st.session_state.get(state.SEARCH_REQUEST) or state.SearchRequest("")
collections = [ALL, *repository.collections()]
with st.form("search.form", border=False):
    query_column, mode_column = st.columns([5, 2], vertical_alignment="bottom")
    query = query_column.text_input(
        t("search.query"),
        value=previous.query,
        placeholder=t("search.placeholder"),
        key="search.query",
    )
    mode = mode_column.selectbox(
        t("search.mode"),
        MODES,
        index=MODES.index(previous.mode),
        format_func=lambda m: t(f"search.mode.{m}"),
        help=t("search.mode_help"),
        key="search.mode",
    )
    collection_column, confidence_column = st.columns(2)
    collection = collection_column.selectbox(
        t("common.collection"),
        collections,
        index=collections.index(previous.collection) if previous.collection in collections else 0,
        format_func=lambda c: c or t("search.all_collections"),
        key="search.collection",
    )
    min_confidence = confidence_column.slider(
        t("search.min_confidence"),
        0.0,
        1.0,
        value=previous.min_confidence or 0.0,
        step=0.05,
        help=t("search.min_confidence_help"),
        key="search.min_confidence",
    )
    submitted = st.form_submit_button(
        t("search.submit"), type="primary", icon=":material/search:", key="search.submit"
    )

if submitted:
    st.session_state[state.SEARCH_REQUEST] = state.SearchRequest(
        query.strip(), mode, collection or None, min_confidence or None
    )
    st.session_state[state.SEARCH_OFFSET] = 0
submitted_request: state.SearchRequest | None = st.session_state.get(state.SEARCH_REQUEST)
if submitted_request is None or not submitted_request.query:
    st.info(t("search.empty"), icon=":material/info:")
    st.stop()
request: state.SearchRequest = submitted_request

offset = int(st.session_state.get(state.SEARCH_OFFSET, 0))
service = services.search_service(config)


def run_search(limit: int, start: int) -> SearchResult:
    """Runs the current request: `limit` hits from the `start`-th."""
    return service.search(
        request.query,
        mode=request.mode,
        limit=limit,
        offset=start,
        collection=request.collection,
        min_confidence=request.min_confidence,
    )


try:
    with st.spinner(t("search.searching")):
        result = run_search(HITS_PER_PAGE, offset)
except QuerySyntaxError as error:
    st.error(t("search.syntax_error", error=escape_markdown(str(error))))
    st.stop()
except SearchTimeoutError:
    st.error(t("search.timeout"))
    st.stop()
except UnknownCollectionError:
    st.error(t("search.unknown_collection"))
    st.stop()

hits = result.hits
has_next = offset + len(hits) < result.total
if not hits:
    st.warning(t("search.no_hits", query=escape_markdown(request.query)))
    st.stop()

summary_column, csv_column, json_column = st.columns([4, 1, 1], vertical_alignment="center")
summary_column.caption(
    t(
        "search.summary",
        first=offset + 1,
        last=offset + len(hits),
        total=result.total,
        seconds=f"{result.elapsed_s:.2f}",
    )
)
csv_column.download_button(
    "CSV",
    lambda: hits_csv(run_search(EXPORT_LIMIT, 0).hits),
    file_name="legajo-hits.csv",
    mime="text/csv",
    icon=":material/download:",
    help=t("search.download_help", limit=EXPORT_LIMIT),
    on_click="ignore",
)
json_column.download_button(
    "JSON",
    lambda: hits_json(run_search(EXPORT_LIMIT, 0).hits),
    file_name="legajo-hits.json",
    mime="application/json",
    icon=":material/download:",
    help=t("search.download_help", limit=EXPORT_LIMIT),
    on_click="ignore",
)

lines_of_page = {page_id: repository.lines(page_id) for page_id in {h.page_id for h in hits}}
for hit in hits:
    lines = lines_of_page[hit.page_id]
    position = next((i for i, s in enumerate(lines) if s.id == hit.line_id), None)
    stored = lines[position] if position is not None else None
    components.hit_card(config, t, hit, stored, (position or 0) + 1)


def move(step: int) -> None:
    """Moves to the previous or next results page."""
    st.session_state[state.SEARCH_OFFSET] = max(0, offset + step * HITS_PER_PAGE)


previous_column, page_column, next_column = st.columns([1, 2, 1], vertical_alignment="center")
previous_column.button(
    t("search.previous"),
    icon=":material/chevron_left:",
    disabled=offset == 0,
    on_click=move,
    args=(-1,),
    width="stretch",
)
page_column.caption(
    t(
        "search.results_page",
        number=offset // HITS_PER_PAGE + 1,
        pages=(result.total + HITS_PER_PAGE - 1) // HITS_PER_PAGE,
    )
)
next_column.button(
    t("search.next"),
    icon=":material/chevron_right:",
    icon_position="right",
    disabled=not has_next,
    on_click=move,
    args=(1,),
    width="stretch",
)
