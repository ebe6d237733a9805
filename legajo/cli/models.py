"""`legajo models`, `legajo adapt`, `legajo reread`: teach legajo a hand and read again with it.

`adapt` fine-tunes a collection's model on its verified lines and registers the new model in
the home (`indexer.adaptation.adapt`); `models` lists the registered models and chooses the
one that reads each collection; `reread` reads a collection's pages again, in place, with its
active model or another (`indexer.adaptation.reread`).

Exit codes: 0 when all went well; 1 when a model cannot be loaded or training fails; 2 for
usage errors (an unknown collection or model, a missing home); 3 when some pages could not
be read again.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from indexer.settings import resolve_storage
from legajo.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Progress,
    add_model_arguments,
    add_storage_arguments,
    model_for_collection,
    positive_int,
    print_error,
    print_table,
    quiet_transformers,
    recognizer_settings,
    run_with_repository,
)

if TYPE_CHECKING:
    from htr.training.config import TrainProgress
    from indexer.adaptation.adapt import AdaptReport
    from indexer.adaptation.reread import RereadReport
    from indexer.store.records import ModelRecord
    from indexer.store.repository import Repository


def add_models_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo models` with ``list``, ``show`` and ``activate``."""
    parser = commands.add_parser(
        "models",
        help="list the models trained in this home and choose the one that reads a collection",
        description="The models `legajo adapt` trained in this home, with their parent, "
        "training data, time and CER on held-back lines; `activate` chooses the model that "
        "reads a collection (legajo index and legajo reread use it).",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every model, and which collections each reads")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    add_storage_arguments(listing)
    listing.set_defaults(run=_run_list)
    show = actions.add_parser("show", help="one model in full")
    show.add_argument("name", metavar="NAME", help="its name (see legajo models list)")
    add_storage_arguments(show)
    show.set_defaults(run=_run_show)
    activate = actions.add_parser("activate", help="make a model read a collection")
    activate.add_argument(
        "name", metavar="NAME", help="a model's name, or legajo-default for the bundled model"
    )
    activate.add_argument("--collection", required=True, metavar="NAME", help="the collection")
    add_storage_arguments(activate)
    activate.set_defaults(run=_run_activate)


def add_adapt_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo adapt`."""
    parser = commands.add_parser(
        "adapt",
        help="fine-tune a collection's model on the lines people verified in it",
        description="Fine-tune the collection's active model (or --from) on its verified "
        "lines (corrections, confirmations, imported transcriptions), holding back a share "
        "of whole pages; print the CER of the old and the new model on the held-back lines, "
        "register the new model in <home>/models and make it the collection's model when it "
        "reads them better (or with --activate). CPU by default, CUDA when present.",
    )
    parser.add_argument("--collection", required=True, metavar="NAME", help="the collection")
    parser.add_argument(
        "--minutes", type=float, default=None, help="training time budget (default 20)"
    )
    parser.add_argument("--steps", type=positive_int, default=None, help="training step budget")
    parser.add_argument(
        "--from",
        dest="base",
        metavar="MODEL",
        help="start from this model (name, legajo-default, path or hub name) instead of the "
        "collection's",
    )
    parser.add_argument(
        "--activate", action="store_true", help="make the new model active even if not better"
    )
    parser.add_argument(
        "--held-back",
        type=float,
        default=0.2,
        metavar="SHARE",
        help="share of verified pages held back to measure (default 0.2)",
    )
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (3e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="CUDA when present"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_storage_arguments(parser)
    parser.set_defaults(run=_run_adapt)


def add_reread_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo reread`."""
    parser = commands.add_parser(
        "reread",
        help="read a collection's pages again with another model, in place",
        description="Read every machine-read page of a collection again with its active "
        "model (or --model), keeping page and line ids: each new reading is recorded with "
        "its model, verified lines keep their verified text, search follows at once. Pages "
        "already read by the model are skipped, so the same command resumes.",
    )
    parser.add_argument("--collection", required=True, metavar="NAME", help="the collection")
    parser.add_argument(
        "--only-unverified", action="store_true", help="read only the lines nobody verified"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_storage_arguments(parser)
    add_model_arguments(parser, collection_default=True)
    parser.set_defaults(run=_run_reread)


def _run_list(args: argparse.Namespace) -> int:
    from indexer.adaptation.registry import BUNDLED_MODEL
    from indexer.store.model_registry import ModelRegistry

    def show(repository: Repository) -> int:
        registry = ModelRegistry(repository.database)
        active = registry.active_models()
        reads: dict[str, list[str]] = {}
        for collection, name in active.items():
            reads.setdefault(name or BUNDLED_MODEL, []).append(collection)
        records = registry.models()
        if args.json:
            data = [_record_json(r, reads.get(r.name, [])) for r in records]
            bundled = {"name": BUNDLED_MODEL, "reads": reads.get(BUNDLED_MODEL, [])}
            json.dump([bundled, *data], sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        rows = [(BUNDLED_MODEL, "-", "-", "-", "-", ", ".join(reads.get(BUNDLED_MODEL, [])))]
        rows += [
            (
                r.name,
                r.collection or "-",
                _rate(r.cer_before),
                _rate(r.cer_after),
                f"{r.minutes:.1f}",
                ", ".join(reads.get(r.name, [])),
            )
            for r in records
        ]
        print_table(("model", "trained on", "CER before", "CER after", "minutes", "reads"), rows)
        return EXIT_OK

    return run_with_repository(args, show, create=False)


def _run_show(args: argparse.Namespace) -> int:
    from indexer.store.model_registry import ModelRegistry

    def show(repository: Repository) -> int:
        record = ModelRegistry(repository.database).model(args.name)
        json.dump(_record_json(record, None), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK

    return run_with_repository(args, show, create=False)


def _run_activate(args: argparse.Namespace) -> int:
    from indexer.adaptation.registry import BUNDLED_MODEL
    from indexer.store.model_registry import ModelRegistry

    def activate(repository: Repository) -> int:
        name = None if args.name == BUNDLED_MODEL else args.name
        ModelRegistry(repository.database).activate(args.collection, name)
        print(f"{args.name} now reads collection {args.collection}")
        return EXIT_OK

    return run_with_repository(args, activate, create=False)


def _run_adapt(args: argparse.Namespace) -> int:
    from indexer.adaptation.adapt import AdaptSettings, adapt_collection

    minutes = args.minutes if args.minutes is not None or args.steps is not None else 20.0
    try:
        settings = AdaptSettings(
            collection=args.collection,
            minutes=minutes,
            steps=args.steps,
            base=None,
            activate=args.activate,
            held_back=args.held_back,
            lr=args.lr,
            device=args.device,
            seed=args.seed,
        )
    except ValueError as error:
        print_error(error)
        return EXIT_USAGE
    home = resolve_storage(args.home, args.db).home

    def adapt(repository: Repository) -> int:
        repository.collection_id(args.collection)
        base = model_for_collection(repository, args.base, args.collection)
        quiet_transformers()
        with Progress("adapting", "‰", total=1000, fractional=True) as progress:
            report = adapt_collection(
                repository, home, replace(settings, base=base), _training_display(progress)
            )
        if args.json:
            json.dump(adapt_json(report), sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            print(format_adapt_report(report))
        return EXIT_OK

    return run_with_repository(args, adapt, create=False)


def _run_reread(args: argparse.Namespace) -> int:
    from htr.recognizer import load_recognizer
    from indexer.adaptation.reread import reread_collection

    def reread(repository: Repository) -> int:
        chosen = model_for_collection(repository, args.model, args.collection)
        quiet_transformers()
        recognizer = load_recognizer(chosen, recognizer_settings(args))
        with Progress("rereading", "page") as progress:
            report = reread_collection(
                repository,
                recognizer,
                args.collection,
                only_unverified=args.only_unverified,
                progress=lambda done, total: progress.move_to(done, total),
            )
        if args.json:
            json.dump(reread_json(report), sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            print(format_reread_report(report))
        for failure in report.failures:
            print(
                f"failed: {failure.path} [frame {failure.frame}]: {failure.reason}", file=sys.stderr
            )
        return EXIT_SOME_FAILED if report.failures else EXIT_OK

    return run_with_repository(args, reread, create=False)


def _training_display(progress: Progress) -> Any:
    def show(update: TrainProgress) -> None:
        if update.phase in ("data", "validate"):
            progress.describe(update.message or update.phase)
            return
        progress.move_to(int(1000 * update.fraction), eta_s=update.eta_s)
        best = "-" if update.val_cer is None else f"{update.val_cer:.4f}"
        progress.describe(f"step {update.step}", held_back_cer=best)

    return show


def format_adapt_report(report: AdaptReport) -> str:
    """The plain-text outcome of `legajo adapt`."""
    record = report.model
    verdict = (
        "now reads the collection"
        if report.activated
        else f"not activated: {report.base.name or report.base.source} stays "
        "(legajo models activate to choose it anyway)"
    )
    held = (
        _pages(report.held_back_pages)
        if report.held_back_pages
        else "every fifth line of the one page"
    )
    return "\n".join(
        [
            f"model   {record.name} ({record.path})",
            f"from    {report.base.name or report.base.source}",
            f"trained {report.train_lines} verified lines of {_pages(report.train_pages)}; "
            f"held back {report.held_back_lines} lines ({held}); {report.minutes:.1f} min",
            f"CER on the held-back lines: {report.cer_before:.4f} before, "
            f"{report.cer_after:.4f} after",
            f"{record.name} {verdict}",
        ]
    )


def adapt_json(report: AdaptReport) -> dict[str, Any]:
    """The outcome of `legajo adapt` as JSON data."""
    return {
        "model": _record_json(report.model, None),
        "base": report.base.name or report.base.source,
        "cer_before": report.cer_before,
        "cer_after": report.cer_after,
        "better": report.better,
        "activated": report.activated,
        "train_lines": report.train_lines,
        "held_back_lines": report.held_back_lines,
        "train_pages": report.train_pages,
        "held_back_pages": report.held_back_pages,
        "minutes": round(report.minutes, 2),
    }


def format_reread_report(report: RereadReport) -> str:
    """The plain-text outcome of `legajo reread`."""
    out = [
        f"model   {report.model.model_id} (revision {report.model.revision or '-'})",
        f"pages   {report.reread} read again, {report.already} already read by this model, "
        f"{len(report.failures)} failed, {report.imported} imported left as they are"
        + (f", {report.collided} with a second copy left alone" if report.collided else ""),
        f"lines   {report.lines_read} read, {report.lines_changed} read differently, "
        f"{report.verified_kept} verified kept their text",
    ]
    if report.confidence_before is not None and report.confidence_after is not None:
        out.append(
            f"mean line confidence {report.confidence_before:.3f} before, "
            f"{report.confidence_after:.3f} after"
        )
    out.append(f"{report.seconds:.1f} s (run {report.run_id})")
    return "\n".join(out)


def reread_json(report: RereadReport) -> dict[str, Any]:
    """The outcome of `legajo reread` as JSON data."""
    return {
        "run_id": report.run_id,
        "model": report.model.model_id,
        "revision": report.model.revision,
        "pages": report.pages,
        "reread": report.reread,
        "already": report.already,
        "imported": report.imported,
        "collided": report.collided,
        "failed": [{"path": f.path, "frame": f.frame, "reason": f.reason} for f in report.failures],
        "lines_read": report.lines_read,
        "lines_changed": report.lines_changed,
        "verified_kept": report.verified_kept,
        "confidence_before": report.confidence_before,
        "confidence_after": report.confidence_after,
        "seconds": round(report.seconds, 2),
    }


def _record_json(record: ModelRecord, reads: list[str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": record.name,
        "path": record.path,
        "model_id": record.model.model_id,
        "revision": record.model.revision,
        "parent": None if record.parent is None else record.parent.model_id,
        "parent_revision": None if record.parent is None else record.parent.revision,
        "collection": record.collection,
        "created_at": record.created_at.isoformat(),
        "minutes": record.minutes,
        "cer_before": record.cer_before,
        "cer_after": record.cer_after,
        "training": dict(record.training),
    }
    if reads is not None:
        data["reads"] = reads
    return data


def _pages(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
