"""Build step: bring a viewer's JavaScript from npm into the package (no CDN at run time).

``python -m ui.viewer.bundle`` installs the npm packages that ``ui/viewer/package-lock.json``
pins (``npm ci``: the exact versions, checked against their recorded hashes) and copies what
the browser needs into ``ui/viewer/frontend/vendor/``. `make setup` runs it, and so does the
wheel's build (``setup.py``), so the viewer ships in the package and the browser never asks a
CDN for anything. The copy is skipped when the vendor folder already holds the files of the
locked versions.

The steps are generic (`NpmBundle`, `install_bundle`): the page viewer's OpenSeadragon is
`PAGE_VIEWER`, and `legajo serve` bundles Mirador the same way
(`legajo.server.iiif.bundle`).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

STAMP_NAME = ".lock-sha256"
"""The file of a vendor folder that holds the digest of the lock file it was copied from."""


class BundleError(RuntimeError):
    """A viewer's JavaScript could not be installed or copied."""


@dataclass(frozen=True, slots=True)
class NpmBundle:
    """What one viewer takes from npm.

    Attributes:
        name: What the bundle is, for messages ("the page viewer").
        folder: Holds ``package.json`` and ``package-lock.json``; ``npm ci`` runs there.
        vendor: Where the browser's files are copied to.
        copies: (source relative to `folder`, target relative to `vendor`); a folder is
            copied whole.
        required: Files the viewer cannot work without, relative to `vendor`.
    """

    name: str
    folder: Path
    vendor: Path
    copies: tuple[tuple[Path, Path], ...]
    required: tuple[Path, ...]

    @property
    def lock_file(self) -> Path:
        """The npm lock file that pins the packages."""
        return self.folder / "package-lock.json"

    @property
    def stamp(self) -> Path:
        """The digest of the lock file the vendor folder was copied from."""
        return self.vendor / STAMP_NAME


VIEWER = Path(__file__).resolve().parent
_OPENSEADRAGON = Path("node_modules", "openseadragon")
_OPENSEADRAGON_BUILD = _OPENSEADRAGON / "build" / "openseadragon"
PAGE_VIEWER = NpmBundle(
    name="the page viewer",
    folder=VIEWER,
    vendor=VIEWER / "frontend" / "vendor",
    copies=(
        (_OPENSEADRAGON_BUILD / "openseadragon.min.js", Path("openseadragon/openseadragon.min.js")),
        (_OPENSEADRAGON_BUILD / "images", Path("openseadragon/images")),
        (_OPENSEADRAGON / "LICENSE.txt", Path("openseadragon/LICENSE.txt")),
    ),
    required=(
        Path("openseadragon", "openseadragon.min.js"),
        Path("openseadragon", "images", "home_rest.png"),
    ),
)
"""OpenSeadragon, for the workbench's page viewer."""
LOCK_FILE = PAGE_VIEWER.lock_file
VENDOR = PAGE_VIEWER.vendor
STAMP = PAGE_VIEWER.stamp
REQUIRED = PAGE_VIEWER.required
"""Files the page viewer cannot work without, relative to `VENDOR`."""


def is_bundled(vendor: Path = VENDOR, required: tuple[Path, ...] = REQUIRED) -> bool:
    """True when the vendor folder holds every file the viewer needs."""
    return all((vendor / path).is_file() for path in required)


def lock_digest(lock_file: Path = LOCK_FILE) -> str:
    """SHA-256 of the lock file: the vendor folder is current when its stamp holds this."""
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()


def is_current(
    vendor: Path = VENDOR, lock_file: Path = LOCK_FILE, required: tuple[Path, ...] = REQUIRED
) -> bool:
    """True when the vendor folder is complete and was copied from this lock file."""
    stamp = vendor / STAMP_NAME
    return (
        is_bundled(vendor, required)
        and stamp.is_file()
        and stamp.read_text(encoding="ascii").strip() == lock_digest(lock_file)
    )


def install_bundle(spec: NpmBundle, *, force: bool = False, npm: str = "npm") -> Path:
    """Installs a viewer's locked npm packages and copies its files into its vendor folder.

    Args:
        spec: The viewer's packages and files.
        force: Copy again even when the vendor folder is current.
        npm: The npm executable.

    Returns:
        The vendor folder.

    Raises:
        BundleError: If npm is missing or fails, or a package lacks an expected file.
    """
    if not force and is_current(spec.vendor, spec.lock_file, spec.required):
        spec.stamp.touch()  # newer than the lock file: make's rule is met
        logger.info("%s is current", spec.vendor)
        return spec.vendor
    executable = shutil.which(npm)
    if executable is None:
        raise BundleError(
            f"{npm} is not installed: {spec.name}'s JavaScript comes from the npm registry "
            "at build time (Debian: apt-get install npm)"
        )
    command = [executable, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    logger.info("installing %s's npm packages: %s", spec.name, " ".join(command))
    finished = subprocess.run(command, cwd=spec.folder, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise BundleError(
            f"npm ci in {spec.folder} failed ({finished.returncode}): {finished.stderr.strip()}"
        )
    staging = spec.vendor.with_name(spec.vendor.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for source, target in spec.copies:
            origin = spec.folder / source
            (staging / target).parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, staging / target)
            else:
                shutil.copy2(origin, staging / target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"an npm package of {spec.name} lacks a file: {error}") from error
    (staging / STAMP_NAME).write_text(lock_digest(spec.lock_file) + "\n", encoding="ascii")
    # the old folder goes only once the new one is whole: an interrupted build leaves one of them
    shutil.rmtree(spec.vendor, ignore_errors=True)
    staging.rename(spec.vendor)
    logger.info("copied %s's JavaScript into %s", spec.name, spec.vendor)
    return spec.vendor


def bundle(*, force: bool = False, npm: str = "npm") -> Path:
    """Installs OpenSeadragon for the page viewer (`install_bundle` of `PAGE_VIEWER`)."""
    return install_bundle(PAGE_VIEWER, force=force, npm=npm)


def run_bundle_command(spec: NpmBundle, argv: list[str] | None, description: str) -> int:
    """The command line of a bundle module: ``[--force]``; 1 with a message on failure."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--force", action="store_true", help="copy even when current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        install_bundle(spec, force=args.force)
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ui.viewer.bundle [--force]``."""
    return run_bundle_command(PAGE_VIEWER, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
