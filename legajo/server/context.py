"""What the routes of `legajo serve` share: one per server process, on ``app.state.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from indexer.settings import StorageSettings
from legajo.server.passwords import VerifiedPasswords

if TYPE_CHECKING:
    from indexer.accounts import AccountStore
    from indexer.search.service import SearchService
    from indexer.store.repository import Repository


@dataclass(frozen=True, slots=True)
class ServerContext:
    """The server's resources and settings.

    Attributes:
        storage: The home folder (index files, image derivatives) and the database URL.
        repository: The database.
        search: The search service (indexes loaded once per process).
        accounts: The accounts of the database.
        read_only: Every write is refused (405 ``read_only``), whatever the account's role.
        public_read: Anonymous requests may read (search, pages, IIIF) even when accounts
            exist; writes always need an account then.
        base_url: The server's public address, for the ids of IIIF resources (``--base-url``);
            None to take it from each request.
        no_auth: Started with ``--no-auth``: without accounts, requests from other machines
            are answered too (`legajo.server.auth`).
        verified_passwords: HTTP Basic pairs verified lately (`legajo.server.passwords`).
    """

    storage: StorageSettings
    repository: Repository
    search: SearchService
    accounts: AccountStore
    read_only: bool = False
    public_read: bool = False
    base_url: str | None = None
    no_auth: bool = False
    verified_passwords: VerifiedPasswords = field(default_factory=VerifiedPasswords)


def server_context(request: Request) -> ServerContext:
    """The context of the app serving `request` (a FastAPI dependency)."""
    context: ServerContext = request.app.state.context
    return context


Context = Annotated[ServerContext, Depends(server_context)]
"""A route parameter of this type receives the server's context."""
