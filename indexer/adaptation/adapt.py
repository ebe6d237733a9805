"""`legajo adapt`: fine-tune a collection's model on the lines people verified in it.

The verified lines (corrections, confirmations, imported transcriptions) are split by page:
a share of whole pages is held back (with a single page, every fifth line), never trained
on. The collection's active model (or the one asked for) reads the held-back lines first;
then a copy of it is fine-tuned on the other lines (`htr.training.trainer`) with settings
meant for a few hundred lines: a small learning rate, augmentation, no synthetic lines,
frequent validation on the held-back lines, early stopping, the best checkpoint kept. The
new model reads the same held-back lines, is registered in the home with its parent, data,
time and both CERs (`indexer.store.model_registry`), and becomes the collection's active
model only when it reads them better (or when asked to).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from htr.recognizer import load_recognizer
from htr.training.config import ProgressCallback, TrainConfig, TrainingError, TrainProgress
from htr.training.data import LineSet
from htr.training.validation import validate_recognizer
from indexer.adaptation.registry import (
    ChosenModel,
    models_folder,
    reading_model,
    runs_folder,
)
from indexer.store.model_registry import ModelRegistry
from indexer.store.records import ModelKey, ModelRecord, VerifiedLine
from indexer.store.repository import Repository
from indexer.transfer.training_lines import DatabaseLineSource
from indexer.transfer.transcriptions import IMPORT_MODEL, IMPORT_STEP

logger = logging.getLogger(__name__)

LineId = tuple[str, int, str]
"""A verified line: its page's file, frame, and line key."""


@dataclass(frozen=True, slots=True)
class AdaptSettings:
    """How a collection's model is fine-tuned.

    Attributes:
        collection: The collection whose verified lines are trained on.
        minutes: Wall-clock budget of the fine-tuning (validation not counted).
        steps: Step budget instead of, or as well as, `minutes`.
        base: The model to start from (registry name, ``legajo-default``, path or hub
            name); None for the collection's active model.
        activate: Make the new model active even when it is not better.
        held_back: Share of the verified pages held back for measuring.
        lr: Peak learning rate.
        batch_size: Lines per step.
        patience: Stop after this many validations without a better CER.
        validations: About how many times the held-back lines are read during training.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        seed: Seed of the page split, data order and augmentation.
    """

    collection: str
    minutes: float | None = 20.0
    steps: int | None = None
    base: str | None = None
    activate: bool = False
    held_back: float = 0.2
    lr: float = 3e-4
    batch_size: int = 16
    patience: int = 5
    validations: int = 20
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.minutes is None and self.steps is None:
            raise ValueError("give minutes or steps")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, not {self.minutes}")
        if not 0 < self.held_back < 1:
            raise ValueError(f"the held-back share must be between 0 and 1, not {self.held_back}")


@dataclass(frozen=True, slots=True)
class AdaptReport:
    """What `adapt_collection` did.

    Attributes:
        model: The new model, as registered.
        base: The model it started from.
        cer_before: CER of `base` on the held-back lines.
        cer_after: CER of the new model on the same lines.
        activated: Whether the new model now reads the collection.
        train_lines: Verified lines trained on.
        held_back_lines: Verified lines held back.
        train_pages: Pages trained on.
        held_back_pages: Pages held back (0 when lines of a single page were held back).
        minutes: Wall-clock minutes of the whole command's work.
    """

    model: ModelRecord
    base: ChosenModel
    cer_before: float
    cer_after: float
    activated: bool
    train_lines: int
    held_back_lines: int
    train_pages: int
    held_back_pages: int
    minutes: float

    @property
    def better(self) -> bool:
        """Whether the new model reads the held-back lines better than its parent."""
        return self.cer_after < self.cer_before


