"""Passwords verified lately, so that HTTP Basic does not cost an argon2 check per request.

A script sending the same name and password with every request would otherwise pay one
argon2 verification (a few hundred milliseconds on a busy machine) each time. A pair that
verified is remembered for `TTL_S` seconds, as a keyed hash (HMAC-SHA-256 with a key made
when the server starts; the password itself is never kept), together with when the
account's password was last set. The account is still looked up on every request, so a
removed account, a changed role or a changed password takes effect at once. Failed attempts
are never remembered: each one pays the full check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time

TTL_S = 60.0
"""How long a verified name and password are remembered."""
MAX_ENTRIES = 1024
"""Most pairs remembered; the oldest are forgotten first."""


class VerifiedPasswords:
    """Name and password pairs verified in the last `ttl_s` seconds (module docstring).

    Args:
        ttl_s: How long a pair is remembered.
        max_entries: Most pairs remembered.
    """

    def __init__(self, ttl_s: float = TTL_S, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _digest(self, name: str, password: str, changed: dt.datetime | None) -> bytes:
        stamp = changed.isoformat() if changed is not None else "-"
        message = "\0".join((name, password, stamp)).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def recall(self, name: str, password: str, changed: dt.datetime | None) -> bool:
        """Whether this pair verified less than `ttl_s` seconds ago.

        Args:
            name: The account's name.
            password: The password given.
            changed: When the account's password was last set, as stored now: a pair
                remembered before a change is not recalled.
        """
        digest = self._digest(name, password, changed)
        with self._lock:
            expiry = self._expiry.get(digest)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._expiry[digest]
                return False
            return True

    def remember(self, name: str, password: str, changed: dt.datetime | None) -> None:
        """Records that this pair verified now, against the password set at `changed`."""
        digest = self._digest(name, password, changed)
        with self._lock:
            if len(self._expiry) >= self._max_entries:
                oldest = min(self._expiry, key=self._expiry.__getitem__)
                del self._expiry[oldest]
            self._expiry[digest] = time.monotonic() + self._ttl_s

    def forget(self, name: str, password: str, changed: dt.datetime | None) -> None:
        """Drops this pair."""
        with self._lock:
            self._expiry.pop(self._digest(name, password, changed), None)
