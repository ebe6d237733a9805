"""Where a training run starts from and how it is saved to go on later.

`load_checkpoint` gives the model to fine-tune or to resume (None for a new model);
`TrainerState` is what a checkpoint needs besides the model to resume exactly (optimizer, step,
elapsed time, best CER, history, random states), saved as ``trainer_state/state.pt``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from htr.runtime import no_progress_bars
from htr.training.config import FOREIGN_LINE_HEIGHT, TrainConfig, TrainingError

logger = logging.getLogger(__name__)


def load_checkpoint(config: TrainConfig, run: Path) -> tuple[Any, Any] | None:
    """The run's last checkpoint (resume) or the base to fine-tune; None for a new model.

    Args:
        config: The run's settings (`resume`, `base`).
        run: The run directory.

    Returns:
        (VisionEncoderDecoderModel, processor), or None when a new model is to be made.

    Raises:
        TrainingError: Nothing to resume, or the checkpoint cannot be loaded or has no TrOCR
            processor.
    """
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    import htr.line_model  # noqa: F401  (registers the line encoder with the Auto classes)

    last = run / "checkpoints" / "last"
    if config.resume and not last.is_dir():
        raise TrainingError(f"{run}: nothing to resume (no checkpoints/last)")
    source = last if config.resume else config.base
    if source is None:
        return None
    try:
        with no_progress_bars():
            model = VisionEncoderDecoderModel.from_pretrained(source)
            processor = AutoProcessor.from_pretrained(source)
    except Exception as error:  # transformers raises many types; all mean "cannot load"
        raise TrainingError(f"cannot load checkpoint {source}: {error}") from error
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise TrainingError(f"{source}: no image processor and tokenizer (TrOCR processor)")
    return model, processor


def line_height(processor: Any) -> int:
    """Height of the cached line arrays for a processor: its own for line processors."""
    from htr.line_processor import LineImageProcessor

    image_processor = processor.image_processor
    if isinstance(image_processor, LineImageProcessor):
        return int(image_processor.height)
    return FOREIGN_LINE_HEIGHT


def checkpoint_line_height(source: str | Path) -> int:
    """The height lines are cut at to train or validate a checkpoint (see `line_height`).

    Raises:
        TrainingError: If the checkpoint's processor cannot be loaded.
    """
    from transformers import AutoProcessor

    import htr.line_model  # noqa: F401  (registers the line processor with the Auto classes)

    try:
        processor = AutoProcessor.from_pretrained(source)
    except Exception as error:  # transformers raises many types; all mean "cannot load"
        raise TrainingError(f"cannot load the processor of {source}: {error}") from error
    return line_height(processor)


def warn_unknown_characters(processor: Any, texts: Sequence[str]) -> None:
    """Logs the characters of `texts` that a checkpoint's tokenizer reads as ``<unk>``."""
    unknown = {c for t in texts for c in t} - set(processor.tokenizer.get_vocab())
    if unknown:
        logger.warning(
            "%d training characters are not in the checkpoint's vocabulary and read as <unk>: %s",
            len(unknown),
            "".join(sorted(unknown))[:80],
        )


@dataclass(frozen=True, slots=True)
class TrainerState:
    """What resuming a run needs besides the model.

    Attributes:
        step: Optimizer steps done.
        elapsed: Training seconds so far.
        best_cer: Lowest validation CER so far (None before the first check).
        history: One record per check.
        optimizer: The optimizer's state dict.
        rng: The numpy, Python and torch random states.
    """

    step: int
    elapsed: float
    best_cer: float | None
    history: list[dict[str, Any]]
    optimizer: dict[str, Any]
    rng: dict[str, Any]

    @staticmethod
    def load(folder: Path) -> TrainerState:
        """Reads the state saved in `folder` (raises `TrainingError` when there is none)."""
        import torch

        path = folder / "state.pt"
        if not path.is_file():
            raise TrainingError(f"{folder}: no trainer state to resume from")
        data = torch.load(path, map_location="cpu", weights_only=False)
        return TrainerState(**data)

    def save(self, folder: Path) -> None:
        """Writes the state to ``folder/state.pt`` (through a temporary file)."""
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "state.pt.tmp"
        torch.save(
            {
                "step": self.step,
                "elapsed": self.elapsed,
                "best_cer": self.best_cer,
                "history": self.history,
                "optimizer": self.optimizer,
                "rng": self.rng,
            },
            temporary,
        )
        temporary.replace(folder / "state.pt")
