"""`legajo train` and `legajo eval`: train or fine-tune a model, and measure one.

`train` takes ground truth from PAGE/ALTO folders, synthetic lines and, with ``--from-db``,
the lines people verified in the database (corrected lines and imported transcriptions,
`indexer.transfer.training_lines`). `eval` prints CER, WER and the calibration of word
confidences on ground-truth folders, and can fit a calibration.

Exit codes: 0 when all went well; 1 when the model, its calibration or the database cannot
be used, when training fails or some evaluated page failed; 2 for usage errors (a missing
ground-truth folder, database options without ``--from-db``, an unknown collection).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from htr.errors import LegajoError
from htr.metrics import DEFAULT_BINS
from indexer.errors import OptionError
from legajo.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    USAGE_ERRORS,
    Progress,
    add_model_arguments,
    add_storage_arguments,
    non_negative_int,
    open_repository,
    positive_int,
    quiet_transformers,
    recognizer_settings,
)

if TYPE_CHECKING:
    from htr.evaluation_report import EvaluationReport
    from htr.training.config import TrainProgress
    from htr.training.data import LineSetReader
    from htr.training.sources import LocatedSource


def add_eval_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo eval` to a subcommand set."""
    from htr.calibration import FITTED_METHODS

    parser = commands.add_parser(
        "eval",
        help="measure a model on ground-truth folders",
        description="Read the lines of page images that have a PAGE or ALTO file (folders are "
        "walked) and print CER, WER and normalised CER, per folder, for main-zone lines and "
        "for all lines, and the calibration error of word confidences.",
    )
    parser.add_argument(
        "--gt",
        nargs="+",
        type=Path,
        required=True,
        metavar="DIR",
        help="folders with page images and PAGE/ALTO ground truth",
    )
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="draw the reliability diagram")
    parser.add_argument(
        "--limit-pages", type=positive_int, metavar="N", help="evaluate only the first N pages"
    )
    parser.add_argument(
        "--bins", type=positive_int, default=DEFAULT_BINS, metavar="N", help="ECE bins (default 15)"
    )
    parser.add_argument(
        "--fit-calibration",
        action="store_true",
        help="fit a word-confidence calibration on the evaluated words and write it into the "
        "model directory as calibration.json (replacing any there)",
    )
    parser.add_argument(
        "--calibration-method",
        choices=FITTED_METHODS,
        default="temperature",
        help="calibration fitted by --fit-calibration (default: temperature)",
    )
    parser.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    """Runs `legajo eval` with parsed arguments and returns the exit code.

    Exit codes: 0 when every page was evaluated, 3 when some pages failed (the report covers
    the others), 1 when the command could not run (the model or its calibration could not
    be loaded, no page was found, the reliability diagram could not be written), 2 for usage
    errors (a ground-truth folder that does not exist, `--fit-calibration` without a local
    model).
    """
    from htr.calibration import (
        CalibrationError,
        fit_and_save_calibration,
        load_calibration,
        local_model_directory,
    )
    from htr.evaluate import evaluate, raw_confidence_settings
    from htr.evaluation_report import EvaluationError
    from htr.recognizer import load_recognizer
    from htr.reliability_diagram import save_reliability_diagram

    missing = [str(d) for d in args.gt if not d.exists()]
    if missing:
        print(
            f"legajo eval: error: no such ground-truth folder: {', '.join(missing)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    calibration = None
    try:
        if args.fit_calibration:
            local_model_directory(args.model)
        else:
            model_dir = Path(args.model).expanduser()
            calibration = load_calibration(model_dir) if model_dir.is_dir() else None
    except CalibrationError as error:
        print(f"legajo eval: error: {error}", file=sys.stderr)
        return EXIT_USAGE if args.fit_calibration else EXIT_FAILED

    quiet_transformers()
    try:
        recognizer = load_recognizer(args.model, raw_confidence_settings(recognizer_settings(args)))
    except LegajoError as error:
        print(f"legajo eval: error: {error}", file=sys.stderr)
        return EXIT_FAILED

    with Progress("evaluating", "page") as progress:

        def advance(done: int, total: int, image: Path) -> None:
            progress.move_to(done, total)

        try:
            report = evaluate(
                recognizer,
                args.gt,
                calibration=calibration,
                progress=advance,
                limit_pages=args.limit_pages,
                bins=args.bins,
            )
        except LegajoError as error:
            progress.close()
            print(f"legajo eval: error: {error}", file=sys.stderr)
            return EXIT_FAILED

    fit_path: Path | None = None
    if args.fit_calibration:
        outcomes = report.word_outcomes
        try:
            fit = fit_and_save_calibration(
                [w.confidence for w in outcomes],
                [w.correct for w in outcomes],
                args.model,
                method=args.calibration_method,
                bins=args.bins,
                source=", ".join(str(d) for d in args.gt),
                lengths=[len(w.text) for w in outcomes],
            )
        except CalibrationError as error:
            print(f"legajo eval: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        report = report.with_calibration(fit.calibration)
        fit_path = fit.path

    plot_error: EvaluationError | None = None
    if args.plot is not None:
        try:
            save_reliability_diagram(report, args.plot)
        except EvaluationError as error:
            plot_error = error

    if args.json:
        data = report.to_dict()
        data["calibration_written"] = str(fit_path) if fit_path else None
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(report))
        if fit_path is not None:
            print(f"calibration written to {fit_path} (ECE measured on the same words)")
        if args.plot is not None and plot_error is None:
            print(f"reliability diagram: {args.plot}")
    if plot_error is not None:
        print(f"legajo eval: error: {plot_error}", file=sys.stderr)
    for failure in report.pages_failed:
        print(f"legajo eval: error: {failure.reason}", file=sys.stderr)
    if report.pages_failed:
        print(
            f"legajo eval: {len(report.pages_failed)} of "
            f"{report.pages + len(report.pages_failed)} pages failed",
            file=sys.stderr,
        )
    if plot_error is not None:
        return EXIT_FAILED
    return EXIT_SOME_FAILED if report.pages_failed else EXIT_OK


def format_report(report: EvaluationReport) -> str:
    """Returns the report as the plain-text tables ``legajo eval`` prints."""
    out = [f"model   {report.model_id}"]
    revision = report.recognizer.get("model_revision")
    if revision:
        out[0] += f" (revision {revision})"
    settings = report.recognizer.get("settings") or {}
    if settings:
        out.append("decode  " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    speed = report.lines_per_second
    out.append(
        f"pages   {report.pages} evaluated, {len(report.pages_failed)} failed; "
        f"{report.all.lines} lines ({report.empty_lines} empty ground-truth lines skipped); "
        f"{report.seconds:.1f} s" + (f", {speed:.2f} lines/s" if speed is not None else "")
    )
    out.append("")
    width = max([len("folder"), len("all folders"), *(len(f.folder) for f in report.folders)])
    out.append(
        f"{'folder':<{width}}  {'subset':<9} {'lines':>6} {'CER':>7} {'WER':>7} {'CER norm':>9}"
    )
    rows = [("all folders", report.main, report.all)]
    if len(report.folders) > 1:
        rows += [(f.folder, f.main, f.all) for f in report.folders]
    for name, main, every in rows:
        for label, scores in (("main zone", main), ("all", every)):
            out.append(
                f"{name:<{width}}  {label:<9} {scores.lines:>6} {_rate(scores.cer):>7} "
                f"{_rate(scores.wer):>7} {_rate(scores.normalised_cer):>9}"
            )
            name = ""
    confidence = report.confidence
    out.append("")
    if not confidence.words:
        out.append("word confidence: no words were read, so there is no calibration to measure")
        return "\n".join(out)
    accuracy = f", {confidence.accuracy:.1%} right" if confidence.accuracy is not None else ""
    line = f"word confidence: {confidence.words} words{accuracy}; ECE {confidence.ece:.4f} raw"
    if confidence.calibration is not None and confidence.calibrated_ece is not None:
        line += (
            f", {confidence.calibrated_ece:.4f} calibrated ({confidence.calibration.describe()})"
        )
    out.append(line + f" ({confidence.bins} bins)")
    tables = [("raw", confidence.reliability)]
    if confidence.calibration is not None:
        tables.append(("calibrated", confidence.calibrated_reliability))
    for name, table in tables:
        out.append(f"  {name + ' confidence':<21} {'words':>6} {'mean conf':>9} {'accuracy':>8}")
        out.extend(
            f"  {b.lower:<9.3f} to {b.upper:<7.3f} {b.count:>6} {b.mean_confidence:>9.3f} "
            f"{b.accuracy:>8.3f}"
            for b in table
            if b.count
        )
    return "\n".join(out)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def add_train_command(commands: argparse._SubParsersAction) -> None:
    """Adds ``legajo train``."""
    from htr.char_lm import DEFAULT_ORDER
    from htr.training.config import DEFAULT_CACHE

    parser = commands.add_parser(
        "train",
        help="train or fine-tune a recognition model",
        description=(
            "Train a TrOCR-architecture line model from scratch, or fine-tune any TrOCR "
            "checkpoint, on PAGE/ALTO ground truth, verified lines from other sources and "
            "synthetic lines."
        ),
    )
    add_ground_truth_arguments(parser)
    parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="synthetic lines")
    parser.add_argument(
        "--from",
        dest="base",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="checkpoint to fine-tune (default: a new line model from scratch)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output checkpoint folder")
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="checkpoints and trainer state (<out>.run)"
    )
    parser.add_argument("--minutes", type=float, default=None, help="training time budget")
    parser.add_argument("--steps", type=int, default=None, help="training step budget")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument(
        "--freeze-decoder",
        action="store_true",
        help="train the encoder only (fine-tuning on a few pages of a new hand)",
    )
    parser.add_argument(
        "--grow-vocabulary",
        action="store_true",
        help="with --from: characters of the ground truth that the checkpoint cannot write "
        "get tokens of their own (otherwise they read as <unk>)",
    )
    parser.add_argument(
        "--oversample",
        type=_folder_times,
        action="append",
        default=[],
        metavar="DIR=TIMES",
        help="training lines under DIR are drawn TIMES as often as the others (e.g. the "
        "pages of the hand being learnt); may be repeated",
    )
    parser.add_argument(
        "--checkpoint-minutes", type=float, default=10.0, help="save and validate this often"
    )
    parser.add_argument(
        "--lm-order",
        type=non_negative_int,
        default=DEFAULT_ORDER,
        metavar="N",
        help="the n of the character language model counted from the training "
        f"transcriptions and published with the model (default {DEFAULT_ORDER}; 0: none)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="CUDA when present"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE, help="cache of cut line images"
    )
    parser.add_argument(
        "--card-notes", type=Path, default=None, help="Markdown appended to the model card"
    )
    _add_database_arguments(parser)
    parser.set_defaults(run=_run_train)


