"""The API's documentation page at ``/docs``: Swagger UI served by legajo itself.

FastAPI's own page loads Swagger UI from a CDN, which an archive's offline network cannot
reach; this one loads the copy `legajo.server.api.docs_bundle` put in the package, from
``/docs/assets/``. The OpenAPI description stays at ``/openapi.json``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from legajo.server.api.docs_bundle import SWAGGER_UI, docs_bundled

ASSETS = "/docs/assets"
"""Where Swagger UI's files are served."""


def install_docs(app: FastAPI) -> None:
    """Adds ``/docs`` (and its assets) to an app built with ``docs_url=None``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        if not docs_bundled():
            return HTMLResponse(
                "<p>The documentation page is not installed: run "
                "<code>python -m legajo.server.api.docs_bundle</code>. The API's description "
                'is at <a href="/openapi.json">/openapi.json</a>.</p>',
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.include_router(router)
    # check_dir=False: without the bundle the page above says how to build it
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI.vendor, check_dir=False), name="docs")
