"""Password hashing with argon2id (argon2-cffi's `PasswordHasher`, its default parameters)."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from indexer.accounts.errors import AccountError, WeakPasswordError

MIN_PASSWORD_LENGTH = 8
"""The shortest password accepted."""
MAX_PASSWORD_LENGTH = 1024
"""The longest password accepted (hashing a huge one would cost the server)."""

_HASHER = PasswordHasher()


def check_password(password: str) -> None:
    """Refuses a password that is too short or too long.

    Raises:
        WeakPasswordError: If it is empty or shorter than `MIN_PASSWORD_LENGTH` characters.
        AccountError: If it is longer than `MAX_PASSWORD_LENGTH` characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
            + (" (it is empty)" if not password else f" (it has {len(password)})")
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of a password (a PHC string, ``$argon2id$...``), salted at random.

    Raises:
        WeakPasswordError: If the password is too short (see `check_password`).
        AccountError: If it is too long.
    """
    check_password(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash` (False for a malformed hash too)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def spend_one_verification(password: str) -> None:
    """Verifies `password` against the hash of a random one, and forgets the outcome.

    A login under an unknown name then costs as long as one under a known name with a wrong
    password, so timing does not tell which names exist.
    """
    verify_password(_decoy_hash(), password)


@functools.cache
def _decoy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))
