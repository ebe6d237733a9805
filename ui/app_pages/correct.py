"""Correct: edit a line in a form, see its history, restore a version, settle conflicts.

The lines before and after the one being corrected are shown around it, and a palette of
the collection's unusual characters (`ui.palette`) inserts one at the cursor of the form's
field. Each version in the history shows what it changed (`ui.diffs`).

The history lists the line's versions (the machine reading, then every correction) and, once
the line was read again (`legajo reread`), each machine reading with its model and time.

Every save goes through `ui.components.submit_correction` as a callback whose arguments were
fixed when the form was drawn, so the version sent to the optimistic lock is the one the
editor saw. If someone saved the line meanwhile, both texts are shown and neither is lost.
After a save every view is drawn anew from the database: the line select box's key holds the
page's versions, so it becomes a new widget that shows the saved text.
"""

from __future__ import annotations

import streamlit as st

from indexer.store.repository import StoredLine
from ui import components, services, state
from ui.corrections import LineVersion
from ui.diffs import diff_markdown, text_diff
from ui.navigation import LINE_ID, PAGE, PAGE_ID, line_link, query_id
from ui.overviews import character_counts, forget_characters, overview
from ui.palette import palette, palette_entries
from ui.text import escape_markdown

config = services.settings()
t = components.translator()
desk = services.correction_desk(config)
repository = services.repository(config)


def submit_form(stored: StoredLine, text_key: str) -> None:
    """Saves the text of the form drawn for `stored`, unless nothing was changed."""
    text = str(st.session_state.get(text_key, "")).strip()
    if text == stored.line.text:
        components.set_flash(t("correct.unchanged"), "info")
        return
    if components.submit_correction(stored.id, text, stored.version):
        forget_characters()


def save_typed(line_id: int, text_key: str, expected_version: int) -> None:
    """Saves the text typed in a form, whatever it is."""
    text = str(st.session_state.get(text_key, "")).strip()
    if components.submit_correction(line_id, text, expected_version):
        forget_characters()


def restore(line_id: int, text: str, expected_version: int) -> None:
    """Makes an earlier text current again, as a new correction."""
    if components.submit_correction(line_id, text, expected_version):
        forget_characters()


def keep_theirs(line_id: int) -> None:
    """Drops the editor's conflicting text: the saved version stays."""
    st.session_state.pop(state.CONFLICT, None)
    components.set_flash(t("conflict.kept_theirs"), "info")


def edit_form(stored: StoredLine) -> None:
    """The line's text in a form; Enter or the button saves it."""
    text_key = f"correct.text.{stored.id}.{stored.version}"
    with st.form(f"correct.form.{stored.id}"):
        st.text_input(t("correct.text"), value=stored.line.text, key=text_key, max_chars=2000)
        st.form_submit_button(
            t("correct.save"),
            type="primary",
            icon=":material/save:",
            on_click=submit_form,
            args=(stored, text_key),
        )


def character_palette(collection: str) -> None:
    """The collection's unusual characters; a click inserts one into the form's field."""
    st.caption(t("correct.palette_help"))
    palette(
        palette_entries(character_counts(config, collection)),
        [t("correct.text"), t("conflict.merged")],
        t("correct.insert"),
    )


def neighbour(lines: list[StoredLine], index: int, label: str) -> None:
    """A line next to the one being corrected, muted: its image and its text."""
    if not 0 <= index < len(lines):
        return
    near = lines[index]
    with st.container(border=True):
        st.caption(t(label, number=index + 1))
        components.line_image(config, near, t)
        st.caption(escape_markdown(near.line.text) or t("common.empty_line"))


def conflict_view(stored: StoredLine, conflict: state.Conflict, latest: LineVersion) -> None:
    """Both texts side by side, and a form to save the editor's (or a merged) text."""
    st.warning(t("conflict.explain"), icon=":material/warning:")
    mine_column, theirs_column = st.columns(2)
    with mine_column:
        st.markdown(f"**{t('conflict.mine', version=conflict.based_on)}**")
        st.code(conflict.mine, language=None, wrap_lines=True)
    with theirs_column:
        st.markdown(
            "**"
            + t(
                "conflict.theirs",
                editor=escape_markdown(latest.editor or "–"),
                when=components.when(latest.when),
                version=latest.version,
            )
            + "**"
        )
        st.code(stored.line.text, language=None, wrap_lines=True)
    text_key = f"conflict.text.{stored.id}.{stored.version}"
    with st.form(f"conflict.form.{stored.id}"):
        st.text_input(t("conflict.merged"), value=conflict.mine, key=text_key, max_chars=2000)
        st.form_submit_button(
            t("conflict.save"),
            type="primary",
            icon=":material/save:",
            on_click=save_typed,
            args=(stored.id, text_key, stored.version),
        )
    st.button(
        t("conflict.keep_theirs"), icon=":material/undo:", on_click=keep_theirs, args=(stored.id,)
    )


