"""Accounts and roles, shared by the HTTP API and the workbench.

`AccountStore` adds, changes and removes accounts, checks passwords (argon2id) and API
tokens (only their SHA-256 is stored); `role_allows` says what a role may do.
"""

from indexer.accounts.errors import (
    AccountError,
    AccountExistsError,
    UnknownAccountError,
    WeakPasswordError,
)
from indexer.accounts.roles import ROLES, Role, role_allows
from indexer.accounts.store import Account, AccountStore

__all__ = [
    "ROLES",
    "Account",
    "AccountError",
    "AccountExistsError",
    "AccountStore",
    "Role",
    "UnknownAccountError",
    "WeakPasswordError",
    "role_allows",
]
