"""Accounts on real SQLite and PostgreSQL databases: argon2 hashes, tokens, roles, names."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from indexer.accounts import (
    ROLES,
    AccountError,
    AccountExistsError,
    AccountStore,
    Role,
    UnknownAccountError,
    WeakPasswordError,
    role_allows,
)
from indexer.accounts.binding import check_binding, is_loopback
from indexer.accounts.errors import UnsafeBindingError
from indexer.store.db import Database, open_database
from tests.integration import test_postgres as backends

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

PASSWORD = "correct horse"


@pytest.fixture
def database(database_url: str) -> Database:
    return open_database(database_url)


@pytest.fixture
def store(database: Database) -> AccountStore:
    return AccountStore(database)


def _column(database: Database, sql: str) -> list[object]:
    with database.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(sql))]


def test_accounts_are_added_listed_and_found(store: AccountStore, database: Database) -> None:
    assert not store.has_accounts()
    ana = store.add("ana", PASSWORD, "editor")
    store.add("bea.r@archivo", PASSWORD, Role.VIEWER)
    assert store.has_accounts()
    assert ana.role is Role.EDITOR and ana.name == "ana" and ana.created_at.tzinfo is not None
    assert [(a.name, a.role) for a in store.accounts()] == [
        ("ana", Role.EDITOR),
        ("bea.r@archivo", Role.VIEWER),
    ]
    assert store.get("ana") == ana
    assert store.get("nadie") is None
    [stored] = _column(database, "SELECT password_hash FROM accounts WHERE name = 'ana'")
    assert isinstance(stored, str) and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    with pytest.raises(AccountExistsError):
        store.add("ana", PASSWORD, "admin")


def test_passwords_are_checked(store: AccountStore) -> None:
    store.add("ana", PASSWORD, "admin")
    assert store.authenticate("ana", PASSWORD) == store.get("ana")
    assert store.authenticate("ana", PASSWORD + "!") is None
    assert store.authenticate("ana", "") is None
    assert store.authenticate("nadie", PASSWORD) is None
    assert store.authenticate("not a name", PASSWORD) is None
    store.set_password("ana", "another secret")
    assert store.authenticate("ana", PASSWORD) is None
    assert store.authenticate("ana", "another secret") is not None
    for weak in ("", "short"):
        with pytest.raises(WeakPasswordError):
            store.set_password("ana", weak)
        with pytest.raises(WeakPasswordError):
            store.add("bea", weak, "viewer")
    with pytest.raises(UnknownAccountError):
        store.set_password("nadie", PASSWORD)


def test_tokens_are_stored_hashed_and_removed_with_their_account(
    store: AccountStore, database: Database
) -> None:
    store.add("ana", PASSWORD, "editor")
    store.add("bea", PASSWORD, "viewer")
    token = store.new_token("ana", label="script")
    other = store.new_token("ana")
    kept = store.new_token("bea")
    assert token.startswith("lgj_") and len(token) == 44 and token != other
    assert store.authenticate_token(token) == store.get("ana")
    assert store.authenticate_token(kept) == store.get("bea")
    assert store.authenticate_token(token + "x") is None
    assert store.authenticate_token("not-a-token") is None
    digests = _column(database, "SELECT sha256 FROM account_tokens")
    assert len(digests) == 3 and token not in digests and all(len(d) == 64 for d in digests)
    [used] = _column(database, "SELECT last_used_at FROM account_tokens WHERE label = 'script'")
    assert used is not None
    assert store.token_counts() == {"ana": 2, "bea": 1}
    store.remove("ana")
    assert store.get("ana") is None
    assert store.authenticate_token(token) is None
    assert len(_column(database, "SELECT id FROM account_tokens")) == 1
    assert store.revoke_tokens("bea") == 1
    assert store.authenticate_token(kept) is None
    for call in (store.remove, store.revoke_tokens, store.new_token):
        with pytest.raises(UnknownAccountError):
            call("ana")


def test_roles_change_and_unknown_ones_are_refused(store: AccountStore) -> None:
    store.add("ana", PASSWORD, "viewer")
    assert store.set_role("ana", "ADMIN").role is Role.ADMIN
    assert store.get("ana") is not None and store.get("ana").role is Role.ADMIN  # type: ignore[union-attr]
    with pytest.raises(AccountError, match="viewer, editor, admin"):
        store.set_role("ana", "owner")
    with pytest.raises(AccountError, match="valid roles"):
        store.add("bea", PASSWORD, "root")
    with pytest.raises(UnknownAccountError):
        store.set_role("nadie", "viewer")


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "ana;drop", "ana/..", "ana\n"])
def test_malformed_names_are_refused(store: AccountStore, name: str) -> None:
    with pytest.raises(AccountError, match="invalid account name"):
        store.add(name, PASSWORD, "viewer")
    assert not store.has_accounts()


def test_names_may_use_letters_digits_and_some_marks(store: AccountStore) -> None:
    for name in ("a", "José.María_2-x@archivo.es", "x" * 64):
        assert store.add(name, PASSWORD, "viewer").name == name


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        ("viewer", "viewer", True),
        ("viewer", "editor", False),
        ("viewer", "admin", False),
        ("editor", "viewer", True),
        ("editor", "editor", True),
        ("editor", "admin", False),
        ("admin", "viewer", True),
        ("admin", "editor", True),
        ("admin", "admin", True),
    ],
)
def test_role_allows(role: str, needed: str, allowed: bool) -> None:
    assert role_allows(role, needed) is allowed
    assert role_allows(Role(role), Role(needed)) is allowed


def test_roles_are_ordered_and_unknown_ones_are_errors() -> None:
    assert ROLES == (Role.VIEWER, Role.EDITOR, Role.ADMIN)
    with pytest.raises(AccountError):
        role_allows("owner", "viewer")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("archivo.example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_accounts_or_no_auth() -> None:
    assert check_binding("127.0.0.1", has_accounts=False, no_auth=False) is None
    assert check_binding("0.0.0.0", has_accounts=True, no_auth=False) is None
    with pytest.raises(UnsafeBindingError, match="--no-auth"):
        check_binding("0.0.0.0", has_accounts=False, no_auth=False)
    warning = check_binding("0.0.0.0", has_accounts=False, no_auth=True)
    assert warning is not None and warning.startswith("WARNING") and "anyone" in warning
    assert issubclass(UnsafeBindingError, AccountError)


def test_the_accounts_migration_goes_down_and_up(database: Database) -> None:
    from alembic import command
    from alembic.config import Config

    from indexer.store.db import migrations_folder, schema_revision

    AccountStore(database).add("ana", PASSWORD, "admin")
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    for step, revision in ((command.downgrade, "0006"), (command.upgrade, "head")):
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    assert schema_revision(database) == "0007"
    assert not AccountStore(database).has_accounts()


def test_a_database_from_before_accounts_has_none(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE account_tokens"))
        connection.execute(text("DROP TABLE accounts"))
    assert not AccountStore(database).has_accounts()
