"""The IIIF Image API validator (PyPI ``iiif-validator``) against a running `legajo serve`.

The validator checks the colours of a 10 x 10 grid of squares in its own test image;
`validator_image` draws that grid from the validator's table of colours, and
`add_validator_page` stores it as a page (no recognition: no lines), so the validator can
ask legajo's Image API for it by page id. Everything runs offline against 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from htr.document import Page
from indexer.store.repository import ModelKey, Repository, SourceFile

VALIDATOR_COLLECTION = "iiif-validator"
SQUARE = 100
"""The validator's grid: 10 x 10 squares of 100 pixels."""


def validator_image() -> Image.Image:
    """The validator's 1000 x 1000 test pattern: square (x, y) has ``colorInfo[x][y]``."""
    from iiif_validator.validator import ValidationInfo

    colours = ValidationInfo().colorInfo
    image = Image.new("RGB", (10 * SQUARE, 10 * SQUARE), "white")
    draw = ImageDraw.Draw(image)
    for x in range(10):
        for y in range(10):
            left, top = x * SQUARE, y * SQUARE
            draw.rectangle((left, top, left + SQUARE - 1, top + SQUARE - 1), fill=colours[x][y])
    return image


def add_validator_page(repository: Repository, folder: Path) -> int:
    """Stores the test pattern as a page of `VALIDATOR_COLLECTION`; returns its page id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "validator-squares.png"
    buffer = io.BytesIO()
    validator_image().save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    data = path.read_bytes()
    source = SourceFile(str(path), hashlib.sha256(data).hexdigest(), len(data))
    page = Page(image=str(path), frame=0, width=10 * SQUARE, height=10 * SQUARE)
    collection_id = repository.ensure_collection(VALIDATOR_COLLECTION)
    repository.store_page(collection_id, None, source, page, ModelKey("none", ""))
    return next(p.id for p in repository.pages(VALIDATOR_COLLECTION) if p.source_path == str(path))


@dataclass(frozen=True, slots=True)
class ValidatorOutcome:
    """One validator test: its level, whether it passed, and why not."""

    name: str
    level: int
    passed: bool
    message: str


def run_image_validator(url: str, identifier: str, max_level: int = 1) -> list[ValidatorOutcome]:
    """Runs the validator's Image API 3.0 tests up to `max_level` against ``url/iiif/image``.

    Args:
        url: The server's base URL (``http://127.0.0.1:PORT``).
        identifier: The image's identifier (a page id).
        max_level: The highest compliance level whose tests run.
    """
    from iiif_validator.validator import ImageAPI, TestSuite, ValidationInfo

    suite = TestSuite(ValidationInfo())
    server = urlsplit(url).netloc
    outcomes = []
    for name, info in sorted(suite.list_tests("3.0").items()):
        if info["level"] > max_level:
            continue
        result = ImageAPI(identifier, server, "iiif/image", "http", "", version="3.0", debug=False)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                suite.run_test(name, result)
        except Exception as error:  # the validator's own failures (a crash is a failure too)
            outcomes.append(ValidatorOutcome(name, info["level"], False, repr(error)))
            continue
        error = getattr(result, "exception", None)
        passed = error is None or bool(getattr(error, "warning", False))
        outcomes.append(ValidatorOutcome(name, info["level"], passed, str(error or "")))
    return outcomes
