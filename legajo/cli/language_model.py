"""`legajo lm`: count a checkpoint's character language model from ground-truth folders.

`legajo train` publishes one with every model it trains; this command gives one to any
checkpoint (or replaces it), e.g. with another order, weight or set of transcriptions. The
validation folders' lines are left out.

Exit codes: 0 when the model was written; 1 when the checkpoint cannot be loaded or there is
nothing to count; 2 for usage errors (a missing folder, ``--sources`` without
``--snapshots``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from htr.errors import LegajoError
from indexer.errors import OptionError
from legajo.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    USAGE_ERRORS,
    Progress,
    non_negative_float,
    positive_int,
    quiet_transformers,
)
from legajo.cli.training import add_ground_truth_arguments, located_sources


def add_lm_command(commands: argparse._SubParsersAction) -> None:
    """Adds ``legajo lm``."""
    from htr.char_lm import DEFAULT_ORDER, DEFAULT_WEIGHT

    parser = commands.add_parser(
        "lm",
        help="count a model's character language model from ground truth",
        description=(
            "Count a character n-gram language model from the transcriptions of ground-truth "
            "folders (validation folders left out) and write it into a checkpoint folder as "
            "char_lm.npz, where beam search finds it."
        ),
    )
    parser.add_argument(
        "--model", type=Path, required=True, metavar="DIR", help="checkpoint folder to write into"
    )
    add_ground_truth_arguments(parser, automatic_split=False)
    parser.add_argument(
        "--order",
        type=positive_int,
        default=DEFAULT_ORDER,
        metavar="N",
        help=f"the n of the n-grams (default {DEFAULT_ORDER})",
    )
    parser.add_argument(
        "--weight",
        type=non_negative_float,
        default=DEFAULT_WEIGHT,
        metavar="W",
        help=f"fusion weight stored with it (default {DEFAULT_WEIGHT:g})",
    )
    parser.set_defaults(run=_run_lm)


def _run_lm(args: argparse.Namespace) -> int:
    from htr.training.language_model import build_language_model, ground_truth_texts
    from htr.trocr import load_checkpoint_files

    try:
        located = located_sources(args)
        folders = [*args.gt, *(f for source in located for f in source.train)]
        held = [*args.val, *(f for source in located for f in source.validation)]
        if not folders:
            raise OptionError("give --gt folders or --sources with --snapshots")
        for folder in (*folders, *held):
            if not Path(folder).is_dir():
                raise OptionError(f"{folder}: not a folder")
    except LegajoError as error:
        print(f"legajo lm: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, (*USAGE_ERRORS, OptionError)) else EXIT_FAILED
    try:
        quiet_transformers()
        model, processor = load_checkpoint_files(args.model)
        with Progress("reading transcriptions", "page") as progress:
            texts = ground_truth_texts(
                folders, held, lambda done, total: progress.move_to(done, total)
            )
        language_model = build_language_model(
            texts, model, processor.tokenizer, order=args.order, weight=args.weight
        )
        path = language_model.save(args.model)
    except LegajoError as error:
        print(f"legajo lm: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{path}: {language_model.describe()}, {language_model.lines} lines")
    return EXIT_OK
