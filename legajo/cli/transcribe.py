"""`legajo transcribe`: page or line images to text, or to JSON with words and readings."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from htr.errors import LegajoError
from legajo.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    add_layout_argument,
    add_lines_argument,
    add_model_arguments,
    print_error,
    quiet_transformers,
    recognizer_settings,
)


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
    from htr.images import iter_page_images
    from htr.pipeline import LayoutMode, PipelineSettings, transcribe_page
    from htr.recognizer import load_recognizer

    quiet_transformers()
    try:
        recognizer = load_recognizer(args.model, recognizer_settings(args))
    except LegajoError as error:
        print_error(error)
        return EXIT_FAILED
    settings = PipelineSettings(layout=LayoutMode(args.layout), whole_image=args.lines)
    inputs = list(expand_inputs(args.images))
    pages = []
    failed = 0
    with Progress("transcribing", "file", total=len(inputs)) as progress:
        for path in inputs:
            try:
                for page_image in iter_page_images(path):
                    page = transcribe_page(page_image, recognizer, settings)
                    if args.json:
                        pages.append(page.to_dict())
                    else:
                        _print_text(page.image, page.frame, page.text)
            except LegajoError as error:
                failed += 1
                print_error(error)
            progress.advance()
    if args.json:
        json.dump(pages, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    if failed:
        print(f"legajo: {failed} of {len(inputs)} inputs failed", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def expand_inputs(paths: Sequence[Path]) -> Iterator[Path]:
    """Yields files as given, and the supported files of folders, recursively and sorted."""
    from htr.images import is_supported

    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and is_supported(p))
        else:
            yield path


def _print_text(image: str, frame: int, text: str) -> None:
    print(f"== {image}" + (f" [frame {frame}]" if frame else "") + " ==")
    if text:
        print(text)