def adapt_collection(
    repository: Repository,
    home: Path,
    settings: AdaptSettings,
    progress: ProgressCallback | None = None,
) -> AdaptReport:
    """Fine-tunes a collection's model on its verified lines and registers the result.

    Args:
        repository: The database.
        home: The home folder (the model goes to ``<home>/models/<name>``).
        settings: What to train and how.
        progress: Told what happens (training progress included).

    Returns:
        What was trained and how it compares.

    Raises:
        UnknownCollectionError: If the collection does not exist.
        UnknownModelError: If `settings.base` names a model the home does not have.
        TrainingError: Too few verified lines, or training failed.
        ModelLoadError: If the base model cannot be loaded.
    """
    from htr.training.checkpoints import checkpoint_line_height
    from htr.training.trainer import train

    started = time.monotonic()
    report = progress or (lambda _: None)
    registry = ModelRegistry(repository.database)
    registry.active(settings.collection)  # the collection must exist
    base = reading_model(registry, settings.base, settings.collection)
    verified = repository.verified_lines(
        settings.collection, import_model=IMPORT_MODEL, import_step=IMPORT_STEP
    )
    held, train_pages, held_pages = hold_back(verified, settings.held_back, settings.seed)
    report(TrainProgress("data", message="cutting the verified lines"))
    height = checkpoint_line_height(base.source)
    held_set = DatabaseLineSource(
        repository, settings.collection, keep=lambda v: _line_id(v) in held, label="held back"
    )(height)
    report(TrainProgress("validate", message=f"reading the held-back lines with {base.source}"))
    parent = load_recognizer(base.source)
    parent_key = ModelKey.of(parent.processing_step())
    cer_before = validate_recognizer(parent, held_set.lines).cer
    del parent
    logger.info("%s reads the held-back lines at CER %.4f", base.source, cer_before)

    name = registry.new_name(settings.collection)
    out = models_folder(home) / name
    run_dir = runs_folder(home) / name
    notes = _card_notes(run_dir, settings.collection, base, cer_before, held_pages)
    config = TrainConfig(
        out=out,
        extra_lines=(
            DatabaseLineSource(
                repository,
                settings.collection,
                keep=lambda v: _line_id(v) not in held,
                label="trained on",
            ),
        ),
        held_out=(_Prepared(held_set, height),),
        base=Path(base.source),
        run_dir=run_dir,
        card_notes=notes,
        minutes=settings.minutes,
        steps=settings.steps,
        batch_size=settings.batch_size,
        lr=settings.lr,
        warmup_steps=20,
        curriculum=0.0,
        synthetic=0,
        checkpoint_minutes=_checkpoint_minutes(settings),
        patience=settings.patience,
        val_lines=len(held_set.lines),
        cache_dir=None,
        device=settings.device,
        seed=settings.seed,
        command=f"legajo adapt --collection {settings.collection}",
    )
    train(config, report)
    report(TrainProgress("validate", message="reading the held-back lines with the new model"))
    adapted = load_recognizer(out)
    cer_after = validate_recognizer(adapted, held_set.lines).cer
    minutes = (time.monotonic() - started) / 60.0
    record = registry.register(
        name,
        str(out.resolve()),
        ModelKey.of(adapted.processing_step()),
        parent=parent_key,
        collection=settings.collection,
        minutes=round(minutes, 2),
        training={
            "base": base.name or base.source,
            "train_lines": len(verified) - len(held),
            "held_back_lines": len(held_set.lines),
            "train_pages": train_pages,
            "held_back_pages": held_pages,
            "budget_minutes": settings.minutes,
            "budget_steps": settings.steps,
            "lr": settings.lr,
            "seed": settings.seed,
        },
        cer_before=cer_before,
        cer_after=cer_after,
    )
    activated = settings.activate or cer_after < cer_before
    if activated:
        registry.activate(settings.collection, name)
    return AdaptReport(
        model=record,
        base=base,
        cer_before=cer_before,
        cer_after=cer_after,
        activated=activated,
        train_lines=len(verified) - len(held),
        held_back_lines=len(held_set.lines),
        train_pages=len(train_pages),
        held_back_pages=len(held_pages),
        minutes=minutes,
    )


def hold_back(
    verified: Sequence[VerifiedLine], share: float, seed: int
) -> tuple[set[LineId], list[str], list[str]]:
    """Chooses the verified lines held back for measuring: whole pages when there are two or more.

    Args:
        verified: The collection's verified lines.
        share: Share of pages held back (at least one page, never all).
        seed: Seed of the choice.

    Returns:
        The held-back lines, and the pages trained on and held back (``path [frame]``).

    Raises:
        TrainingError: With fewer than two verified lines.
    """
    if len(verified) < 2:
        raise TrainingError(
            f"{len(verified)} verified lines: adapting needs at least two (one to train on, "
            "one to measure with): correct lines in the workbench (legajo ui) or import "
            "transcriptions (legajo import)"
        )
    pages: dict[tuple[str, int], list[VerifiedLine]] = defaultdict(list)
    for line in verified:
        pages[(line.source_path, line.frame)].append(line)
    keys = sorted(pages)
    names = {key: f"{key[0]} [{key[1]}]" for key in keys}
    if len(keys) == 1:
        lines = pages[keys[0]]
        held = {_line_id(line) for line in lines[4::5]} or {_line_id(lines[-1])}
        return held, [names[keys[0]]], []
    count = min(len(keys) - 1, max(1, round(share * len(keys))))
    rng = np.random.default_rng(seed)
    chosen = {keys[int(i)] for i in rng.choice(len(keys), size=count, replace=False)}
    held = {_line_id(line) for key in chosen for line in pages[key]}
    return (
        held,
        [names[k] for k in keys if k not in chosen],
        [names[k] for k in keys if k in chosen],
    )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A line reader that hands back lines already cut (at the height they were cut at)."""

    lines: LineSet
    height: int

    def __call__(self, height: int) -> LineSet:
        if height != self.height:
            raise TrainingError(f"lines cut at {self.height} px asked for at {height} px")
        return self.lines


def _card_notes(
    run_dir: Path, collection: str, base: ChosenModel, cer_before: float, held_pages: list[str]
) -> Path:
    """Writes the adaptation's part of the model card (what the parent read, and where)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    held = ", ".join(f"`{page}`" for page in held_pages) or "every fifth line of the one page"
    notes = run_dir / "adaptation.md"
    notes.write_text(
        "## Adaptation\n\n"
        f"- Fine-tuned by `legajo adapt` on the verified lines of collection `{collection}`, "
        f"from `{base.name or base.source}`.\n"
        f"- Held back (never trained on): {held}.\n"
        f"- CER of `{base.name or base.source}` on the held-back lines (default decoding): "
        f"**{cer_before:.4f}**; this model's is the validation CER above.\n",
        encoding="utf-8",
    )
    return notes


def _line_id(line: VerifiedLine) -> LineId:
    return (line.source_path, line.frame, line.line.id)


def _checkpoint_minutes(settings: AdaptSettings) -> float:
    """Validate about `settings.validations` times, at most every two minutes.

    A few hundred lines are learnt in a few minutes and then overfitted: the best checkpoint
    often comes early, so the checks are frequent (each reads the held-back lines greedily,
    seconds on a CPU, outside the training budget).
    """
    if settings.minutes is None:
        return 10.0
    return min(2.0, max(0.25, settings.minutes / settings.validations))
