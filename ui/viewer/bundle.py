"""Build step: bring the page viewer's JavaScript (OpenSeadragon) into the package.

``python -m ui.viewer.bundle`` installs the npm packages that ``ui/viewer/package-lock.json``
pins (``npm ci``: the exact versions, checked against their recorded hashes) and copies what
the browser needs into ``ui/viewer/frontend/vendor/``. `make setup` runs it, and so does the
wheel's build (``setup.py``), so the viewer ships in the package and the browser never asks a
CDN for anything. The copy is skipped when the vendor folder already holds the files of the
locked versions.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

VIEWER = Path(__file__).resolve().parent
LOCK_FILE = VIEWER / "package-lock.json"
VENDOR = VIEWER / "frontend" / "vendor"
STAMP = VENDOR / ".lock-sha256"
"""Holds the digest of the lock file the vendor folder was copied from."""
OPENSEADRAGON_BUILD = Path("node_modules", "openseadragon", "build", "openseadragon")
OPENSEADRAGON_FILES = ("openseadragon.min.js",)
OPENSEADRAGON_LICENSE = Path("node_modules", "openseadragon", "LICENSE.txt")
REQUIRED = (
    Path("openseadragon", "openseadragon.min.js"),
    Path("openseadragon", "images", "home_rest.png"),
)
"""Files the viewer cannot work without, relative to `VENDOR`."""


class BundleError(RuntimeError):
    """The viewer's JavaScript could not be installed or copied."""


def is_bundled(vendor: Path = VENDOR) -> bool:
    """True when the vendor folder holds every file the viewer needs."""
    return all((vendor / path).is_file() for path in REQUIRED)


def lock_digest(lock_file: Path = LOCK_FILE) -> str:
    """SHA-256 of the lock file: the vendor folder is current when its stamp holds this."""
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()


def is_current(vendor: Path = VENDOR, lock_file: Path = LOCK_FILE) -> bool:
    """True when the vendor folder is complete and was copied from this lock file."""
    stamp = vendor / STAMP.name
    return (
        is_bundled(vendor)
        and stamp.is_file()
        and stamp.read_text(encoding="ascii").strip() == lock_digest(lock_file)
    )


def bundle(*, force: bool = False, npm: str = "npm") -> Path:
    """Installs the locked npm packages and copies the viewer's files into `VENDOR`.

    Args:
        force: Copy again even when the vendor folder is current.
        npm: The npm executable.

    Returns:
        The vendor folder.

    Raises:
        BundleError: If npm is missing or fails, or a package lacks an expected file.
    """
    if not force and is_current():
        STAMP.touch()  # newer than the lock file: make's rule is met
        logger.info("%s is current", VENDOR)
        return VENDOR
    executable = shutil.which(npm)
    if executable is None:
        raise BundleError(
            f"{npm} is not installed: the page viewer's JavaScript comes from the npm registry "
            "at build time (Debian: apt-get install npm)"
        )
    command = [executable, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    logger.info("installing the viewer's npm packages: %s", " ".join(command))
    finished = subprocess.run(command, cwd=VIEWER, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise BundleError(
            f"npm ci in {VIEWER} failed ({finished.returncode}): {finished.stderr.strip()}"
        )
    staging = VENDOR.with_name(VENDOR.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / "openseadragon"
    target.mkdir(parents=True)
    build = VIEWER / OPENSEADRAGON_BUILD
    try:
        for name in OPENSEADRAGON_FILES:
            shutil.copy2(build / name, target / name)
        shutil.copytree(build / "images", target / "images")
        shutil.copy2(VIEWER / OPENSEADRAGON_LICENSE, target / "LICENSE.txt")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"the openseadragon package lacks a file: {error}") from error
    (staging / STAMP.name).write_text(lock_digest() + "\n", encoding="ascii")
    # the old folder goes only once the new one is whole: an interrupted build leaves one of them
    shutil.rmtree(VENDOR, ignore_errors=True)
    staging.rename(VENDOR)
    logger.info("copied the viewer's JavaScript into %s", VENDOR)
    return VENDOR


def main(argv: list[str] | None = None) -> int:
    """``python -m ui.viewer.bundle [--force]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="copy even when current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        bundle(force=args.force)
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
