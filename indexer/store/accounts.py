"""The account rows: names, roles, password hashes and the SHA-256 of API tokens.

Plain queries only; what a role may do, how passwords are hashed and how tokens are made
belongs to `indexer.accounts`, which is the only caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from indexer.errors import DatabaseAccessError
from indexer.store.db import Database
from indexer.store.orm import AccountRow, AccountTokenRow, utc_now
from indexer.store.runs import as_utc

TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
"""A token's ``last_used_at`` is written at most this often (a write per request would
queue every request behind SQLite's single writer)."""


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account row as stored.

    Attributes:
        id: The row id.
        name: The account's name.
        role: The role's name, as stored.
        password_hash: The password's hash (PHC string).
        created_at: When the account was made (UTC).
        password_changed_at: When its password was last set (UTC).
    """

    id: int
    name: str
    role: str
    password_hash: str
    created_at: dt.datetime
    password_changed_at: dt.datetime


class AccountRows:
    """Reads and writes the ``accounts`` and ``account_tokens`` tables.

    Args:
        database: An open database.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    def any(self) -> bool:
        """Whether at least one account exists (one indexed row read at most).

        False for a database opened without migrating (``legajo ui --read-only``) whose
        schema predates accounts: it cannot hold any.

        Raises:
            DatabaseAccessError: If the database cannot be reached.
        """
        try:
            with self._db.read() as session:
                return session.scalar(select(AccountRow.id).limit(1)) is not None
        except (DatabaseAccessError, SQLAlchemyError):
            if self._has_table():
                raise
            return False

    def _has_table(self) -> bool:
        try:
            return inspect(self._db.engine).has_table(AccountRow.__tablename__)
        except SQLAlchemyError:
            return True  # unreachable: let the original error through

    def insert(self, name: str, role: str, password_hash: str) -> AccountRecord | None:
        """Adds an account; None when the name is taken."""
        try:
            with self._db.write() as session:
                row = AccountRow(name=name, role=role, password_hash=password_hash)
                session.add(row)
                session.flush()
                return _record(row)
        except IntegrityError:
            return None

    def by_name(self, name: str) -> AccountRecord | None:
        """The account of that name, None if there is none."""
        with self._db.read() as session:
            row = session.scalar(select(AccountRow).where(AccountRow.name == name))
            return _record(row) if row is not None else None

    def by_id(self, account_id: int) -> AccountRecord | None:
        """The account with that id, None if there is none."""
        with self._db.read() as session:
            row = session.get(AccountRow, account_id)
            return _record(row) if row is not None else None

    def all(self) -> list[AccountRecord]:
        """Every account, by name."""
        with self._db.read() as session:
            rows = session.scalars(select(AccountRow).order_by(AccountRow.name))
            return [_record(row) for row in rows]

    def set_hash(self, name: str, password_hash: str) -> bool:
        """Stores a new password hash; False when there is no such account."""
        with self._db.write() as session:
            result = session.execute(
                update(AccountRow)
                .where(AccountRow.name == name)
                .values(password_hash=password_hash, password_changed_at=utc_now())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def rehash(self, account_id: int, old_hash: str, new_hash: str) -> None:
        """Replaces a hash made with older parameters, unless the password changed meanwhile."""
        with self._db.write() as session:
            session.execute(
                update(AccountRow)
                .where(AccountRow.id == account_id, AccountRow.password_hash == old_hash)
                .values(password_hash=new_hash)
            )

    def set_role(self, name: str, role: str) -> AccountRecord | None:
        """Changes an account's role; None when there is no such account."""
        with self._db.write() as session:
            row = session.scalar(select(AccountRow).where(AccountRow.name == name))
            if row is None:
                return None
            row.role = role
            session.flush()
            return _record(row)

    def delete(self, name: str) -> bool:
        """Removes an account and its tokens; False when there is no such account."""
        with self._db.write() as session:
            account_id = session.scalar(select(AccountRow.id).where(AccountRow.name == name))
            if account_id is None:
                return False
            # The foreign key cascades too; deleting explicitly does not rely on it.
            session.execute(delete(AccountTokenRow).where(AccountTokenRow.account_id == account_id))
            session.execute(delete(AccountRow).where(AccountRow.id == account_id))
            return True

    def insert_token(self, name: str, sha256: str, label: str | None) -> bool:
        """Stores a token's digest for an account; False when there is no such account."""
        with self._db.write() as session:
            account_id = session.scalar(select(AccountRow.id).where(AccountRow.name == name))
            if account_id is None:
                return False
            session.add(AccountTokenRow(account_id=account_id, sha256=sha256, label=label))
            return True

    def by_token(self, sha256: str) -> AccountRecord | None:
        """The account owning the token with that digest (None if none); notes its use."""
        with self._db.read() as session:
            found = session.execute(
                select(AccountRow, AccountTokenRow.id, AccountTokenRow.last_used_at)
                .join(AccountTokenRow, AccountTokenRow.account_id == AccountRow.id)
                .where(AccountTokenRow.sha256 == sha256)
            ).first()
            if found is None:
                return None
            row, token_id, last_used = found
            record = _record(row)
        now = utc_now()
        if last_used is None or now - as_utc(last_used) >= TOKEN_TOUCH_INTERVAL:
            with self._db.write() as session:
                session.execute(
                    update(AccountTokenRow)
                    .where(AccountTokenRow.id == token_id)
                    .values(last_used_at=now)
                )
        return record

    def delete_tokens(self, name: str) -> int | None:
        """Removes every token of an account: how many; None when there is no such account."""
        with self._db.write() as session:
            account_id = session.scalar(select(AccountRow.id).where(AccountRow.name == name))
            if account_id is None:
                return None
            result = session.execute(
                delete(AccountTokenRow).where(AccountTokenRow.account_id == account_id)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def token_counts(self) -> dict[str, int]:
        """How many tokens each account holds, by account name (accounts without: absent)."""
        with self._db.read() as session:
            rows = session.execute(
                select(AccountRow.name, func.count(AccountTokenRow.id))
                .join(AccountTokenRow, AccountTokenRow.account_id == AccountRow.id)
                .group_by(AccountRow.name)
            )
            return {name: int(count) for name, count in rows}


def _record(row: AccountRow) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        created_at=as_utc(row.created_at),
        password_changed_at=as_utc(row.password_changed_at),
    )
