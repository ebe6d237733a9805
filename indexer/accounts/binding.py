"""Where a server may listen: beyond this machine only with accounts, or when told so.

A workbench or HTTP API without accounts lets anyone who reaches it read and edit
everything, so it listens on the loopback interface only, unless ``--no-auth`` says that
is wanted; `check_binding` is the one rule both servers follow.
"""

from __future__ import annotations

import ipaddress

from indexer.accounts.errors import UnsafeBindingError

LOOPBACK_HOST = "127.0.0.1"
"""Where a server listens by default."""


def is_loopback(host: str) -> bool:
    """Whether `host` is an address (or ``localhost``) reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(host: str, has_accounts: bool, no_auth: bool) -> str | None:
    """Checks that a server may listen on `host`.

    Args:
        host: The address asked for (``--host``).
        has_accounts: Whether the database holds accounts (then any host is fine).
        no_auth: Whether ``--no-auth`` was given: listen anyway, without accounts.

    Returns:
        A warning to print loudly (to stderr) when the server will listen beyond this
        machine without accounts because of `no_auth`; None when all is well.

    Raises:
        UnsafeBindingError: If `host` is not a loopback address, there are no accounts and
            `no_auth` is False.
    """
    if has_accounts or is_loopback(host):
        return None
    if not no_auth:
        raise UnsafeBindingError(
            f"refusing to listen on {host}: the database has no accounts, so anyone on the "
            "network could read and edit everything. Add an account first "
            "(legajo users add NAME --role admin), or pass --no-auth to do it anyway"
        )
    return (
        f"WARNING: listening on {host} with no accounts (--no-auth): anyone on the network "
        "can edit everything in this archive, and read it"
    )
