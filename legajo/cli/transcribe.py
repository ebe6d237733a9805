"""`legajo transcribe`: page or line images to text, or to JSON with words and readings.

Inputs are walked like those of `legajo index` (`indexer.transfer.inputs`: dangling links
and unreadable folders are failures, paths without any page image are refused) and their
pages counted before the model reads the first one. An input that cannot be read is named
on stderr and the others are transcribed: exit code 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.errors import LegajoError
from legajo.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Progress,
    add_layout_argument,
    add_lines_argument,
    add_model_arguments,
    fail,
    print_error,
    quiet_transformers,
    recognizer_settings,
)

if TYPE_CHECKING:
    from htr.pipeline import PipelineSettings
    from htr.recognizer import Recognizer
    from indexer.transfer.inputs import InputEntry


def add_transcribe_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo transcribe`."""
    parser = commands.add_parser(
        "transcribe",
        help="transcribe page or line images",
        description="Transcribe page images (JPEG, PNG, TIFF, PDF; folders are walked) "
        "line by line, with word confidences, word boxes and alternative readings.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="files or folders")
    add_model_arguments(parser)
    add_lines_argument(parser)
    add_layout_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=_run_transcribe)


def _run_transcribe(args: argparse.Namespace) -> int:
    """Runs `legajo transcribe`: exit 0, 3 when some inputs failed, 1 without a model."""
    from htr.images import is_supported
    from htr.pipeline import LayoutMode, PipelineSettings
    from htr.recognizer import load_recognizer
    from indexer.transfer.inputs import walk_inputs

    try:
        entries = walk_inputs(args.images, is_supported, what="page images")
    except LegajoError as error:
        return fail(error)
    quiet_transformers()
    try:
        recognizer = load_recognizer(args.model, recognizer_settings(args))
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    settings = PipelineSettings(layout=LayoutMode(args.layout), whole_image=args.lines)
    pages: list[dict[str, Any]] = []
    failed = 0
    with Progress("transcribing", "page") as progress:
        inputs = count_pages(entries)
        progress.set_total(sum(item.frames for item in inputs))
        if args.lines:
            failed = _transcribe_line_images(
                inputs, recognizer, settings, progress, pages, args.json
            )
        else:
            for item in inputs:
                if not _transcribe_input(item, recognizer, settings, progress, pages, args.json):
                    failed += 1
    if args.json:
        json.dump(pages, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    if failed:
        print(f"legajo: {failed} of {len(inputs)} inputs failed", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class CountedInput:
    """An input with its pages counted, or the error that makes it fail.

    Attributes:
        path: The file.
        frames: Its pages; 1 when they cannot be counted.
        error: Why it cannot be read, None when it can (it may still fail later).
    """

    path: Path
    frames: int
    error: LegajoError | None = None


def count_pages(entries: Sequence[InputEntry]) -> list[CountedInput]:
    """Counts the pages of every input from its headers, without decoding any image."""
    from htr.images import count_frames

    counted = []
    for entry in entries:
        if entry.error is not None:
            counted.append(CountedInput(entry.path, 1, entry.error))
            continue
        try:
            counted.append(CountedInput(entry.path, count_frames(entry.path)))
        except LegajoError as error:
            counted.append(CountedInput(entry.path, 1, error))
    return counted


def _transcribe_input(
    item: CountedInput,
    recognizer: Recognizer,
    settings: PipelineSettings,
    progress: Progress,
    pages: list[dict[str, Any]],
    as_json: bool,
) -> bool:
    """Transcribes the pages of one input and prints them (or keeps them for the JSON).

    Returns:
        False when the input failed (the error is printed).
    """
    from htr.images import iter_page_images
    from htr.pipeline import transcribe_page

    done = 0
    error = item.error
    if error is None:
        try:
            for page_image in iter_page_images(item.path):
                page = transcribe_page(page_image, recognizer, settings)
                if as_json:
                    pages.append(page.to_dict())
                else:
                    _print_text(page.image, page.frame, page.text)
                done += 1
                progress.advance()
        except LegajoError as raised:
            error = raised
    if error is None:
        return True
    print_error(error)
    progress.count("failed")
    progress.advance(max(1, item.frames - done))
    return False


LINE_IMAGES_PER_BATCH = 128
"""Line images (``--lines``) read together: the recognizer batches them by width."""
PIXELS_PER_BATCH = 64_000_000
"""A batch of line images is read early once its images hold this many pixels."""


def _transcribe_line_images(
    inputs: Sequence[CountedInput],
    recognizer: Recognizer,
    settings: PipelineSettings,
    progress: Progress,
    pages: list[dict[str, Any]],
    as_json: bool,
) -> int:
    """Transcribes line images (``--lines``) in batches across files, in input order.

    An input that cannot be read is named on stderr when it is met; the images read before
    and after it still go through.

    Returns:
        How many inputs failed.
    """
    from htr.images import PageImage, iter_page_images
    from htr.pipeline import transcribe_pages

    failed = 0
    pending: list[PageImage] = []
    pixels = 0

    def read_pending() -> None:
        nonlocal pixels
        for page in transcribe_pages(pending, recognizer, settings):
            if as_json:
                pages.append(page.to_dict())
            else:
                _print_text(page.image, page.frame, page.text)
            progress.advance()
        pending.clear()
        pixels = 0

    for item in inputs:
        loaded = 0
        error = item.error
        if error is None:
            try:
                for page_image in iter_page_images(item.path):
                    pending.append(page_image)
                    pixels += page_image.image.width * page_image.image.height
                    loaded += 1
                    if len(pending) >= LINE_IMAGES_PER_BATCH or pixels >= PIXELS_PER_BATCH:
                        read_pending()
            except LegajoError as raised:
                error = raised
        if error is not None:
            failed += 1
            print_error(error)
            progress.count("failed")
            progress.advance(max(1, item.frames - loaded))
    if pending:
        read_pending()
    return failed


def _print_text(image: str, frame: int, text: str) -> None:
    print(f"== {image}" + (f" [frame {frame}]" if frame else "") + " ==")
    if text:
        print(text)
