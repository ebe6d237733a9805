"""Build step: bring Mirador from npm into the package, for the viewer at ``/viewer``.

``python -m legajo.server.iiif.bundle`` installs the npm packages that
``legajo/server/iiif/mirador/package-lock.json`` pins (``npm ci``) and copies Mirador's UMD
build (React and its other dependencies included) into ``legajo/server/iiif/mirador/vendor/``;
`make setup` and the wheel's build run it (`ui.viewer.bundle` does the work), so the browser
loads Mirador from legajo itself and never from a CDN.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ui.viewer.bundle import NpmBundle, is_bundled, run_bundle_command

MIRADOR_FOLDER = Path(__file__).resolve().parent / "mirador"
_PACKAGE = Path("node_modules", "mirador")
MIRADOR = NpmBundle(
    name="the Mirador viewer",
    folder=MIRADOR_FOLDER,
    vendor=MIRADOR_FOLDER / "vendor",
    copies=(
        (_PACKAGE / "dist" / "mirador.min.js", Path("mirador.min.js")),
        (_PACKAGE / "LICENSE", Path("LICENSE.txt")),
    ),
    required=(Path("mirador.min.js"),),
)
"""Mirador 4's UMD build (``window.Mirador``) and its licence."""


def mirador_bundled() -> bool:
    """True when Mirador's files were copied into the vendor folder."""
    return is_bundled(MIRADOR.vendor, MIRADOR.required)


def main(argv: list[str] | None = None) -> int:
    """``python -m legajo.server.iiif.bundle [--force]``."""
    return run_bundle_command(MIRADOR, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
