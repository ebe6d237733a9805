"""`legajo.server` in process (no socket): read-only servers, local-only servers, public reading.

The behaviour scripts meet over HTTP is in `tests.integration.test_server_api`; these rules need
a request from another machine, or a server started with other options, which the in-process
client gives cheaply.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.accounts import AccountStore
from indexer.settings import StorageSettings, resolve_storage
from indexer.store.db import open_database
from legajo.server.app import create_app

LOCAL = ("127.0.0.1", 50000)
REMOTE = ("192.0.2.7", 50000)
PASSWORD = "correct horse battery"


@pytest.fixture
def storage(tmp_path: Path) -> StorageSettings:
    settings = resolve_storage(tmp_path / "home", None, environ={})
    open_database(settings.database_url).close()
    return settings


def client(storage: StorageSettings, peer: tuple[str, int], **options: bool) -> TestClient:
    return TestClient(create_app(storage, **options), client=peer)  # type: ignore[arg-type]


@pytest.fixture
def with_viewer(storage: StorageSettings) -> Iterator[StorageSettings]:
    database = open_database(storage.database_url)
    try:
        AccountStore(database).add("vera", PASSWORD, "viewer")
    finally:
        database.close()
    yield storage


def test_without_accounts_other_machines_are_refused(storage: StorageSettings) -> None:
    with client(storage, LOCAL) as local:
        assert local.get("/api/me").json()["role"] == "editor"
    with client(storage, REMOTE) as remote:
        answer = remote.get("/api/me")
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
        assert remote.get("/api/health").status_code == 200
    with client(storage, REMOTE, no_auth=True) as opened:
        assert opened.get("/api/me").json()["role"] == "editor"


def test_read_only_refuses_writes_with_405(storage: StorageSettings) -> None:
    with client(storage, LOCAL, read_only=True) as local:
        answer = local.put("/api/lines/1", json={"text": "x", "version": 1})
        assert answer.status_code == 405 and answer.headers["allow"] == "GET"
        assert answer.json()["error"]["code"] == "read_only"
        assert local.get("/api/me").json()["read_only"] is True


def test_public_read_lets_anonymous_read_but_not_write(with_viewer: StorageSettings) -> None:
    with client(with_viewer, REMOTE) as closed:
        assert closed.get("/api/stats").status_code == 401
    with client(with_viewer, REMOTE, public_read=True) as public:
        assert public.get("/api/stats").status_code == 200
        assert public.get("/api/me").json() == {
            "name": None,
            "role": "viewer",
            "accounts": True,
            "read_only": False,
        }
        answer = public.put("/api/lines/1", json={"text": "x", "version": 1})
        assert answer.status_code == 401 and "www-authenticate" in answer.headers


def test_a_remembered_password_stops_working_once_changed(
    with_viewer: StorageSettings,
) -> None:
    with client(with_viewer, REMOTE) as remote:
        auth = ("vera", PASSWORD)
        assert remote.get("/api/me", auth=auth).status_code == 200
        assert remote.get("/api/me", auth=auth).status_code == 200  # remembered
        database = open_database(with_viewer.database_url)
        try:
            AccountStore(database).set_password("vera", "another-passphrase")
        finally:
            database.close()
        assert remote.get("/api/me", auth=auth).status_code == 401
        assert remote.get("/api/me", auth=("vera", "another-passphrase")).status_code == 200
        database = open_database(with_viewer.database_url)
        try:
            AccountStore(database).set_password("vera", PASSWORD)  # as the other tests expect
        finally:
            database.close()


def test_a_remembered_password_stops_working_with_its_account(
    with_viewer: StorageSettings,
) -> None:
    with client(with_viewer, REMOTE) as remote:
        auth = ("vera", PASSWORD)
        assert remote.get("/api/me", auth=auth).json()["name"] == "vera"
        assert remote.get("/api/me", auth=auth).status_code == 200  # remembered
        database = open_database(with_viewer.database_url)
        try:
            AccountStore(database).remove("vera")
        finally:
            database.close()
        assert remote.get("/api/me", auth=auth).status_code == 401
