"""The workbench's services and cached resources.

The database engine, the search service (with its FAISS indexes and models) and decoded page
images are `st.cache_resource`: built once per server process and shared by every session, so
no rerun rebuilds them. Rendered page views are `st.cache_data`. Every cache is keyed by the
database URL, so two apps (or two tests) on different databases in one process never mix.
"""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from PIL import Image

from indexer.accounts import AccountStore
from indexer.store.db import open_database
from indexer.store.repository import Repository
from ui.access import may_edit, session_account
from ui.config import UiSettings, load_settings
from ui.corrections import CorrectionDesk
from ui.drawing import page_view
from ui.images import load_page_image

if TYPE_CHECKING:
    from indexer.search.service import SearchService

logger = logging.getLogger(__name__)


def settings() -> UiSettings:
    """The settings `legajo ui` passed in the environment, for this browser session.

    Read on every run (cheap: the environment, and one or two indexed rows). When the
    database holds accounts, they name the session's account (`ui.access`), and the session
    is read-only unless that account may edit.
    """
    config = load_settings()
    store = account_store(config)
    if not store.has_accounts():
        return config
    account = session_account(store)
    return replace(
        config,
        accounts_required=True,
        account=account,
        read_only=config.read_only or not may_edit(account),
    )


@st.cache_resource(show_spinner=False)
def _repository(database_url: str, read_only: bool) -> Repository:
    logger.info("opening %s%s", database_url, " read-only" if read_only else "")
    return Repository(open_database(database_url, migrate=not read_only))


def repository(config: UiSettings) -> Repository:
    """The database (one engine per server process)."""
    return _repository(config.storage.database_url, config.server_read_only)


def account_store(config: UiSettings) -> AccountStore:
    """The accounts of the database."""
    return AccountStore(repository(config).database)


def correction_desk(config: UiSettings) -> CorrectionDesk:
    """The write path of this session: read-only when it is, writing as its account."""
    return CorrectionDesk(
        repository(config),
        read_only=config.read_only,
        account=config.account,
        accounts_required=config.accounts_required,
    )


@st.cache_resource(show_spinner=False)
def _search_service(database_url: str, home: str, read_only: bool) -> SearchService:
    from indexer.search.service import SearchService  # FAISS and friends load on the first search

    return SearchService(_repository(database_url, read_only), Path(home))


def search_service(config: UiSettings) -> SearchService:
    """The search service (indexes and models loaded once per server process)."""
    storage = config.storage
    return _search_service(storage.database_url, str(storage.home), config.server_read_only)


@st.cache_resource(show_spinner=False, max_entries=24)
def _page_image(database_url: str, read_only: bool, page_id: int) -> Image.Image:
    return load_page_image(_repository(database_url, read_only), page_id)


def page_image(config: UiSettings, page_id: int) -> Image.Image:
    """The decoded image of a stored page; shared, so never to be changed in place.

    Raises:
        LookupError: If there is no such page.
        PageImageUnavailableError: If its file cannot be read.
    """
    return _page_image(config.storage.database_url, config.server_read_only, page_id)


@st.cache_data(show_spinner=False, max_entries=64, ttl=300)
def _page_view_jpeg(
    database_url: str, read_only: bool, page_id: int, selected: int | None, zoom: float
) -> bytes:
    repo = _repository(database_url, read_only)
    outlines = [line.polygon for line in repo.load_page(page_id).lines]
    view = page_view(
        _page_image(database_url, read_only, page_id), outlines, selected=selected, zoom=zoom
    )
    buffer = io.BytesIO()
    view.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def page_view_jpeg(config: UiSettings, page_id: int, selected: int | None, zoom: float) -> bytes:
    """A page with its line outlines, the chosen line highlighted, as JPEG (cached).

    Line outlines change only when a page is indexed again (``--force``); the cache keeps a
    view five minutes at most.

    Raises:
        LookupError, PageImageUnavailableError: As for `page_image`.
    """
    storage = config.storage
    return _page_view_jpeg(storage.database_url, config.server_read_only, page_id, selected, zoom)


@st.cache_data(show_spinner=False, max_entries=16, ttl=300)
def _page_data_url(database_url: str, read_only: bool, page_id: int) -> str:
    from ui.viewer.payload import image_data_url

    return image_data_url(_page_image(database_url, read_only, page_id))


def page_data_url(config: UiSettings, page_id: int) -> str:
    """The page's picture for the viewer, as a JPEG ``data:`` URL (cached).

    Raises:
        LookupError, PageImageUnavailableError: As for `page_image`.
    """
    return _page_data_url(config.storage.database_url, config.server_read_only, page_id)
