"""Search: a query, a mode and filters; the hits by document and page, with facets and a chart.

The view (query, mode, filters, order, facets, page of results, picked-out hit) lives in the
address (`ui.search_url`): an address read for the first time replaces the view, and every
run writes the view back, so a copied link reproduces what is on screen.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from indexer.errors import UnknownCollectionError
from indexer.search.service import MODES, QuerySyntaxError, SearchResult, SearchTimeoutError
from ui import components, search_results, services, state
from ui.components import EXPORT_LIMIT, HITS_PER_PAGE
from ui.downloads import hits_csv, hits_json
from ui.hit_groups import (
    BANDS,
    DocumentGroup,
    PageGroup,
    apply_facets,
    facet_counts,
    flatten,
    group_hits,
    place_hits,
)
from ui.search_url import (
    COLLECTION,
    UrlProblem,
    parse_view,
    request_params,
    search_link,
    search_params,
    view_params,
)
from ui.text import escape_markdown

ALL = ""  # the collection filter's "every collection" choice (no docstring: magic prints it)
RESULT_WINDOW = 200  # the best hits fetched, for grouping, facets and the chart
SHOWN_VALUE_CHARS = 80  # a rejected address value is shown cut to this length
SEARCH_PATH = ""  # Streamlit serves the default page at the app's root only, not its url_path
FORM_KEYS = ("search.query", "search.mode", "search.collection", "search.min_confidence")

config = services.settings()
t = components.translator()
repository = services.repository(config)
st.title(t("search.title"))
collections = [ALL, *repository.collections()]


def form_values(request: state.SearchRequest) -> tuple[str, str, str, float]:
    """The search form's widget values for a request."""
    return (request.query, request.mode, request.collection or ALL, request.min_confidence or 0.0)


def replace_view(new: state.SearchView, *, refill_form: bool) -> None:
    """Makes `new` the page's view; the result widgets (and the form, if asked) start from it."""
    st.session_state[state.SEARCH_VIEW] = new
    st.session_state[state.SEARCH_GENERATION] = st.session_state.get(state.SEARCH_GENERATION, 0) + 1
    if refill_form:  # only before the form is drawn
        for key, value in zip(FORM_KEYS, form_values(new.request), strict=True):
            st.session_state[key] = value


# the address: read when it is new (a link opened), else written at the end of the run
address = search_params({name: st.query_params.get_all(name) for name in st.query_params})
locate_selected = False
if address and address != st.session_state.get(state.SEARCH_URL):
    parsed = parse_view(address, MODES)
    problems = list(parsed.problems)
    linked = parsed.view
    if linked is not None and linked.request.collection not in (None, *collections):
        problems.append(UrlProblem(COLLECTION, linked.request.collection or ""))
        linked = replace(linked, request=replace(linked.request, collection=None))
    for problem in problems:
        value = problem.value[:SHOWN_VALUE_CHARS]
        st.warning(
            t("search.url_invalid", name=problem.name, value=escape_markdown(value)),
            icon=":material/link_off:",
        )
    if linked is not None:
        replace_view(linked, refill_form=True)
        locate_selected = linked.selected is not None and not parsed.results_page_given
    st.session_state[state.SEARCH_URL] = address

view: state.SearchView | None = st.session_state.get(state.SEARCH_VIEW)
previous = view.request if view else state.SearchRequest("")
# a widget's value is dropped when its page is left: the form starts again from the view
for form_key, form_value in zip(FORM_KEYS, form_values(previous), strict=True):
    st.session_state.setdefault(form_key, form_value)
if st.session_state["search.collection"] not in collections:
    st.session_state["search.collection"] = ALL

with st.form("search.form", border=False):
    query_column, mode_column = st.columns([5, 2], vertical_alignment="bottom")
    query = query_column.text_input(
        t("search.query"), placeholder=t("search.placeholder"), key="search.query"
    )
    mode = mode_column.selectbox(
        t("search.mode"),
        MODES,
        format_func=lambda m: t(f"search.mode.{m}"),
        help=t("search.mode_help"),
        key="search.mode",
    )
    collection_column, confidence_column = st.columns(2)
    collection = collection_column.selectbox(
        t("common.collection"),
        collections,
        format_func=lambda c: c or t("search.all_collections"),
        key="search.collection",
    )
    min_confidence = confidence_column.slider(
        t("search.min_confidence"),
        0.0,
        1.0,
        step=0.05,
        help=t("search.min_confidence_help"),
        key="search.min_confidence",
    )
    submitted = st.form_submit_button(
        t("search.submit"), type="primary", icon=":material/search:", key="search.submit"
    )

