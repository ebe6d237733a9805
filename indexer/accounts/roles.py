"""The roles of an account and what each may do.

A role includes the ones below it: an admin may do everything an editor may, an editor
everything a viewer may.

| role | may |
| --- | --- |
| viewer | search and read |
| editor | also correct, confirm, review, run adaptation |
| admin | also manage accounts and collections |
"""

from __future__ import annotations

from enum import StrEnum

from indexer.accounts.errors import AccountError


class Role(StrEnum):
    """What an account may do; each role includes the ones before it."""

    VIEWER = "viewer"
    """Search and read."""
    EDITOR = "editor"
    """Also correct, review, run adaptation."""
    ADMIN = "admin"
    """Also manage accounts and collections."""


ROLES: tuple[Role, ...] = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
"""Every role, the least allowed first."""


def parse_role(value: Role | str) -> Role:
    """The role of that name.

    Raises:
        AccountError: If `value` names no role (the message lists the valid ones).
    """
    if isinstance(value, Role):
        return value
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(ROLES)
        raise AccountError(f"unknown role {value!r}; valid roles: {valid}") from None


def role_allows(role: Role | str, needed: Role | str) -> bool:
    """Whether `role` may do what `needed` may (admin ⊇ editor ⊇ viewer).

    Raises:
        AccountError: If either names no role.
    """
    return ROLES.index(parse_role(role)) >= ROLES.index(parse_role(needed))
