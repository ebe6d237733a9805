"""Build step: bring Swagger UI from npm into the package, for the API's docs at ``/docs``.

``python -m legajo.server.api.docs_bundle`` installs what
``legajo/server/api/docs/package-lock.json`` pins (``npm ci``) and copies Swagger UI's
browser files into ``legajo/server/api/docs/vendor/`` (`ui.viewer.bundle` does the work);
`make setup` and the wheel's build run it. FastAPI's own ``/docs`` would load them from a CDN.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ui.viewer.bundle import NpmBundle, is_bundled, run_bundle_command

DOCS_FOLDER = Path(__file__).resolve().parent / "docs"
_PACKAGE = Path("node_modules", "swagger-ui-dist")
SWAGGER_UI = NpmBundle(
    name="the API's documentation page",
    folder=DOCS_FOLDER,
    vendor=DOCS_FOLDER / "vendor",
    copies=(
        (_PACKAGE / "swagger-ui-bundle.js", Path("swagger-ui-bundle.js")),
        (_PACKAGE / "swagger-ui.css", Path("swagger-ui.css")),
        (_PACKAGE / "favicon-32x32.png", Path("favicon-32x32.png")),
        (_PACKAGE / "LICENSE", Path("LICENSE.txt")),
    ),
    required=(Path("swagger-ui-bundle.js"), Path("swagger-ui.css")),
)
"""Swagger UI (Apache-2.0): the script, its style sheet and its icon."""


def docs_bundled() -> bool:
    """True when Swagger UI's files were copied into the vendor folder."""
    return is_bundled(SWAGGER_UI.vendor, SWAGGER_UI.required)


def main(argv: list[str] | None = None) -> int:
    """``python -m legajo.server.api.docs_bundle [--force]``."""
    return run_bundle_command(SWAGGER_UI, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