if submitted:
    request = state.SearchRequest(query.strip(), mode, collection or None, min_confidence or None)
    view = state.SearchView(request, sort=view.sort if view else state.RELEVANCE)
    replace_view(view, refill_form=False)
if view is None or not view.request.query:
    st.info(t("search.empty"), icon=":material/info:")
    # while the reader types, after the form is on screen: the first search then finds the
    # search modules and indexes loaded, and the chart's library imported
    search_results.warm_up(config)
    st.stop()
request = view.request
service = services.search_service(config)


def run_search(limit: int) -> SearchResult:
    """Runs the current request: its best `limit` hits."""
    return service.search(
        request.query,
        mode=request.mode,
        limit=limit,
        offset=0,
        collection=request.collection,
        min_confidence=request.min_confidence,
    )


def write_address(shown: state.SearchView) -> str:
    """Puts the view in the address (when it changed) and returns the link to it."""
    params = view_params(shown, MODES[0])
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if search_params({name: st.query_params.get_all(name) for name in st.query_params}) != as_lists:
        st.query_params.from_dict(params)
    st.session_state[state.SEARCH_URL] = as_lists
    st.session_state[state.SEARCH_VIEW] = shown
    return search_link(st.context.url, SEARCH_PATH, params)


try:
    with st.spinner(t("search.searching")):
        result = run_search(RESULT_WINDOW)
except QuerySyntaxError as error:
    write_address(view)
    st.error(t("search.syntax_error", error=escape_markdown(str(error))))
    st.stop()
except SearchTimeoutError:
    write_address(view)
    st.error(t("search.timeout"))
    st.stop()
except UnknownCollectionError:
    write_address(view)
    st.error(t("search.unknown_collection"))
    st.stop()

if not result.hits:
    write_address(view)
    st.warning(t("search.no_hits", query=escape_markdown(request.query)))
    st.stop()

placed = place_hits(
    result.hits, search_results.page_collections(config, [h.page_id for h in result.hits])
)
counts = facet_counts(placed)
generation = st.session_state.get(state.SEARCH_GENERATION, 0)


def facet_choice(
    column: DeltaGenerator, name: str, available: dict[str, int], chosen: tuple[str, ...]
) -> tuple[str, ...]:
    """A facet's multiple choice, each value with its count; a chosen value with no hit stays."""
    options = [*available, *(c for c in chosen if c not in available)]
    picked = column.multiselect(
        t(f"search.facet.{name}"),
        options,
        default=list(chosen),
        format_func=lambda v: t(
            "search.facet_choice",
            value=t(f"search.band.{v}") if name == "band" else (v or "–"),
            count=available.get(v, 0),
        ),
        placeholder=t("search.facet_all"),
        help=t("search.facet_help"),
        key=f"search.facet.{name}.{generation}",
    )
    return tuple(picked)


controls_column, chart_column = st.columns([3, 2], gap="large")
with controls_column:
    sort = st.segmented_control(
        t("search.sort"),
        state.SORTS,
        default=view.sort,
        required=True,
        format_func=lambda s: t(f"search.sort.{s}"),
        help=t("search.sort_help"),
        key=f"search.sort.{generation}",
    )
    collection_facet, folder_facet, band_facet = st.columns(3)
    facets = state.SearchFacets(
        facet_choice(collection_facet, "collection", counts.collections, view.facets.collections),
        facet_choice(folder_facet, "folder", counts.folders, view.facets.folders),
        facet_choice(
            band_facet, "band", counts.bands, tuple(b for b in view.facets.bands if b in BANDS)
        ),
    )
    with st.expander(t("search.score_title"), icon=":material/help:"):
        st.markdown(search_results.score_help(t, request.mode))
if (sort or view.sort, facets) != (view.sort, view.facets):
    view = replace(view, sort=sort or view.sort, facets=facets, results_page=1)

