"""Fixtures of the AppTest tests: an indexed archive, copied for each test, and the app on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from indexer.settings import (
    DATABASE_FILE,
    DB_VARIABLE,
    HOME_VARIABLE,
    StorageSettings,
    sqlite_url,
)
from tests.ui.archive import Archive, build_archive
from ui.config import LANGUAGE_VARIABLE, READ_ONLY_VARIABLE

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
TIMEOUT_S = 60


@pytest.fixture(scope="session")
def indexed_home(tmp_path_factory: pytest.TempPathFactory, memorised_checkpoint: Path) -> Archive:
    """The archive, indexed once per session; tests work on copies of its database."""
    return build_archive(tmp_path_factory.mktemp("archive") / "home", memorised_checkpoint)


@pytest.fixture
def archive(tmp_path: Path, indexed_home: Archive, monkeypatch: pytest.MonkeyPatch) -> Archive:
    """A fresh copy of the archive's database (the page images stay shared), set up for the app."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(indexed_home.storage.home / DATABASE_FILE, home / DATABASE_FILE)
    storage = StorageSettings(home=home, database_url=sqlite_url(home / DATABASE_FILE))
    monkeypatch.setenv(HOME_VARIABLE, str(home))
    monkeypatch.setenv(DB_VARIABLE, storage.database_url)
    monkeypatch.setenv(READ_ONLY_VARIABLE, "0")
    monkeypatch.setenv(LANGUAGE_VARIABLE, "en")
    return Archive(storage=storage, pages=indexed_home.pages)


@pytest.fixture
def app(archive: Archive) -> Iterator[AppTest]:
    """The app on the archive copy, run once (the search page)."""
    test = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    test.run()
    yield test
    st.cache_data.clear()
    st.cache_resource.clear()
