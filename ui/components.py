"""Pieces of the workbench's pages: sidebar, transcripts, line images, hit cards, pickers.

Transcripts reach the browser only as escaped Markdown (`ui.text`), as ``st.code`` or as
table cells, all of which Streamlit shows as text; never as HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import PurePath

import streamlit as st
from PIL import Image

from htr.types import BBox
from indexer.accounts.errors import PermissionDeniedError
from indexer.errors import StaleLineError
from indexer.store.orm import PAGE_INDEXED
from indexer.store.repository import PageSummary, Repository, StoredLine
from ui import state
from ui.access import log_out
from ui.config import UI_LANGUAGES, UiSettings
from ui.corrections import CorrectionDesk, MissingEditorError, ReadOnlyError
from ui.drawing import line_crop
from ui.i18n import LANGUAGE_NAMES, Translator
from ui.images import PageImageUnavailableError
from ui.services import correction_desk, page_image, repository, settings
from ui.text import escape_markdown, is_doubtful, marked_transcript

HITS_PER_PAGE = 10
"""Search hits on one results page."""
EXPORT_LIMIT = 1000
"""Most hits in a CSV or JSON download."""


def translator() -> Translator:
    """The translator of this session's language (the sidebar's switch)."""
    return Translator(st.session_state.get(state.LANGUAGE, UI_LANGUAGES[0]))


def language_switch(config: UiSettings) -> Translator:
    """Draws the language switch (in the sidebar) and returns the session's translator."""
    st.session_state.setdefault(state.LANGUAGE, config.language)
    with st.sidebar:
        st.segmented_control(
            "Idioma · Language",
            UI_LANGUAGES,
            format_func=LANGUAGE_NAMES.__getitem__,
            key=state.LANGUAGE,
            selection_mode="single",
            required=True,
        )
    return translator()


def sidebar(config: UiSettings) -> Translator:
    """Draws the sidebar (language, account or editor's name, mode); returns the translator."""
    t = language_switch(config)
    with st.sidebar:
        if config.account is not None:
            account = config.account
            st.markdown(
                t(
                    "sidebar.account",
                    name=escape_markdown(account.name),
                    role=t(f"role.{account.role.value}"),
                )
            )
            st.button(t("sidebar.log_out"), key="sidebar.log_out", on_click=log_out)
        if config.read_only and config.accounts_required and not config.server_read_only:
            st.info(t("sidebar.viewer"), icon=":material/visibility:")
        elif config.read_only:
            st.info(t("sidebar.read_only"), icon=":material/lock:")
        elif config.account is None:  # with an account, corrections carry its name
            st.text_input(
                t("sidebar.editor"),
                key=state.EDITOR,
                placeholder=t("sidebar.editor_placeholder"),
                help=t("sidebar.editor_help"),
                max_chars=80,
            )
        st.caption(t("sidebar.database", url=escape_markdown(repository(config).database.url)))
    return t


def show_flash() -> None:
    """Shows, once, the message left by a callback or before a rerun (`set_flash`).

    Its slot is drawn on every run, empty (and invisible) without a message, so that the
    page's elements keep their places whether a message shows or not: a widget that moved
    would be drawn anew and lose the keyboard focus (the review's text box after Enter).
    """
    slot = st.empty()
    flash = st.session_state.pop(state.FLASH, None)
    if flash is None:
        return
    kind, message = flash
    if kind == "error":
        slot.error(message, icon=":material/error:")
    elif kind == "info":
        slot.info(message, icon=":material/info:")
    else:
        slot.success(message, icon=":material/check_circle:")


def set_flash(message: str, kind: str = "success") -> None:
    """Leaves a message for the next run: ``kind`` is success, info or error."""
    st.session_state[state.FLASH] = (kind, message)


def submit_correction(line_id: int, text: str, expected_version: int) -> bool:
    """Saves a correction (as a widget callback); the next run shows what happened.

    The desk is taken afresh from the settings, so a read-only server refuses the write even
    when the form was drawn before it became read-only. A line that changed meanwhile becomes
    a `state.Conflict` that keeps the submitted text.

    Args:
        line_id: The line.
        text: The submitted text.
        expected_version: The version the editor saw when the form was drawn.

    Returns:
        True when the correction was stored.
    """
    return _write(
        lambda desk: desk.save(line_id, text, editor_name(), expected_version),
        line_id,
        text,
        expected_version,
        "correct.saved",
    )


def submit_confirmation(line_id: int, text: str, expected_version: int) -> bool:
    """Confirms a line's text as it is (as a widget callback), like `submit_correction`.

    Args:
        line_id: The line.
        text: The text the editor saw and confirms (kept in a conflict).
        expected_version: The version the editor saw when the form was drawn.

    Returns:
        True when the confirmation was stored.
    """
    return _write(
        lambda desk: desk.confirm(line_id, editor_name(), expected_version),
        line_id,
        text,
        expected_version,
        "correct.confirmed",
    )


