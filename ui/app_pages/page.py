"""Page: the page image with its line outlines; a chosen line's text, words and readings."""

from __future__ import annotations

from statistics import fmean

import streamlit as st

from ui import components, services
from ui.images import PageImageUnavailableError
from ui.navigation import CORRECT, LINE_ID, PAGE_ID, line_link, query_id
from ui.text import escape_markdown

ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0)

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

image_column, line_column = st.columns([3, 2], gap="large")
selected: int | None = None
with line_column:
    if lines:
        selected = components.line_choice(lines, t, f"page.line.{page_id}", query_id(LINE_ID))
        stored = lines[selected]
        st.query_params[LINE_ID] = str(stored.id)
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
            st.switch_page(CORRECT, query_params=line_link(page_id, stored.id))
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

with image_column:
    zoom = st.select_slider(
        t("page.zoom"), ZOOMS, value=ZOOMS[0], format_func=lambda z: f"{z:g}×", key="page.zoom"
    )
    try:
        st.image(services.page_view_jpeg(config, page_id, selected, zoom), width="stretch")
    except PageImageUnavailableError as error:
        st.warning(t("image.unavailable_reason", reason=escape_markdown(str(error))))
