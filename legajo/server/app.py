"""The ASGI application of `legajo serve` (FastAPI on uvicorn).

FastAPI, because the JSON API wants typed request and response models, validation with
clear errors, and OpenAPI documentation at ``/docs`` without hand-written schemas; it runs on
Starlette and uvicorn, which Streamlit already brings along, so the service adds one small
package. The routes live in three routers: ``/api`` (`legajo.server.api.routes`), ``/iiif``
(`legajo.server.iiif.routes`) and the bundled Mirador viewer (`legajo.server.iiif.viewer`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.settings import StorageSettings
from legajo import __version__
from legajo.server.api.docs import install_docs
from legajo.server.api.routes import router as api_router
from legajo.server.context import ServerContext
from legajo.server.errors import install_error_handlers
from legajo.server.iiif.routes import router as iiif_router
from legajo.server.iiif.viewer import router as viewer_router

logger = logging.getLogger(__name__)


def create_app(
    storage: StorageSettings,
    *,
    read_only: bool = False,
    public_read: bool = False,
    base_url: str | None = None,
    no_auth: bool = False,
) -> FastAPI:
    """Builds the service over an existing database.

    Args:
        storage: The home folder and the database URL.
        read_only: Refuse every write.
        public_read: Let anonymous requests read when accounts exist.
        base_url: The public address of the server, for IIIF ids; None to use each
            request's own.
        no_auth: Without accounts, answer other machines too (``--no-auth``).

    Returns:
        The application; the database is opened when it starts and closed when it stops.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from indexer.accounts import AccountStore
        from indexer.search.service import SearchService
        from indexer.store.db import open_existing_database
        from indexer.store.repository import Repository

        repository = Repository(open_existing_database(storage.database_url, upgrade=not read_only))
        app.state.context = ServerContext(
            storage=storage,
            repository=repository,
            search=SearchService(repository, storage.home),
            accounts=AccountStore(repository.database),
            read_only=read_only,
            public_read=public_read,
            base_url=base_url.rstrip("/") if base_url else None,
            no_auth=no_auth,
        )
        logger.info("serving %s", repository.database.url)
        try:
            yield
        finally:
            repository.database.close()

    app = FastAPI(
        title="legajo",
        version=__version__,
        description="Search, read and correct an archive's handwritten pages; IIIF for viewers.",
        lifespan=lifespan,
        docs_url=None,  # `install_docs`: Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    install_docs(app)
    app.include_router(api_router)
    app.include_router(iiif_router)
    app.include_router(viewer_router)
    return app
