"""Accounts: adding, listing, changing and removing them, logging in, API tokens.

Passwords are kept as argon2id hashes (`indexer.accounts.passwords`); an API token is
``lgj_`` and 40 random URL-safe characters, shown once when made: only its SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from indexer.accounts.errors import AccountError, AccountExistsError, UnknownAccountError
from indexer.accounts.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    spend_one_verification,
    verify_password,
)
from indexer.accounts.roles import Role, parse_role
from indexer.store.accounts import AccountRecord, AccountRows
from indexer.store.db import Database

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "lgj_"
"""How every API token starts (so that a leaked one is recognisable)."""
_TOKEN_BYTES = 30
_NAME = re.compile(r"[\w.@-]{1,64}")


@dataclass(frozen=True, slots=True)
class Account:
    """A person who may use the workbench and the HTTP API.

    Attributes:
        id: The database id.
        name: The name, recorded as the editor of the account's corrections.
        role: What the account may do.
        created_at: When it was made (UTC).
        password_changed_at: When its password was last set (UTC); None when unknown. A
            server that remembers verified passwords forgets them when this changes.
    """

    id: int
    name: str
    role: Role
    created_at: dt.datetime
    password_changed_at: dt.datetime | None = None


def check_name(name: str) -> str:
    """Returns `name` if it is a valid account name.

    Valid: 1 to 64 characters, each a letter, a digit, ``.``, ``_``, ``-`` or ``@``.

    Raises:
        AccountError: If it is not.
    """
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"invalid account name {name!r}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )
    return name


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountStore:
    """The accounts of a database.

    Args:
        database: An open database (``repository.database``).
    """

    def __init__(self, database: Database) -> None:
        self._rows = AccountRows(database)

    def has_accounts(self) -> bool:
        """Whether any account exists: one indexed row read, cheap enough for every request."""
        return self._rows.any()

    def add(self, name: str, password: str, role: Role | str) -> Account:
        """Adds an account.

        Raises:
            AccountError: If the name is malformed or the role unknown.
            WeakPasswordError: If the password is too short.
            AccountExistsError: If an account of that name exists.
        """
        check_name(name)
        parsed = parse_role(role)
        check_password(password)
        if self._rows.by_name(name) is not None:
            raise AccountExistsError(f"an account named {name!r} exists")
        record = self._rows.insert(name, parsed.value, hash_password(password))
        if record is None:  # added by someone else meanwhile
            raise AccountExistsError(f"an account named {name!r} exists")
        logger.info("account %s added (%s)", name, parsed.value)
        return _account(record)

    def get(self, name: str) -> Account | None:
        """The account of that name, None if there is none."""
        record = self._rows.by_name(name)
        return _account(record) if record is not None else None

    def accounts(self) -> list[Account]:
        """Every account, by name."""
        return [_account(record) for record in self._rows.all()]

    def token_counts(self) -> dict[str, int]:
        """How many API tokens each account holds, by name (0 for accounts without)."""
        counts = self._rows.token_counts()
        return {record.name: counts.get(record.name, 0) for record in self._rows.all()}

    def set_password(self, name: str, password: str) -> None:
        """Gives an account a new password (its tokens stay valid).

        Raises:
            WeakPasswordError: If the password is too short.
            UnknownAccountError: If there is no such account.
        """
        if not self._rows.set_hash(name, hash_password(password)):
            raise UnknownAccountError(f"no account named {name!r}")
        logger.info("password of account %s changed", name)

    def set_role(self, name: str, role: Role | str) -> Account:
        """Gives an account another role.

        Raises:
            AccountError: If the role is unknown.
            UnknownAccountError: If there is no such account.
        """
        record = self._rows.set_role(name, parse_role(role).value)
        if record is None:
            raise UnknownAccountError(f"no account named {name!r}")
        logger.info("account %s is now %s", name, record.role)
        return _account(record)

    def remove(self, name: str) -> None:
        """Removes an account and its API tokens (its corrections keep its name).

        Raises:
            UnknownAccountError: If there is no such account.
        """
        if not self._rows.delete(name):
            raise UnknownAccountError(f"no account named {name!r}")
        logger.info("account %s removed", name)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account if `password` is its password; None otherwise.

        An unknown name costs one hash verification too, so that timing does not tell which
        names exist. A hash made with older argon2 parameters is replaced on success.
        """
        record = self._rows.by_name(name) if _NAME.fullmatch(name) else None
        if record is None:
            spend_one_verification(password)
            return None
        if not verify_password(record.password_hash, password):
            return None
        if needs_rehash(record.password_hash):
            self._rows.rehash(record.id, record.password_hash, hash_password(password))
        return _account(record)

    def new_token(self, name: str, label: str | None = None) -> str:
        """Makes an API token for an account; it is returned once and never stored.

        Raises:
            UnknownAccountError: If there is no such account.
        """
        token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
        if not self._rows.insert_token(name, token_digest(token), label):
            raise UnknownAccountError(f"no account named {name!r}")
        logger.info("API token made for account %s", name)
        return token

    def authenticate_token(self, token: str) -> Account | None:
        """The account owning an API token; None for an unknown or malformed token."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        record = self._rows.by_token(token_digest(token))
        return _account(record) if record is not None else None

    def revoke_tokens(self, name: str) -> int:
        """Removes every API token of an account; returns how many there were.

        Raises:
            UnknownAccountError: If there is no such account.
        """
        count = self._rows.delete_tokens(name)
        if count is None:
            raise UnknownAccountError(f"no account named {name!r}")
        logger.info("%d API token(s) of account %s revoked", count, name)
        return count


def _account(record: AccountRecord) -> Account:
    return Account(
        id=record.id,
        name=record.name,
        role=parse_role(record.role),
        created_at=record.created_at,
        password_changed_at=record.password_changed_at,
    )
