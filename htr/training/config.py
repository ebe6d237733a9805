"""The settings and records of a training run: what `htr.training.trainer.train` takes and reports.

Plain frozen dataclasses and constants, no heavy imports: the CLI builds a `TrainConfig` and
reads `TrainProgress` without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from htr.char_lm import DEFAULT_ORDER as DEFAULT_LM_ORDER
from htr.errors import LegajoError

if TYPE_CHECKING:
    from htr.training.data import LineSetReader
    from htr.training.sources import LocatedSource

DEFAULT_CACHE = Path.home() / ".cache" / "legajo" / "lines"
MAIN_ZONE = "MainZone"
FOREIGN_LINE_HEIGHT = 64
"""Height lines are cached at for checkpoints with another image processor (which resizes)."""


class TrainingError(LegajoError):
    """Training cannot start or go on (no data, a bad checkpoint, a bad setting)."""


@dataclass(frozen=True, slots=True)
class LineModelShape:
    """Size of a new line model (see `htr.line_model`).

    Attributes:
        image_height: Line height in pixels (the stem pools it to one row: 48 by default).
        hidden_size: Width of encoder and decoder.
        encoder_layers: Transformer layers after the convolutional stem.
        decoder_layers: TrOCR decoder layers.
        heads: Attention heads.
        max_length: Longest reading in tokens, start and end included.
        stem_channels: Output channels of the five convolution blocks of the stem.
    """

    image_height: int = 48
    hidden_size: int = 256
    encoder_layers: int = 2
    decoder_layers: int = 3
    heads: int = 4
    max_length: int = 384
    stem_channels: tuple[int, int, int, int, int] = (16, 32, 64, 96, 128)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
        out: Where the final checkpoint (with its model card) is written.
        gt: PAGE/ALTO ground-truth folders (page images with their XML files).
        val: Validation folders: lines under them (from `extra_lines` too) are never trained
            on. When empty, a tenth of the manuscript folders of all ground truth is held out.
        sources: The listed repositories `gt` and `val` were taken from, for the model card
            (`htr.training.sources`).
        extra_lines: Readers of further ground-truth lines (e.g. the corrections stored in
            the database, `indexer.transfer.training_lines`), called once with the line height.
        held_out: Readers of validation lines only, called like `extra_lines`. With them (or
            `val`), no manuscript folder is held out automatically.
        synthetic: Number of synthetic lines to render and mix in.
        base: Checkpoint to fine-tune; None trains a new line model from scratch.
        run_dir: Where checkpoints, trainer state and the log go; default ``<out>.run``.
        minutes: Wall-clock training budget; None for no time limit.
        steps: Step budget; None for no step limit (one of the two must be set).
        batch_size: Lines per step.
        lr: Peak learning rate (AdamW).
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay.
        ctc_weight: Weight of the CTC loss (0 to 1), when the encoder has a CTC head.
        curriculum: Share of the budget during which the widest allowed line grows from the
            30 % quantile of line widths to all lines.
        synthetic_share: Probability that a batch is synthetic at the start and at the end
            (linear in between).
        augment: Randomly degrade training lines (`htr.training.data.augment`).
        freeze_decoder: Train the encoder only (the decoder keeps the language it learnt:
            fine-tuning on a few hundred lines then adapts to the hand, not to their words).
        grow_vocabulary: When fine-tuning a character model, give the training characters it
            has no token for tokens of their own (`htr.training.vocabulary`) instead of
            reading them as ``<unk>``.
        oversample: (folder, times) pairs: training lines under the folder are drawn that
            many times as often as the others (e.g. the pages of the hand or language a model
            is fine-tuned for, kept among the rest so that it does not forget them).
        checkpoint_minutes: Save, validate and keep the best this often.
        patience: Stop early after this many validations in a row without a better CER
            (None: train to the end of the budget).
        val_lines: How many validation lines the periodic checks read (all at the end).
        lm_order: The n of the character language model (`htr.char_lm`) counted from the
            training transcriptions and published with the checkpoint; 0 publishes none.
        resume: Continue the run in `run_dir` from its trainer state.
        seed: Seed of data order, augmentation and initialisation.
        shape: Size of a new model (ignored when fine-tuning).
        cache_dir: Where cut lines are cached; None disables the cache.
        device: ``"auto"`` (CUDA with bf16 when present), ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch; None uses every available core, or
            ``OMP_NUM_THREADS`` when set (`htr.runtime.apply_torch_threads`).
        command: The command line, for the model card.
        card_notes: A Markdown file appended to the model card (e.g. the variants tried).
    """

    out: Path
    gt: tuple[Path, ...] = ()
    val: tuple[Path, ...] = ()
    sources: tuple[LocatedSource, ...] = ()
    extra_lines: tuple[LineSetReader, ...] = ()
    held_out: tuple[LineSetReader, ...] = ()
    synthetic: int = 0
    base: Path | None = None
    run_dir: Path | None = None
    minutes: float | None = None
    steps: int | None = None
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    ctc_weight: float = 0.5
    curriculum: float = 0.25
    synthetic_share: tuple[float, float] = (0.4, 0.1)
    augment: bool = True
    freeze_decoder: bool = False
    grow_vocabulary: bool = False
    oversample: tuple[tuple[Path, int], ...] = ()
    checkpoint_minutes: float = 10.0
    patience: int | None = None
    val_lines: int = 200
    lm_order: int = DEFAULT_LM_ORDER
    resume: bool = False
    seed: int = 0
    shape: LineModelShape = field(default_factory=LineModelShape)
    cache_dir: Path | None = DEFAULT_CACHE
    device: str = "auto"
    threads: int | None = None
    command: str = ""
    card_notes: Path | None = None

    def __post_init__(self) -> None:
        if self.minutes is None and self.steps is None:
            raise ValueError("set minutes or steps (or both)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], not {self.ctc_weight}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1, not {self.patience}")
        for folder, times in self.oversample:
            if times < 1:
                raise ValueError(f"{folder}: oversampling must be at least 1 time, not {times}")
        if self.lm_order < 0:
            raise ValueError(f"lm_order must be at least 0, not {self.lm_order}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")

    @property
    def run_path(self) -> Path:
        """The run directory."""
        return self.run_dir or self.out.with_name(self.out.name + ".run")


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """What `train` reports to its progress callback.

    Attributes:
        phase: ``"data"`` (reading lines), ``"train"``, ``"validate"`` or ``"done"``.
        step: Optimizer steps done.
        fraction: Share of the budget used (0 to 1).
        elapsed_s: Training seconds so far (over resumed runs).
        eta_s: Estimated seconds left.
        loss: Running mean of the training loss.
        ctc_loss: Running mean of the CTC loss (None without a CTC head).
        ce_loss: Running mean of the decoder's cross-entropy.
        val_cer: Latest validation CER (None before the first check).
        lines_per_s: Training throughput.
        message: What happens, in words.
    """

    phase: str
    step: int = 0
    fraction: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    loss: float | None = None
    ctc_loss: float | None = None
    ce_loss: float | None = None
    val_cer: float | None = None
    lines_per_s: float | None = None
    message: str = ""


ProgressCallback = Callable[[TrainProgress], None]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """CER of a model on validation lines (NFC text).

    Attributes:
        cer: Character error rate over all lines.
        cer_main: Over main-zone lines only (None without zone information).
        lines: Lines read.
        ctc_cer: CER of the CTC head's greedy reading, when there is one.
    """

    cer: float
    cer_main: float | None
    lines: int
    ctc_cer: float | None = None


@dataclass(frozen=True, slots=True)
class LineSetUse:
    """How the lines of one `htr.training.data.LineSet` were used (for the model card).

    Attributes:
        description: The set's own description.
        train: Its lines trained on.
        val: Its lines held out for validation (their manuscript folder is).
    """

    description: str
    train: int
    val: int