def add_ground_truth_arguments(
    parser: argparse.ArgumentParser, *, automatic_split: bool = True
) -> None:
    """Adds ``--gt``, ``--val``, ``--sources`` and ``--snapshots`` (see `located_sources`).

    Args:
        parser: The command's parser.
        automatic_split: Without ``--val``, the command holds out folders of its own.
    """
    split = " (default: a tenth of the manuscript folders of the ground truth)"
    parser.add_argument(
        "--gt", type=Path, nargs="+", default=[], metavar="DIR", help="ground-truth folders"
    )
    parser.add_argument(
        "--val",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="validation folders: their lines, from every source, are never trained on"
        + (split if automatic_split else ""),
    )
    parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        metavar="FILE",
        help="sources file (e.g. data/training/sources.toml): train on its repositories' "
        "folders and hold out its validation folders, besides --gt and --val",
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="with --sources: folders holding a copy of each listed repository, named "
        "OWNER+NAME or NAME",
    )


def _folder_times(text: str) -> tuple[Path, int]:
    folder, sep, times = text.rpartition("=")
    if not sep or not folder or not times.isdigit() or int(times) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected DIR=TIMES, TIMES a whole number ≥ 1")
    return Path(folder), int(times)


def _run_train(args: argparse.Namespace) -> int:
    from htr.training.config import TrainConfig
    from htr.training.trainer import train

    if args.minutes is None and args.steps is None:
        print("legajo train: give --minutes or --steps", file=sys.stderr)
        return 2
    try:
        readers = database_readers(args)
        located = located_sources(args)
    except LegajoError as error:
        print(f"legajo train: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, (*USAGE_ERRORS, OptionError)) else EXIT_FAILED
    try:
        config = TrainConfig(
            out=args.out,
            gt=(*args.gt, *(f for source in located for f in source.train)),
            val=(*args.val, *(f for source in located for f in source.validation)),
            sources=tuple(located),
            extra_lines=tuple(readers),
            synthetic=args.synthetic,
            base=args.base,
            run_dir=args.run_dir,
            minutes=args.minutes,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            freeze_decoder=args.freeze_decoder,
            grow_vocabulary=args.grow_vocabulary,
            oversample=tuple(args.oversample),
            checkpoint_minutes=args.checkpoint_minutes,
            lm_order=args.lm_order,
            resume=args.resume,
            seed=args.seed,
            device=args.device,
            cache_dir=args.cache_dir,
            card_notes=args.card_notes,
            command="legajo " + " ".join(sys.argv[1:]),
        )
    except ValueError as error:
        print(f"legajo train: {error}", file=sys.stderr)
        return EXIT_USAGE
    with Progress("training", "‰", total=1000, fractional=True) as progress:

        def show(update: TrainProgress) -> None:
            if update.phase in ("data", "validate"):
                progress.describe(update.message or update.phase)
                return
            progress.move_to(int(1000 * update.fraction), eta_s=update.eta_s)
            progress.describe(
                f"step {update.step}",
                loss=_fmt(update.loss),
                val_cer=_fmt(update.val_cer),
                lines_s=f"{update.lines_per_s or 0:.1f}",
            )

        try:
            out = train(config, show)
        except LegajoError as error:
            progress.close()
            print(f"legajo train: {error}", file=sys.stderr)
            return EXIT_FAILED
    print(out)
    return EXIT_OK


def located_sources(args: argparse.Namespace) -> list[LocatedSource]:
    """The copies of the sources file's repositories (none without ``--sources``).

    Raises:
        OptionError: ``--snapshots`` without ``--sources``, or the reverse.
        SourcesError: The sources file is malformed or a copy is missing.
    """
    from htr.training.sources import load_sources, locate_sources

    if args.sources is None:
        if args.snapshots:
            raise OptionError("--snapshots needs --sources")
        return []
    if not args.snapshots:
        raise OptionError("--sources needs --snapshots DIR: where the repositories' copies are")
    return locate_sources(load_sources(args.sources), args.snapshots)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--from-db`` and the options that choose the database and collection."""
    parser.add_argument(
        "--from-db",
        action="store_true",
        help="also train on the lines people verified in the database: corrected lines and "
        "imported transcriptions, cut from their page images (which must still be on disk)",
    )
    parser.add_argument(
        "--collection", metavar="NAME", help="with --from-db: only this collection (default: all)"
    )
    add_storage_arguments(parser)


def database_readers(args: argparse.Namespace) -> tuple[LineSetReader, ...]:
    """The database line source that ``--from-db`` asks for (none without it).

    Raises:
        OptionError: If a database option is given without ``--from-db``.
        DatabaseUrlError: If the URL is malformed.
        DatabaseMissingError: If the home folder or database does not exist (none is
            created: there would be nothing to train on).
        DatabaseOpenError: If the database cannot be opened.
        UnknownCollectionError: If ``--collection`` names no collection.
    """
    from indexer.transfer.training_lines import DatabaseLineSource

    if not args.from_db:
        given = [
            option
            for option, value in (
                ("--collection", args.collection),
                ("--home", args.home),
                ("--db", args.db),
            )
            if value is not None
        ]
        if given:
            raise OptionError(f"{', '.join(given)}: only with --from-db")
        return ()
    repository = open_repository(args, create=False)
    if args.collection is not None:
        try:
            repository.collection_id(args.collection)
        except LegajoError:
            repository.database.close()
            raise
    return (DatabaseLineSource(repository, args.collection),)
