"""Errors about accounts, roles, passwords and how a server may be reached."""

from __future__ import annotations

from indexer.errors import IndexerError


class AccountError(IndexerError):
    """Base class of the account errors; also a malformed name or an unknown role."""


class AccountExistsError(AccountError):
    """An account was added under a name that is taken."""


class UnknownAccountError(AccountError):
    """An account name was asked for that the database does not hold."""


class WeakPasswordError(AccountError):
    """A password is empty or shorter than `indexer.accounts.passwords.MIN_PASSWORD_LENGTH`."""


class UnsafeBindingError(AccountError):
    """A server without accounts was asked to listen beyond this machine, without ``--no-auth``."""


class PermissionDeniedError(AccountError):
    """An account tried something its role does not allow (a viewer correcting a line)."""
