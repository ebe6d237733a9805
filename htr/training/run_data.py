"""The lines of one training run: ground truth, other line sources and synthetic lines, split.

`load_training_data` reads the PAGE/ALTO folders of a `TrainConfig` (validation folders too),
calls its `extra_lines` readers, splits everything by manuscript folder
(`htr.training.data.split_by_manuscript`), renders the synthetic lines from the training
transcriptions and repeats the lines of the folders to oversample (`oversample`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from htr.training.config import (
    LineSetUse,
    ProgressCallback,
    TrainConfig,
    TrainingError,
    TrainProgress,
)

if TYPE_CHECKING:
    from htr.training.data import LineSample

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """The lines a run trains and validates on.

    Attributes:
        train: Ground-truth lines to train on.
        val: Validation lines (whole manuscript folders, never trained on).
        synthetic: Rendered lines to train on.
        line_sets: How the lines of each `TrainConfig.extra_lines` reader were used.
    """

    train: list[LineSample]
    val: list[LineSample]
    synthetic: list[LineSample]
    line_sets: tuple[LineSetUse, ...]


def load_training_data(config: TrainConfig, report: ProgressCallback, height: int) -> TrainingData:
    """Reads, splits and renders the lines of a run, at one line height.

    Args:
        config: The run's settings (folders, line readers, synthetic count, seed, cache).
        report: Told what is being read.
        height: Height of the line arrays, in pixels.

    Returns:
        The training, validation and synthetic lines.

    Raises:
        TrainingError: A ground-truth or validation folder does not exist.
        LegajoError: Whatever the readers of `config.extra_lines` raise.
    """
    from htr.training.data import gt_lines, split_by_manuscript, synthetic_lines

    folders = [*config.gt, *(v for v in config.val if not _under_any(v, config.gt))]
    for folder in folders:
        if not Path(folder).is_dir():
            raise TrainingError(f"{folder}: not a folder")
    samples = gt_lines(
        folders,
        config.cache_dir,
        height=height,
        progress=lambda done, total: report(TrainProgress("data", message=f"page {done}/{total}")),
    )
    line_sets = []
    for read in config.extra_lines:
        report(TrainProgress("data", message="reading further ground-truth lines"))
        line_set = read(height)
        line_sets.append(line_set)
        samples.extend(line_set.lines)
    held_sets = []
    for read in config.held_out:
        report(TrainProgress("data", message="reading held-out lines"))
        held_sets.append(read(height))
    val_lines: list[LineSample]
    if held_sets and not config.val:
        train_lines, val_lines = samples, []
    else:
        train_lines, val_lines = split_by_manuscript(samples, config.val, seed=config.seed)
    held = {s.source for s in val_lines}
    for held_set in held_sets:
        val_lines.extend(held_set.lines)
        line_sets.append(held_set)
    uses = tuple(
        LineSetUse(
            line_set.description,
            train=sum(s.source not in held for s in line_set.lines),
            val=sum(s.source in held for s in line_set.lines),
        )
        for line_set in line_sets[: len(line_sets) - len(held_sets)]
    ) + tuple(LineSetUse(h.description, train=0, val=len(h.lines)) for h in held_sets)
    if not val_lines and train_lines and not config.val and not held_sets:
        logger.warning("only one manuscript folder: no validation lines")
    report(TrainProgress("data", message=f"rendering {config.synthetic} synthetic lines"))
    synthetic = synthetic_lines(
        config.synthetic,
        [s.text for s in train_lines],
        seed=config.seed,
        height=height,
        cache_dir=config.cache_dir,
    )
    if config.oversample:
        train_lines = oversample(train_lines, config.oversample)
    logger.info(
        "%d training lines from %d folders, %d validation lines from %d folders, %d synthetic",
        len(train_lines),
        len({s.source for s in train_lines}),
        len(val_lines),
        len({s.source for s in val_lines}),
        len(synthetic),
    )
    for use in uses:
        logger.info("%s: %d trained on, %d for validation", use.description, use.train, use.val)
    return TrainingData(train_lines, val_lines, synthetic, uses)


def oversample(
    samples: Sequence[LineSample], weights: Sequence[tuple[Path, int]]
) -> list[LineSample]:
    """Repeats the lines of some folders, so that training draws them more often.

    Args:
        samples: Training lines.
        weights: (folder, times) pairs: each line whose manuscript folder is under the folder
            appears that many times (the largest, when several folders hold it).

    Returns:
        The lines, each repeated as often as its folder says (once when none does).

    Raises:
        TrainingError: A folder holds none of the lines (a misspelt or validation folder).
    """
    roots = [(Path(folder).resolve(), times) for folder, times in weights]
    counts = dict.fromkeys(range(len(roots)), 0)
    result: list[LineSample] = []
    for sample in samples:
        source = Path(sample.source).resolve()
        times = 1
        for index, (root, weight) in enumerate(roots):
            if source.is_relative_to(root):
                counts[index] += 1
                times = max(times, weight)
        result.extend([sample] * times)
    for index, count in counts.items():
        if not count:
            folder = weights[index][0]
            raise TrainingError(f"{folder}: no training lines under it to oversample")
        logger.info("%d lines under %s drawn %d times", count, *weights[index])
    return result


def _under_any(path: Path, roots: Sequence[Path]) -> bool:
    return any(Path(path).resolve().is_relative_to(Path(r).resolve()) for r in roots)