def _write(
    write: Callable[[CorrectionDesk], StoredLine],
    line_id: int,
    text: str,
    expected_version: int,
    saved_message: str,
) -> bool:
    t = translator()
    desk = correction_desk(settings())  # afresh: the session's account and role as they are now
    try:
        saved = write(desk)
    except PermissionDeniedError:
        set_flash(t("correct.refused_role"), "error")
        return False
    except MissingEditorError:
        set_flash(t("correct.need_editor"), "error")
        return False
    except ReadOnlyError:
        set_flash(t("correct.refused_read_only"), "error")
        return False
    except StaleLineError:
        st.session_state[state.CONFLICT] = state.Conflict(line_id, text, expected_version)
        return False
    if (conflict := st.session_state.get(state.CONFLICT)) and conflict.line_id == line_id:
        del st.session_state[state.CONFLICT]
    set_flash(t(saved_message, version=saved.version))
    return True


def editor_name() -> str:
    """The editor: the session's account, else the name typed in the sidebar (or empty).

    With accounts the desk writes the account's name whatever this returns.
    """
    account = st.session_state.get(state.ACCOUNT)
    if account is not None:
        return str(account.name)
    return str(st.session_state.get(state.EDITOR) or "").strip()


def percent(value: float | None) -> str:
    """A confidence as a whole percentage, or a dash."""
    return "–" if value is None else f"{100 * value:.0f} %"


def when(value: dt.datetime | None) -> str:
    """A stored time (UTC) as ``YYYY-MM-DD HH:MM UTC``, or a dash."""
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def model_name(model_id: str) -> str:
    """A model's short name: a checkpoint folder's own name, else the id as given (hub name)."""
    path = PurePath(model_id)
    return path.name if path.is_absolute() else model_id


def page_title(source_path: str, frame: int, t: Translator) -> str:
    """A page's short name: its file name, and the frame when the file has several."""
    name = PurePath(source_path).name
    return name if frame == 0 else t("page.frame_title", name=name, frame=frame + 1)


def transcript(stored: StoredLine, t: Translator) -> None:
    """A line's current text, doubtful words marked, always shown as text."""
    body = marked_transcript(stored.line.text, stored.line.words)
    if body:
        st.markdown(body)
    else:
        st.caption(t("common.empty_line"))


def line_image(
    config: UiSettings,
    stored: StoredLine,
    t: Translator,
    matched: Sequence[BBox] = (),
    box: BBox | None = None,
) -> None:
    """The line cut from its page image, `matched` words outlined, doubtful words underlined.

    Args:
        config: The app's settings.
        stored: The line.
        t: The translator.
        matched: Boxes of the words to outline.
        box: The part of the page to show; the line's box by default.
    """
    image = _page_image_or_none(config, stored.page_id)
    if image is None:
        st.caption(t("image.unavailable"))
        return
    doubtful = [w.bbox for w in stored.line.words if is_doubtful(w)]
    crop = line_crop(image, box or stored.line.bbox, matched=matched, doubtful=doubtful)
    st.image(crop, output_format="PNG")


def page_picker(repo: Repository, t: Translator, key: str) -> PageSummary | None:
    """Lets the user choose a collection and one of its indexed pages."""
    collections = repo.collections()
    if not collections:
        st.info(t("common.no_collections"))
        return None
    left, right = st.columns(2)
    collection = left.selectbox(t("common.collection"), collections, key=f"{key}.collection")
    pages = [p for p in repo.pages(collection) if p.status == PAGE_INDEXED]
    if not pages:
        st.info(t("common.no_pages"))
        return None
    return right.selectbox(
        t("common.page"),
        pages,
        format_func=lambda p: t(
            "common.page_choice", page=page_title(p.source_path, p.frame, t), lines=p.line_count
        ),
        key=f"{key}.page",
    )


def line_choice(lines: Sequence[StoredLine], t: Translator, key: str, line_id: int | None) -> int:
    """Lets the user choose a line of a page; returns its index in `lines`."""
    ids = [s.id for s in lines]
    # a choice already made (or set by a click elsewhere) is the widget's own state: passing
    # an index too would make Streamlit warn that the value was set twice
    first = ids.index(line_id) if line_id in ids else 0

    def label(index: int) -> str:
        return f"{index + 1} · {_shorten(lines[index].line.text)}"

    if key in st.session_state:
        chosen = st.selectbox(t("common.line"), range(len(lines)), format_func=label, key=key)
    else:
        chosen = st.selectbox(
            t("common.line"), range(len(lines)), index=first, format_func=label, key=key
        )
    return int(chosen or 0)


def _page_image_or_none(config: UiSettings, page_id: int) -> Image.Image | None:
    try:
        return page_image(config, page_id)
    except (LookupError, PageImageUnavailableError):
        return None


def _shorten(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"
