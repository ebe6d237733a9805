"""The workbench's pages: their scripts, titles and addresses.

Links between pages carry the database ids of a page and a line as query parameters
(``?page_id=..&line_id=..``), so an address can be shared and reloaded.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

SEARCH = "app_pages/search.py"
PAGE = "app_pages/page.py"
CORRECT = "app_pages/correct.py"
REVIEW = "app_pages/review.py"
COLLECTIONS = "app_pages/collections.py"
"""Page scripts, relative to ``ui/streamlit_app.py``."""

PAGE_ID = "page_id"
LINE_ID = "line_id"
"""Query parameters naming a stored page and line."""


def build_pages(translate: Callable[[str], str], *, read_only: bool) -> list[st.Page]:
    """The pages in menu order; the editing pages are left out when read-only."""
    pages = [
        st.Page(
            SEARCH,
            title=translate("nav.search"),
            icon=":material/search:",
            url_path="search",
            default=True,
        ),
        st.Page(PAGE, title=translate("nav.page"), icon=":material/article:", url_path="page"),
    ]
    if not read_only:
        pages += [
            st.Page(
                CORRECT, title=translate("nav.correct"), icon=":material/edit:", url_path="correct"
            ),
            st.Page(
                REVIEW,
                title=translate("nav.review"),
                icon=":material/checklist:",
                url_path="review",
            ),
        ]
    pages.append(
        st.Page(
            COLLECTIONS,
            title=translate("nav.collections"),
            icon=":material/folder_open:",
            url_path="collections",
        )
    )
    return pages


def line_link(page_id: int, line_id: int | None = None) -> dict[str, str]:
    """The query parameters that open a page (and a line of it)."""
    params = {PAGE_ID: str(page_id)}
    if line_id is not None:
        params[LINE_ID] = str(line_id)
    return params


def query_id(name: str) -> int | None:
    """A database id from the address's query parameters; None when absent or malformed."""
    value = st.query_params.get(name)
    if value is None or not value.isdigit():
        return None
    return int(value)
