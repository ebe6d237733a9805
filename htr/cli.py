"""The `legajo` command line: `legajo transcribe` (later issues add indexing and search).

Libraries raise; this module alone turns errors into messages on stderr and exit codes:
0 when everything went well, 1 when some input failed (the others are still processed),
2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from htr import __version__
from htr.errors import LegajoError
from htr.evaluate import add_eval_command
from htr.recognizer import DEVICES, RecognizerSettings
from htr.train import TrainDataOptions, add_train_command

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "models" / "legajo-default"
"""The bundled model; `--model` or the LEGAJO_MODEL environment variable choose another."""


CommandAdder = Callable[[argparse._SubParsersAction], None]
"""Adds one subcommand to the `legajo` parser (see `add_transcribe_command`)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `legajo` command line with htr's commands.

    Args:
        argv: Arguments without the program name; defaults to `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    return run_command_line(build_parser(), argv)


def run_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parses `argv` with `parser` and runs the chosen subcommand.

    Args:
        parser: A parser from `build_parser`.
        argv: Arguments without the program name; None means `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("legajo: interrupted", file=sys.stderr)
        return 130


def build_parser(
    more_commands: Sequence[CommandAdder] = (),
    description: str = "Search handwritten archives: transcribe page images.",
    train_data: Sequence[TrainDataOptions] = (),
) -> argparse.ArgumentParser:
    """Returns the `legajo` parser: htr's subcommands, then `more_commands`.

    Args:
        more_commands: Functions that add the subcommands of packages built on htr.
        description: The program description shown by ``--help``.
        train_data: Ground-truth sources of packages built on htr, as options of
            ``legajo train`` (e.g. the indexer's ``--from-db``).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(prog="legajo", description=description)
    parser.add_argument("--version", action="version", version=f"legajo {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_transcribe_command(commands)
    add_eval_command(commands)
    add_train_command(commands, train_data)
    for add_command in more_commands:
        add_command(commands)
    return parser


def add_transcribe_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo transcribe` to a subcommand set."""
    parser = commands.add_parser(
        "transcribe",
        help="transcribe page or line images",
        description="Transcribe page images (JPEG, PNG, TIFF, PDF; folders are walked) "
        "line by line, with word confidences, word boxes and alternative readings.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="files or folders")
    add_model_arguments(parser)
    parser.add_argument("--lines", action="store_true", help="treat every image as one text line")
    parser.add_argument(
        "--layout",
        choices=["auto", "xml", "own"],
        default="auto",
        help="line polygons from a PAGE/ALTO file next to the image (xml), from our own "
        "segmentation (own), or from the file when there is one (auto, default)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=_run_transcribe)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options that choose and tune the recognizer."""
    parser.add_argument(
        "--model",
        default=os.environ.get("LEGAJO_MODEL", str(DEFAULT_MODEL)),
        metavar="NAME|PATH",
        help="TrOCR checkpoint directory or Hugging Face hub name (default: the bundled model)",
    )
    parser.add_argument(
        "--beams", type=positive_int, default=5, metavar="N", help="beam width (default 5)"
    )
    parser.add_argument(
        "--n-best",
        type=positive_int,
        default=5,
        metavar="N",
        help="alternative readings kept per line (default 5, at most --beams)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="lines per batch (default 16 CPU, 64 GPU)",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: auto")


def recognizer_settings(args: argparse.Namespace) -> RecognizerSettings:
    """Builds recognizer settings from parsed model arguments."""
    return RecognizerSettings(
        beams=args.beams, n_best=args.n_best, batch_size=args.batch_size, device=args.device
    )


def _run_transcribe(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from htr.images import iter_page_images
    from htr.pipeline import LayoutMode, PipelineSettings, transcribe_page
    from htr.recognizer import load_recognizer

    quiet_transformers()
    try:
        recognizer = load_recognizer(args.model, recognizer_settings(args))
    except LegajoError as error:
        print(f"legajo: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    settings = PipelineSettings(layout=LayoutMode(args.layout), whole_image=args.lines)
    inputs = list(_expand_inputs(args.images))
    pages = []
    failed = 0
    for path in tqdm(inputs, desc="transcribing", unit="file", disable=None, file=sys.stderr):
        try:
            for page_image in iter_page_images(path):
                page = transcribe_page(page_image, recognizer, settings)
                if args.json:
                    pages.append(page.to_dict())
                else:
                    _print_text(page.image, page.frame, page.text)
        except LegajoError as error:
            failed += 1
            print(f"legajo: error: {error}", file=sys.stderr)
    if args.json:
        json.dump(pages, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    if failed:
        print(f"legajo: {failed} of {len(inputs)} inputs failed", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _expand_inputs(paths: Sequence[Path]) -> Iterator[Path]:
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


def positive_int(value: str) -> int:
    """Parses a command-line integer that must be at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def quiet_transformers() -> None:
    """Keeps transformers' own progress bars and notices off the terminal."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