groups = group_hits(apply_facets(placed, view.facets), view.sort)
rows = flatten(groups)
with chart_column:
    if groups:
        st.caption(t("search.chart_title"))
        search_results.hits_chart(t, groups)

if not rows:
    write_address(view)
    st.info(t("search.no_facet_hits"), icon=":material/filter_alt_off:")
    st.stop()

pages = (len(rows) + HITS_PER_PAGE - 1) // HITS_PER_PAGE
if locate_selected:
    where = next((i for i, (_, _, p) in enumerate(rows) if p.hit.line_id == view.selected), None)
    if where is not None:
        view = replace(view, results_page=where // HITS_PER_PAGE + 1)
view = replace(view, results_page=min(max(1, view.results_page), pages))
link = write_address(view)
offset = (view.results_page - 1) * HITS_PER_PAGE
shown = rows[offset : offset + HITS_PER_PAGE]

summary_column, csv_column, json_column = st.columns([4, 1, 1], vertical_alignment="center")
summary_column.caption(
    t(
        "search.summary",
        first=offset + 1,
        last=offset + len(shown),
        total=len(rows),
        seconds=f"{result.elapsed_s:.2f}",
    )
)
if result.total > len(result.hits):
    summary_column.caption(t("search.window", window=len(result.hits), total=result.total))
csv_column.download_button(
    "CSV",
    lambda: hits_csv(run_search(EXPORT_LIMIT).hits),
    file_name="legajo-hits.csv",
    mime="text/csv",
    icon=":material/download:",
    help=t("search.download_help", limit=EXPORT_LIMIT),
    on_click="ignore",
)
json_column.download_button(
    "JSON",
    lambda: hits_json(run_search(EXPORT_LIMIT).hits),
    file_name="legajo-hits.json",
    mime="application/json",
    icon=":material/download:",
    help=t("search.download_help", limit=EXPORT_LIMIT),
    on_click="ignore",
)
st.caption(t("search.link"), help=t("search.link_help"))
st.code(link, language=None, wrap_lines=True)


def select(line_id: int) -> None:
    """Picks a hit out (a widget callback): the address then names it."""
    current: state.SearchView = st.session_state[state.SEARCH_VIEW]
    st.session_state[state.SEARCH_VIEW] = replace(current, selected=line_id)


if view.selected is not None and all(p.hit.line_id != view.selected for _, _, p in rows):
    st.caption(t("search.selected_missing"))
lines_of_page = {page_id: repository.lines(page_id) for page_id in {p.page_id for _, p, _ in shown}}
last_document: DocumentGroup | None = None
last_page: PageGroup | None = None
for document, page, hit in shown:
    if document is not last_document:
        continued = hit is not document.pages[0].hits[0]
        search_results.document_heading(t, document, continued)
        last_document, last_page = document, None
    if page is not last_page and len(document.pages) > 1:
        search_results.page_heading(t, page)
    last_page = page
    lines = lines_of_page[page.page_id]
    position = next((i for i, s in enumerate(lines) if s.id == hit.hit.line_id), None)
    search_results.hit_card(
        config,
        t,
        hit,
        lines[position] if position is not None else None,
        (position or 0) + 1,
        mode=request.mode,
        selected=hit.hit.line_id == view.selected,
        on_select=select,
        search=request_params(request, MODES[0]),
    )


def move(step: int) -> None:
    """Moves to the previous or next page of results (a widget callback)."""
    current: state.SearchView = st.session_state[state.SEARCH_VIEW]
    st.session_state[state.SEARCH_VIEW] = replace(
        current, results_page=max(1, current.results_page + step)
    )


previous_column, page_column, next_column = st.columns([1, 2, 1], vertical_alignment="center")
previous_column.button(
    t("search.previous"),
    icon=":material/chevron_left:",
    disabled=view.results_page == 1,
    on_click=move,
    args=(-1,),
    width="stretch",
)
page_column.caption(t("search.results_page", number=view.results_page, pages=pages))
next_column.button(
    t("search.next"),
    icon=":material/chevron_right:",
    icon_position="right",
    disabled=view.results_page >= pages,
    on_click=move,
    args=(1,),
    width="stretch",
)
