"""The bundled Mirador viewer at ``/viewer?manifest=URL[&q=WORDS]``.

The page (``mirador/index.html``) and its script load Mirador from this server
(``/viewer/mirador.min.js``, copied from npm at build time by `legajo.server.iiif.bundle`),
so it works without the internet. Without the bundle, ``/viewer`` says how to build it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from legajo.server.iiif.bundle import MIRADOR, MIRADOR_FOLDER, mirador_bundled

logger = logging.getLogger(__name__)

router = APIRouter(tags=["viewer"])
PAGE = MIRADOR_FOLDER / "index.html"
SCRIPTS = {
    "mirador.min.js": MIRADOR.vendor / "mirador.min.js",
    "legajo-viewer.js": MIRADOR_FOLDER / "legajo-viewer.js",
}
"""The only files the viewer serves, by name: nothing else under its folder is reachable."""
NOT_BUILT = (
    "<!doctype html><title>legajo viewer</title><p>The Mirador viewer is not installed: "
    "run <code>python -m legajo.server.iiif.bundle</code> (needs npm), then restart "
    "<code>legajo serve</code>.</p>"
)


@router.get("/viewer", summary="Mirador, opening ?manifest=URL", response_class=HTMLResponse)
def viewer_page() -> Response:
    """The viewer's page."""
    if not mirador_bundled():
        logger.warning("the viewer was asked for, but Mirador is not bundled")
        return HTMLResponse(NOT_BUILT, status_code=503)
    return FileResponse(PAGE, media_type="text/html; charset=utf-8")


@router.get("/viewer/{name}", include_in_schema=False)
def viewer_script(name: str) -> Response:
    """One of the viewer's scripts (`SCRIPTS`); anything else is 404."""
    path: Path | None = SCRIPTS.get(name)
    if path is None or not path.is_file():
        return Response(status_code=404)
    return FileResponse(
        path,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
