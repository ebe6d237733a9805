"""Page: the page in a deep-zoom viewer with its lines, the search's hits and its text.

The viewer (`ui.viewer`) draws every line's outline and boxes every hit of the search the
address names (``q``, ``mode``, ``collection``, ``min_confidence``: a hit's "open page"
link carries them), the chosen line distinct. A click on a line opens it for correction, or
only chooses it when the workbench is read-only. Below: the chosen line's text, words and
alternative readings. Without the bundled viewer the page is drawn on the server instead.
"""

from __future__ import annotations

from statistics import fmean

import streamlit as st

from htr.errors import LegajoError
from indexer.search.service import MODES
from indexer.store.repository import StoredLine
from ui import components, services
from ui.images import PageImageUnavailableError
from ui.navigation import CORRECT, LINE_ID, PAGE_ID, line_link, query_id
from ui.search_url import parse_request, request_params, search_link
from ui.state import SearchRequest
from ui.text import escape_markdown
from ui.viewer.component import page_viewer, viewer_available
from ui.viewer.payload import PageHit, page_hits, viewer_payload

HITS_WINDOW = 200  # the search's best hits looked at for boxes (no docstring: magic prints it)

config = services.settings()
t = components.translator()
repository = services.repository(config)

linked_page = query_id(PAGE_ID)
chosen_here = linked_page is None
if linked_page is None:
    st.title(t("page.title"))
    summary = components.page_picker(repository, t, key="page.picker")
    if summary is None:
        st.stop()
    page_id = summary.id
else:
    page_id = linked_page
try:
    page = repository.load_page(page_id)
except LookupError:
    st.error(t("page.unknown", page_id=page_id))
    st.stop()
lines = repository.lines(page_id)
st.query_params[PAGE_ID] = str(page_id)
request = parse_request({k: st.query_params.get_all(k) for k in st.query_params}, MODES)
search = request_params(request, MODES[0]) if request else {}

name = components.page_title(page.image, page.frame, t)
if chosen_here:
    st.header(name, divider="gray")
else:
    st.title(name)
st.caption(
    t(
        "page.caption",
        path=escape_markdown(page.image),
        width=page.width,
        height=page.height,
        lines=len(lines),
    )
)
if not lines:
    st.info(t("page.no_lines"))


def hits_here(request: SearchRequest) -> list[PageHit]:
    """The boxes of the search's hits on this page; a search that fails boxes nothing."""
    try:
        result = services.search_service(config).search(
            request.query,
            mode=request.mode,
            limit=HITS_WINDOW,
            collection=request.collection,
            min_confidence=request.min_confidence,
        )
    except LegajoError as error:  # a malformed query, a timeout, an unknown collection
        st.warning(t("page.search_failed", error=escape_markdown(str(error))))
        return []
    return page_hits(result.hits, page_id)


def selected_index(key: str) -> int | None:
    """The chosen line: the select box's choice, else the address's line, else the first."""
    if not lines:
        return None
    chosen = st.session_state.get(key)
    if isinstance(chosen, int) and 0 <= chosen < len(lines):
        return chosen
    ids = [s.id for s in lines]
    linked = query_id(LINE_ID)
    return ids.index(linked) if linked in ids else 0


def viewer_labels() -> dict[str, str]:
    """The viewer's texts in the user's language."""
    click = "viewer.click_select" if config.read_only else "viewer.click_correct"
    return {name: t(f"viewer.{name}") for name in ("text", "hits", "doubtful", "line", "empty")} | {
        "click": t(click),
        "confidence": t("page.confidence"),
    }


choice_key = f"page.line.{page_id}"
selected = selected_index(choice_key)
boxes = hits_here(request) if request else []
if request:
    results = search_link(None, "", request_params(request, MODES[0]))
    found_column, back_column = st.columns([4, 1], vertical_alignment="center")
    found_column.markdown(
        t(
            "page.hits_here",
            count=len({b.line_id for b in boxes}),
            query=escape_markdown(request.query),
        )
    )
    back_column.link_button(t("page.back_to_results"), results, icon=":material/search:")

if viewer_available():
    try:
        clicked = page_viewer(
            viewer_payload(
                image_url=services.page_data_url(config, page_id),
                size=(page.width, page.height),
                lines=lines,
                hits=boxes,
                selected=lines[selected].id if selected is not None else None,
                labels=viewer_labels(),
                opens_correction=not config.read_only,
            ),
            key=f"page.viewer.{page_id}",
        )
    except PageImageUnavailableError as error:
        st.warning(t("image.unavailable_reason", reason=escape_markdown(str(error))))
        clicked = None
    ids = [s.id for s in lines]
    if clicked is not None and clicked in ids:
        if not config.read_only:
            st.switch_page(CORRECT, query_params=line_link(page_id, clicked) | search)
        st.session_state[choice_key] = ids.index(clicked)
        st.rerun()
else:
    st.info(t("page.viewer_missing"), icon=":material/info:")
    try:
        st.image(services.page_view_jpeg(config, page_id, selected, 1.0), width="stretch")
    except PageImageUnavailableError as error:
        st.warning(t("image.unavailable_reason", reason=escape_markdown(str(error))))


def line_details(stored: StoredLine) -> None:
    """The chosen line: its image and text, confidence, version, words and readings."""
    text_column, table_column = st.columns([3, 2], gap="large")
    with text_column:
        components.line_image(config, stored, t)
        components.transcript(stored, t)
        confidence_column, version_column = st.columns(2)
        words = stored.line.words
        confidence_column.metric(
            t("page.line_confidence"),
            components.percent(fmean(w.confidence for w in words) if words else None),
        )
        version_column.metric(t("page.version"), stored.version)
        if not config.read_only and st.button(
            t("page.correct"), icon=":material/edit:", type="primary"
        ):
            st.switch_page(CORRECT, query_params=line_link(page_id, stored.id) | search)
    with table_column:
        st.subheader(t("page.words"))
        st.dataframe(
            [{t("page.word"): w.text, t("page.confidence"): round(w.confidence, 3)} for w in words],
            hide_index=True,
            width="stretch",
        )
        st.subheader(t("page.readings"))
        st.dataframe(
            [
                {t("page.reading"): a.text, t("page.probability"): round(a.prob, 3)}
                for a in stored.line.alternatives
            ],
            hide_index=True,
            width="stretch",
        )


if selected is not None:
    index = components.line_choice(lines, t, choice_key, lines[selected].id)
    stored = lines[index]
    st.query_params[LINE_ID] = str(stored.id)
    line_details(stored)
