"""`legajo.server`: reading credentials, who a correction is recorded as, errors to answers."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from indexer.accounts import Account, AccountExistsError, Role, WeakPasswordError
from indexer.accounts.errors import PermissionDeniedError
from indexer.errors import (
    DatabaseAccessError,
    LineNotFoundError,
    SearchTimeoutError,
    StaleLineError,
)
from indexer.search.query import QuerySyntaxError
from legajo.server.auth import Caller, Credentials, credentials_of, editor_name
from legajo.server.errors import ApiError, api_error_of
from legajo.server.passwords import VerifiedPasswords


def basic_header(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_basic_and_bearer_are_read() -> None:
    assert credentials_of(None) is None
    assert credentials_of("  ") is None
    assert credentials_of(basic_header("ana:pa:ss wörd")) == Credentials(
        "basic", "ana", "pa:ss wörd"
    )
    assert credentials_of("bearer lgj_abc") == Credentials("bearer", None, "lgj_abc")


@pytest.mark.parametrize(
    "header",
    ["Basic", "Basic !!!", basic_header("no colon"), "Digest x=1", "Bearer", "Basic " + "A" * 2000],
)
def test_malformed_credentials_are_401(header: str) -> None:
    with pytest.raises(ApiError) as raised:
        credentials_of(header)
    assert raised.value.status == 401 and raised.value.code == "unauthorized"
    assert raised.value.headers == {"WWW-Authenticate": 'Basic realm="legajo"'}


def test_an_account_is_recorded_not_a_typed_name() -> None:
    account = Account(1, "edna", Role.EDITOR, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert editor_name(Caller(Role.EDITOR, account), "someone else") == "edna"
    assert editor_name(Caller(Role.EDITOR), " maria ") == "maria"
    assert editor_name(Caller(Role.EDITOR), None) == "anonymous"
    assert editor_name(Caller(Role.EDITOR), "  ") == "anonymous"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (QuerySyntaxError('"a', 0, "unbalanced quote"), 400, "bad_query"),
        (StaleLineError(3, 1, 2), 409, "stale_version"),
        (LineNotFoundError("no line with id 3"), 404, "not_found"),
        (SearchTimeoutError("too slow"), 503, "search_timeout"),
        (DatabaseAccessError("locked at /secret/path"), 503, "unavailable"),
        (AccountExistsError("taken"), 409, "conflict"),
        (WeakPasswordError("short"), 400, "bad_request"),
        (PermissionDeniedError("a viewer"), 403, "forbidden"),
    ],
)
def test_library_errors_become_answers(error: Exception, status: int, code: str) -> None:
    answer = api_error_of(error)  # type: ignore[arg-type]
    assert (answer.status, answer.code) == (status, code)
    assert "/secret/path" not in answer.message


def test_stale_and_timeout_answers_carry_what_a_client_needs() -> None:
    stale = api_error_of(StaleLineError(3, 1, 2))
    assert stale.details == {"line_id": 3, "expected_version": 1, "current_version": 2}
    timeout = api_error_of(SearchTimeoutError("too slow"))
    assert timeout.headers == {"Retry-After": "1"}


def test_verified_passwords_are_remembered_for_a_while() -> None:
    set_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    remembered = VerifiedPasswords(ttl_s=60.0, max_entries=2)
    assert not remembered.recall("ana", "secret-1", set_at)
    remembered.remember("ana", "secret-1", set_at)
    assert remembered.recall("ana", "secret-1", set_at)
    assert not remembered.recall("ana", "secret-2", set_at)
    assert not remembered.recall("ana2", "secret-1", set_at)
    # the password was set again since: the old one must be checked again
    assert not remembered.recall("ana", "secret-1", set_at + dt.timedelta(seconds=1))
    remembered.forget("ana", "secret-1", set_at)
    assert not remembered.recall("ana", "secret-1", set_at)
    for name in ("a", "b", "c"):
        remembered.remember(name, "pw", None)
    assert not remembered.recall("a", "pw", None) and remembered.recall("c", "pw", None)
    expired = VerifiedPasswords(ttl_s=-1.0)
    expired.remember("ana", "secret-1", set_at)
    assert not expired.recall("ana", "secret-1", set_at)


def test_unexpected_errors_are_500_and_tell_nothing() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from legajo.server.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at /secret/path")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {
            "status": 500,
            "code": "internal_error",
            "message": "internal server error",
            "details": None,
        }
    }
    assert "hunter2" not in answer.text