def history_view(stored: StoredLine, versions: list[LineVersion]) -> None:
    """Every version of the line, newest first, each restorable."""
    st.subheader(t("correct.history"))
    for position in reversed(range(len(versions))):
        version = versions[position]
        earlier = versions[position - 1] if position else None
        number_column, text_column, who_column, action_column = st.columns(
            [1, 6, 3, 2], vertical_alignment="center"
        )
        number_column.markdown(f"**v{version.version}**")
        with text_column:
            st.code(version.text or " ", language=None, wrap_lines=True)
            if earlier is not None and earlier.text != version.text:
                changes = diff_markdown(text_diff(earlier.text, version.text))
                st.caption(f"{t('correct.changes', version=earlier.version)}: {changes}")
        if version.editor is None:
            who_column.caption(t("correct.machine"))
        elif version.confirmed:
            who_column.caption(
                t(
                    "correct.confirmed_by",
                    editor=escape_markdown(version.editor),
                    when=components.when(version.when),
                )
            )
        else:
            who_column.caption(
                f"{escape_markdown(version.editor)} · {components.when(version.when)}"
            )
        if not desk.read_only and version.text != stored.line.text:
            action_column.button(
                t("correct.restore"),
                key=f"correct.restore.{stored.id}.{version.version}",
                icon=":material/history:",
                on_click=restore,
                args=(stored.id, version.text, stored.version),
            )


def readings_view(stored: StoredLine) -> None:
    """The machine readings the line had, newest (the current one) first, each adoptable.

    Lines never read again have none recorded: their one reading is version 1 of the history.
    """
    readings = repository.readings(stored.id)
    if not readings:
        return
    st.subheader(t("correct.readings"))
    for number, reading in enumerate(reversed(readings)):
        text_column, who_column, action_column = st.columns([7, 4, 2], vertical_alignment="center")
        with text_column:
            st.code(reading.text or " ", language=None, wrap_lines=True)
        caption = t(
            "correct.reading_caption",
            model=escape_markdown(components.model_name(reading.model.model_id)),
            revision=escape_markdown(reading.model.revision or "–"),
            when=components.when(reading.created_at),
            confidence=components.percent(reading.confidence),
        )
        if number == 0 and reading.text == stored.machine_text:
            caption += f" · **{t('correct.current_reading')}**"
        who_column.caption(caption)
        if not desk.read_only and reading.text != stored.line.text:
            action_column.button(
                t("correct.use_reading"),
                key=f"correct.use_reading.{stored.id}.{number}",
                icon=":material/history:",
                on_click=restore,
                args=(stored.id, reading.text, stored.version),
            )


st.title(t("correct.title"))
page_id = query_id(PAGE_ID)
if page_id is None:
    summary = components.page_picker(repository, t, key="correct.picker")
    if summary is None:
        st.stop()
    page_id = summary.id
try:
    page = repository.load_page(page_id)
except LookupError:
    st.error(t("page.unknown", page_id=page_id))
    st.stop()
lines = repository.lines(page_id)
if not lines:
    st.info(t("page.no_lines"))
    st.stop()
# the versions in the key: after a save the select box is a new one, showing the saved text
revision = sum(s.version for s in lines)
index = components.line_choice(lines, t, f"correct.line.{page_id}.{revision}", query_id(LINE_ID))
stored = lines[index]
st.query_params.update(line_link(page_id, stored.id))
st.page_link(
    PAGE,
    label=t("correct.back_to_page"),
    icon=":material/article:",
    query_params=line_link(page_id, stored.id),
)

neighbour(lines, index - 1, "correct.previous_line")
components.line_image(config, stored, t)
components.transcript(stored, t)
neighbour(lines, index + 1, "correct.next_line")
versions = desk.history(stored)
st.caption(
    t(
        "correct.version_caption",
        page=escape_markdown(components.page_title(page.image, page.frame, t)),
        line=index + 1,
        version=stored.version,
        count=len(versions) - 1,
    )
)

if desk.read_only:
    st.info(t("sidebar.read_only"), icon=":material/lock:")
else:
    conflict = st.session_state.get(state.CONFLICT)
    if conflict is not None and conflict.line_id == stored.id:
        conflict_view(stored, conflict, versions[-1])
    else:
        edit_form(stored)
    character_palette(overview(config).page_collection(page_id))
history_view(stored, versions)
readings_view(stored)
