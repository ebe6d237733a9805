"""Review: a collection's most doubtful lines, one after another, for fast correction.

Keyboard: type in the box and press Enter to save (or confirm) and go to the next line;
Alt+Page Down skips a line and Alt+Page Up goes back, also while typing in the box. The box
keeps one widget key and its place for the whole review (the saved message above it has a
slot of its own, `ui.components.show_flash`), so the focus stays in it from line to line.
"""

from __future__ import annotations

import streamlit as st

from indexer.errors import LineNotFoundError
from ui import components, services, state
from ui.navigation import CORRECT, line_link
from ui.review import review_queue

# Page scripts hold no attribute docstrings: Streamlit's magic would print them.
TEXT_KEY = "review.text"
TEXT_LINE_KEY = "review.text_line"  # the line (id, version) the box was last filled from

config = services.settings()
t = components.translator()
desk = services.correction_desk(config)
repository = services.repository(config)


def save_and_next(session: state.ReviewSession, line_id: int, version: int, text: str) -> None:
    """Saves the box's text if it changed, else confirms the line, and moves on."""
    typed = str(st.session_state.get(TEXT_KEY, "")).strip()
    changed = typed != text
    if changed:
        stored = components.submit_correction(line_id, typed, version)
    else:
        stored = components.submit_confirmation(line_id, text, version)
    if not stored:
        return  # the flash or the conflict says why; stay on the line
    session.corrected += changed
    session.reviewed += 1
    session.position += 1


def move(session: state.ReviewSession, step: int) -> None:
    """Goes `step` lines forward or back without saving."""
    session.position = min(max(0, session.position + step), len(session.items))


def restart(collection: str) -> None:
    """Builds the queue again from the database."""
    st.session_state[state.REVIEW] = state.ReviewSession(
        collection, review_queue(repository, collection)
    )


st.title(t("review.title"))
collections = repository.collections()
if not collections:
    st.info(t("common.no_collections"))
    st.stop()
collection = st.selectbox(t("common.collection"), collections, key="review.collection")
if st.session_state.get(state.REVIEW) is None or (
    st.session_state[state.REVIEW].collection != collection
):
    restart(collection)
session: state.ReviewSession = st.session_state[state.REVIEW]
total = len(session.items)
if total == 0:
    st.success(t("review.nothing"), icon=":material/task_alt:")
    st.stop()

position = min(session.position, total)
st.progress(
    position / total,
    text=t(
        "review.counter",
        reviewed=session.reviewed,
        corrected=session.corrected,
        position=min(position + 1, total),
        total=total,
    ),
)
if position >= total:
    st.success(t("review.done", reviewed=session.reviewed), icon=":material/task_alt:")
    st.button(t("review.restart"), icon=":material/refresh:", on_click=restart, args=(collection,))
    st.stop()

item = session.items[position]
try:
    stored = desk.line(item.page_id, item.line_id)
except LineNotFoundError:  # the page was indexed again meanwhile
    move(session, 1)
    st.rerun()

st.caption(
    t(
        "review.item_caption",
        page=components.page_title(item.source_path, item.frame, t),
        weakest=components.percent(item.weakest),
    )
)
components.line_image(config, stored, t)
components.transcript(stored, t)
conflict = st.session_state.get(state.CONFLICT)
if conflict is not None and conflict.line_id == stored.id:
    st.warning(t("review.conflict"), icon=":material/warning:")
    st.page_link(
        CORRECT,
        label=t("review.open_correct"),
        icon=":material/edit:",
        query_params=line_link(item.page_id, stored.id),
    )
    st.stop()

if st.session_state.get(TEXT_LINE_KEY) != (stored.id, stored.version):
    st.session_state[TEXT_KEY] = stored.line.text
    st.session_state[TEXT_LINE_KEY] = (stored.id, stored.version)
with st.form("review.form", border=False):
    st.text_input(t("review.text"), key=TEXT_KEY, max_chars=2000)
    st.form_submit_button(
        t("review.save_next"),
        type="primary",
        icon=":material/keyboard_return:",
        on_click=save_and_next,
        args=(session, stored.id, stored.version, stored.line.text),
    )
back_column, skip_column, link_column = st.columns(3, vertical_alignment="center")
back_column.button(
    t("review.previous"),
    icon=":material/arrow_upward:",
    disabled=position == 0,
    on_click=move,
    args=(session, -1),
    shortcut="Alt+PageUp",
)
skip_column.button(
    t("review.skip"),
    icon=":material/arrow_downward:",
    on_click=move,
    args=(session, 1),
    shortcut="Alt+PageDown",
)
link_column.page_link(
    CORRECT,
    label=t("review.open_correct"),
    icon=":material/edit:",
    query_params=line_link(item.page_id, stored.id),
)
