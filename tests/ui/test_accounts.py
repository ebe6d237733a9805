"""The workbench with accounts: login first, viewers read only, editors write as themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from indexer.accounts import AccountStore, Role
from indexer.accounts.errors import PermissionDeniedError
from indexer.store.repository import Repository
from tests.conftest import MEMORISED_TEXTS
from tests.ui.archive import Archive
from tests.ui.conftest import APP, TIMEOUT_S
from tests.ui.test_pages import button, line_reading, open_line
from ui import state
from ui.corrections import CorrectionDesk, ReadOnlyError
from ui.login import NAME_KEY, PASSWORD_KEY
from ui.navigation import CORRECT, REVIEW

PASSWORD = "una clave larga"


@pytest.fixture
def repository(archive: Archive) -> Iterator[Repository]:
    repository = archive.repository()
    yield repository
    repository.database.close()


@pytest.fixture
def accounts(repository: Repository) -> AccountStore:
    store = AccountStore(repository.database)
    store.add("ana", PASSWORD, Role.EDITOR)
    store.add("vera", PASSWORD, Role.VIEWER)
    return store


@pytest.fixture
def app(accounts: AccountStore) -> Iterator[AppTest]:
    test = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    test.run()
    yield test
    st.cache_data.clear()
    st.cache_resource.clear()


def log_in(app: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    app.text_input(key=NAME_KEY).input(name)
    app.text_input(key=PASSWORD_KEY).input(password)
    return button(app, "Log in").click().run()


def test_the_login_page_comes_first_and_a_wrong_password_is_refused(app: AppTest) -> None:
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["Log in"]
    assert not app.text_input(key=NAME_KEY).value
    assert not any(i.key == "search.query" for i in app.text_input)
    log_in(app, "ana", "not the password")
    assert not app.exception, app.exception
    assert any("Wrong name or password" in e.value for e in app.error)
    assert state.ACCOUNT not in app.session_state
    assert not app.session_state[PASSWORD_KEY]  # the password is not kept
    log_in(app, "nadie")
    assert any("Wrong name or password" in e.value for e in app.error)


def test_an_editor_corrects_under_the_account_name(app: AppTest, repository: Repository) -> None:
    log_in(app, "ana")
    assert not app.exception, app.exception
    assert app.session_state[state.ACCOUNT].name == "ana"
    assert any("Logged in as **ana** (editor)" in m.value for m in app.sidebar.markdown)
    assert not [i for i in app.sidebar.text_input if i.key == state.EDITOR]
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    open_line(app, CORRECT, stored)
    assert not app.exception, app.exception
    app.text_input(key=f"correct.text.{stored.id}.1").input("sepan quantas esta carta")
    button(app, "Save correction").click().run()
    assert any("version 2" in s.value for s in app.success), [e.value for e in app.error]
    (row,) = repository.corrections(stored.id)
    assert (row.new_text, row.editor) == ("sepan quantas esta carta", "ana")

    button(app.sidebar, "Log out").click().run()
    assert [t.value for t in app.title] == ["Log in"]
    assert state.ACCOUNT not in app.session_state


def test_a_viewer_gets_no_editing_page_and_the_desk_refuses(
    app: AppTest, repository: Repository, accounts: AccountStore
) -> None:
    log_in(app, "vera")
    assert not app.exception, app.exception
    assert any("can search and read" in i.value for i in app.sidebar.info)
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    for page in (CORRECT, REVIEW):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            open_line(app, page, stored)
    vera = accounts.get("vera")
    desk = CorrectionDesk(repository, read_only=False, account=vera, accounts_required=True)
    assert desk.read_only
    with pytest.raises(PermissionDeniedError, match="viewer"):
        desk.save(stored.id, "sepan quantas", "vera", stored.version)
    with pytest.raises(PermissionDeniedError):
        desk.confirm(stored.id, "vera", stored.version)
    assert repository.corrections(stored.id) == []


def test_the_desk_writes_as_its_account_and_refuses_without_one(
    repository: Repository, accounts: AccountStore
) -> None:
    stored = line_reading(repository, MEMORISED_TEXTS[1])
    nobody = CorrectionDesk(repository, read_only=False, accounts_required=True)
    with pytest.raises(PermissionDeniedError, match="logging in"):
        nobody.save(stored.id, "sepan quantas", "Ana", stored.version)
    ana = accounts.get("ana")
    with pytest.raises(ReadOnlyError):
        CorrectionDesk(repository, read_only=True, account=ana).save(
            stored.id, "x", "ana", stored.version
        )
    desk = CorrectionDesk(repository, read_only=False, account=ana, accounts_required=True)
    saved = desk.save(stored.id, "sepan quantas", "Somebody Else", stored.version)
    assert repository.corrections(saved.id)[-1].editor == "ana"


def test_a_role_change_or_removal_takes_effect_at_the_next_run(
    app: AppTest, accounts: AccountStore
) -> None:
    log_in(app, "ana")
    accounts.set_role("ana", "viewer")
    app.run()
    assert any("can search and read" in i.value for i in app.sidebar.info)
    accounts.remove("ana")
    app.run()
    assert [t.value for t in app.title] == ["Log in"]
